"""The pieces a drawing is planned with: the recorded graph indexed for drawing, scope patterns, and a
`Picture`, the plain data `minigrad.viz.planner` makes: numbered items (ops, tensors, folded scopes), each
placed in a cluster (a scope path, as a tuple of its components), and the edges between them. Nothing here
knows DOT; `minigrad.viz.dot` writes a Picture out. Every walk is a loop over lists, never recursion.

Scope patterns (``scope=`` and ``collapse=``) are matched component by component: ``/`` separates
components, ``*``, ``?`` and ``[...]`` match within one component and ``**`` matches any number of them.
A pattern matches a scope path when it matches the whole path or a ``/``-aligned suffix of it, so
``forget_gate``, ``t3/forget_gate``, ``*/forget_gate`` and ``lstm/l0/t3/forget_gate`` all match
``lstm/l0/t3/forget_gate``; a pattern starting with ``/`` must match from the outermost scope. An op is
inside a scope when the scope's path is its own scope path or a prefix of it (sub-scopes included).
"""

from __future__ import annotations

import fnmatch
import heapq
import re
from collections.abc import Callable
from dataclasses import dataclass

from minigrad.graph import forward_order
from minigrad.nn.parameter import Parameter
from minigrad.tensor import Tensor
from minigrad.viz.errors import DrawingError, DrawingTypeError


def parts_of(scope: str | None) -> tuple[str, ...]:
    """A scope path as a tuple of components ('' is the top level, ())."""
    return tuple(scope.split("/")) if scope else ()


class Graph:
    """The recorded graph behind some root Tensors, indexed for drawing.

    ``ops`` holds the nodes (`Function` instances), each after the ops that made its inputs; ``tensors``
    every Tensor met, each once. For tensor i, ``producer[i]`` is the index of the op that made it (None
    for a leaf) and ``users[i]`` the ops that read it, in op order. For op j, ``args[j]`` are the tensor
    indices of its Tensor arguments in argument order and ``outputs[j]`` its outputs that the walk met.
    """

    def __init__(self, roots) -> None:
        ops: list = []
        op_index: dict = {}
        tensors: list[Tensor] = []
        tensor_index: dict = {}
        producer: list[int | None] = []
        args: list[tuple[int, ...]] = []

        def tid(t: Tensor) -> int:
            k = tensor_index.get(t)
            if k is None:
                k = tensor_index[t] = len(tensors)
                tensors.append(t)
                producer.append(op_index.get(t._ctx) if t._ctx is not None else None)
            return k

        for node in forward_order(roots):  # each op after the ops that made its inputs
            op_index[node] = len(ops)
            ops.append(node)
            args.append(tuple(tid(a) for a in node.inputs if isinstance(a, Tensor)))
        self.roots: list[int] = []
        for r in roots:
            k = tid(r)
            if k not in self.roots:
                self.roots.append(k)
        self.ops, self.op_index, self.args = ops, op_index, args
        self.tensors, self.tensor_index, self.producer = tensors, tensor_index, producer
        self.users: list[list[int]] = [[] for _ in tensors]
        self.outputs: list[list[int]] = [[] for _ in ops]
        for j, a in enumerate(args):
            for i in a:
                u = self.users[i]
                if not u or u[-1] != j:
                    u.append(j)
        for i, p in enumerate(producer):
            if p is not None:
                self.outputs[p].append(i)
        for outs in self.outputs:
            outs.sort(key=lambda i: tensors[i]._index)


# -- scope patterns ---


class ScopePattern:
    """One pattern of ``scope=`` or ``collapse=``; see the module docstring for the rule."""

    def __init__(self, text: str, who: str) -> None:
        if not isinstance(text, str) or not text.strip("/"):
            raise DrawingError(f"{who}: a scope pattern must be a non-empty string, got {text!r}")
        self.text = text
        parts = text.strip("/").split("/")
        # An unanchored pattern may start at any component: a leading ** says exactly that.
        self.parts = parts if text.startswith("/") else ["**", *parts]

    def matches(self, path: tuple[str, ...]) -> bool:
        """Does the pattern match the whole of ``path`` (a tuple of components)?"""
        m = len(path)
        reach = [True] + [False] * m  # reach[k]: the pattern so far can consume exactly path[:k]
        for p in self.parts:
            if p == "**":
                seen = False
                for k in range(m + 1):
                    seen = seen or reach[k]
                    reach[k] = seen
            else:
                reach = [False] + [reach[k] and fnmatch.fnmatchcase(path[k], p) for k in range(m)]
        return reach[m]


def patterns(spec, who: str, arg: str) -> list[ScopePattern]:
    items = [spec] if isinstance(spec, str) else spec
    if not isinstance(items, (list, tuple)) or not items:
        raise DrawingTypeError(f"{who}: {arg}= must be a pattern string or a list of them, got {spec!r}")
    return [ScopePattern(p, f"{who}({arg}=...)") for p in items]


def scope_list(paths) -> str:
    names = sorted({"/".join(p) for p in paths if p})
    shown = ", ".join(names[:12])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 12 else "") if names else "(none)"


# -- the picture ---


class Item:
    """One node of the picture.

    kind: "op", "collapsed" (a folded scope), or a tensor kind: "parameter", "input", "constant",
    "intermediate", "boundary" (made outside the drawn part and entering it), "output".
    cluster: the scope components of the innermost cluster holding it, () for the top level.
    tensor: tensor items: the tensor. node: op items: the Function node. output: op items: their one
    output, when it has no box of its own. ref: a reference to a tensor drawn elsewhere, or a leaf drawn
    in several clusters. note: one more line, e.g. "from lstm/l0/t2" (collapsed: the folded scope's
    path). ops, reads: collapsed: how many ops it folds, and the weight-like tensors they read.
    """

    __slots__ = ("kind", "cluster", "tensor", "node", "output", "ref", "note", "ops", "reads")

    def __init__(self, kind: str, cluster: tuple, tensor=None, node=None, output=None, ref=False, note=""):
        self.kind, self.cluster, self.tensor, self.node, self.output = kind, cluster, tensor, node, output
        self.ref, self.note = ref, note
        self.ops = 0
        self.reads: list = []


class Edge:
    """An arrow from item ``src`` to item ``dst`` carrying ``tensors``.

    kind: "data"; "recurrent" (a rolled view's loop from one step to the next, over ``steps`` steps);
    "grad" (the combined backward view's reverse arrow). notes: e.g. "from t0".
    """

    __slots__ = ("src", "dst", "kind", "tensors", "notes", "steps")

    def __init__(self, src: int, dst: int, kind: str, tensors: list, steps: int = 0) -> None:
        self.src, self.dst, self.kind, self.tensors, self.steps = src, dst, kind, tensors, steps
        self.notes: list = []


@dataclass(eq=False)
class Picture:
    """A drawing as plain data: what `minigrad.viz.dot` turns into DOT text."""

    items: list[Item]
    edges: list[Edge]
    cluster_notes: dict  # cluster path -> extra label text (the rolled step)
    steps: set  # the cluster paths that are time steps
    roots: list[Tensor]
    name_of: Callable


def name_resolver(names) -> Callable:
    """``names``: None, a {Tensor: name} dict or a Module (its dotted parameter names)."""
    if names is None:
        return lambda t: t.name
    if hasattr(names, "named_parameters"):
        names = {p: n for n, p in names.named_parameters()}
    if not isinstance(names, dict):
        raise DrawingTypeError(
            f"names= must be a dict {{tensor: name}} or a Module, got {type(names).__name__}"
        )
    return lambda t: names.get(t) or t.name


def leaf_kind(t: Tensor, name: str | None, only_backward: bool) -> str:
    """parameter: an nn.Parameter. constant: an unnamed leaf that does not require grad and is either a
    single number (like the 1 lifted in ``1 - f``) or read only by a backward pass (``only_backward``:
    its seed, values it saved). input: any other leaf (requiring grad, or data)."""
    if isinstance(t, Parameter):
        return "parameter"
    if t.requires_grad or name or (t.size > 1 and not only_backward):
        return "input"
    return "constant"


def step_keys(g: Graph, ops: list[int], depth: int) -> dict:
    """A key per op of one time step, equal for the ops that play the same part in every step: the
    scope below the step, the op and its non-Tensor arguments, and how many such ops came before."""
    seen: dict = {}
    keys = {}
    for j in ops:
        node = g.ops[j]
        rest = parts_of(node.scope)[depth + 1 :]
        params = tuple(repr(a)[:40] for a in node.inputs if not isinstance(a, Tensor))
        base = (rest, node.op, params)
        n = seen[base] = seen.get(base, -1) + 1
        keys[j] = (*base, n)
    return keys


# Sibling scopes are drawn in this order, top to bottom (others after them, in graph order): the gates as
# textbooks list them.
ORDER = (
    "input_gate", "forget_gate", "cell_candidate", "output_gate", "reset_gate", "update_gate", "candidate",
    "cell_state", "hidden_state",
)  # fmt: skip


def reading_order(g: Graph, parts: list) -> list[int]:
    """The ops in the order items are numbered: each after the ops that made its inputs and, among those
    ready, the one whose scope comes first in ORDER (then graph order); so the gates of a step are
    numbered in the order textbooks list them, and steps in time order."""

    def rank(j: int) -> tuple:
        return tuple(ORDER.index(c) if c in ORDER else len(ORDER) for c in parts[j]), j

    waiting = [0] * len(g.ops)
    for j, a in enumerate(g.args):
        waiting[j] = len({g.producer[i] for i in a if g.producer[i] is not None})
    ready = [rank(j) for j in range(len(g.ops)) if waiting[j] == 0]
    heapq.heapify(ready)
    out = []
    while ready:
        _, j = heapq.heappop(ready)
        out.append(j)
        for u in {u for i in g.outputs[j] for u in g.users[i]}:
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, rank(u))
    return out


def step_names(name_of: Callable, last: int) -> Callable:
    """Names as a rolled view shows them: ``x_4``, ``h_3``, ``x_4 W_f + b_f`` become ``x_t``, ``h_{t-1}``,
    ``x_t W_f + b_f`` when step 4 is the step drawn (the names the LSTM layer gives its inputs and states)."""

    def name(t: Tensor) -> str | None:
        n = name_of(t)
        m = re.fullmatch(r"(.*?)_(\d+)((?: .*)?)", n or "")
        if m is None or int(m.group(2)) not in (last, last - 1):
            return n
        step = "t" if int(m.group(2)) == last else "{t-1}"
        return f"{m.group(1)}_{step}{m.group(3)}"

    return name


def weight_scopes(g: Graph, parts: list, visible: list, weightlike: list) -> set[tuple]:
    """The outermost scopes whose drawn ops all compute weights (their outputs are weight-like) for
    ops that compute something else: the scopes that cut a layer's weights into blocks."""

    def data_op(j: int) -> bool:
        return visible[j] and not all(weightlike[i] for i in g.outputs[j])

    mixed = set()  # scopes holding a data op
    for j, p in enumerate(parts):
        if data_op(j):
            mixed.update(p[:d] for d in range(len(p) + 1))
    return {
        next(p[:d] for d in range(1, len(p) + 1) if p[:d] not in mixed)
        for j, p in enumerate(parts)
        if visible[j] and p and p not in mixed and any(data_op(u) for i in g.outputs[j] for u in g.users[i])
    }
