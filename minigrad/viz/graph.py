"""What a drawing shows, as plain data: walk the graph, pick a scope, roll time steps, fold scopes.

`plan` turns roots and options into a `Picture`: numbered items (ops, tensors, folded scopes), each placed
in a cluster (a scope path, as a tuple of its components), and the edges between them. Nothing here knows
DOT; `minigrad.viz.dot` writes a Picture out. Every walk is a loop over lists, never recursion.

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

from minigrad.nn.parameter import Parameter
from minigrad.tensor import Tensor
from minigrad.viz.errors import DrawingError, DrawingTypeError, GraphTooLargeError
from minigrad.viz.options import Options


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

        # Depth-first post-order with an explicit stack: a node is pushed, opened (its producers pushed
        # above it, first argument on top so it is numbered first), and numbered when it is on top again.
        opened: set = set()
        for root in roots:
            start = root._ctx
            if start is None or start in op_index:
                continue
            stack = [start]
            while stack:
                node = stack[-1]
                if node in op_index:
                    stack.pop()
                elif node in opened:
                    stack.pop()
                    op_index[node] = len(ops)
                    ops.append(node)
                    args.append(tuple(tid(a) for a in node.inputs if isinstance(a, Tensor)))
                else:
                    opened.add(node)
                    for a in reversed(node.inputs):
                        if isinstance(a, Tensor):
                            n = a._ctx
                            if n is not None and n not in op_index and n not in opened:
                                stack.append(n)
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


def _patterns(spec, who: str, arg: str) -> list[ScopePattern]:
    items = [spec] if isinstance(spec, str) else spec
    if not isinstance(items, (list, tuple)) or not items:
        raise DrawingTypeError(f"{who}: {arg}= must be a pattern string or a list of them, got {spec!r}")
    return [ScopePattern(p, f"{who}({arg}=...)") for p in items]


def _scope_list(paths) -> str:
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


def _step_keys(g: Graph, ops: list[int], depth: int) -> dict:
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


def _step_names(name_of: Callable, last: int) -> Callable:
    """Names as a rolled view shows them: ``x_4``, ``h_3`` become ``x_t``, ``h_{t-1}`` when step 4 is the
    step drawn (the names the LSTM layer gives its inputs and states)."""

    def name(t: Tensor) -> str | None:
        n = name_of(t)
        m = re.fullmatch(r"(.*)_(\d+)", n or "")
        if m is None or int(m.group(2)) not in (last, last - 1):
            return n
        return f"{m.group(1)}_t" if int(m.group(2)) == last else f"{m.group(1)}_{{t-1}}"

    return name


def _weight_scopes(g: Graph, parts: list, visible: list, weightlike: list) -> set[tuple]:
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


def plan(roots, opts: Options, who: str = "to_dot") -> Picture:
    """Decide what to draw: the items and edges of the picture of the graph behind ``roots``.

    See `Options` for the options. Raises GraphTooLargeError when the picture has more than
    ``max_nodes`` nodes (None: no limit); the count is made before any label is written.
    """
    scope, collapse, rolled, names = opts.scope, opts.collapse, opts.rolled, opts.names
    copy_shared, show_values, max_nodes = opts.copy_shared, opts.show_values, opts.max_nodes
    intermediates = {True: "all", False: "none"}.get(opts.intermediates, opts.intermediates)
    step_re = re.compile(opts.step)
    name_of = name_resolver(names)
    g = Graph(roots)
    n_ops, n_t = len(g.ops), len(g.tensors)
    scope_memo: dict = {}
    parts = [scope_memo.setdefault(node.scope, parts_of(node.scope)) for node in g.ops]

    # 1. Which ops are drawn: those inside `scope`, then (rolled) one step of each recurrence.
    selected = [True] * n_ops
    if scope is not None:
        pats = _patterns(scope, who, "scope")
        memo: dict = {}

        def inside(p: tuple) -> bool:
            hit = memo.get(p)
            if hit is None:
                hit = memo[p] = any(pt.matches(p[:d]) for d in range(1, len(p) + 1) for pt in pats)
            return hit

        selected = [inside(p) for p in parts]
        if not any(selected):
            raise DrawingError(
                f"{who}: scope={scope!r} matches no scope of the graph; its scopes are: {_scope_list(parts)}"
            )
    visible = list(selected)
    rep: list[int | None] = [None] * n_ops  # rolled: the drawn op standing for a hidden one
    step_of: list = [None] * n_ops  # (prefix, k, depth of the step) for ops in a time step
    n_steps: dict = {}  # prefix -> number of steps
    cluster_notes: dict = {}
    groups: dict = {}  # prefix -> {k: the drawn ops of step k}
    for j in range(n_ops):
        if not visible[j]:
            continue
        for d, comp in enumerate(parts[j]):
            m = step_re.fullmatch(comp)
            if m:
                k = int(m.group(1))
                groups.setdefault(parts[j][:d], {}).setdefault(k, []).append(j)
                step_of[j] = (parts[j][:d], k, d)
                break
    if rolled:
        if not any(len(by_k) > 1 for by_k in groups.values()):
            drawn = _scope_list(p for p, v in zip(parts, visible) if v)
            raise DrawingError(
                f"{who}: rolled=True needs scopes with time steps (a component t0, t1, ... matching step="
                f"{opts.step!r}) of which there "
                f"are at least two; the drawn scopes are: {drawn}"
            )
        for prefix, by_k in groups.items():
            ks = sorted(by_k)
            last = ks[-1]
            n_steps[prefix] = len(ks)
            depth = len(prefix)
            index = {key: j for j, key in _step_keys(g, by_k[last], depth).items()}
            for k in ks[:-1]:
                for j, key in _step_keys(g, by_k[k], depth).items():
                    visible[j] = False
                    rep[j] = index.get(key)
            if len(ks) > 1:
                j = by_k[last][0]
                first = parts[by_k[ks[0]][0]][depth]
                cluster_notes[parts[j][: depth + 1]] = (
                    f"one step drawn for {len(ks)} ({first}..{parts[j][depth]})"
                )
        name_of = _step_names(name_of, max(max(by_k) for by_k in groups.values()))
        # Ops outside the steps that only fed hidden steps (the other steps' inputs) go too.
        root_makers = {g.producer[i] for i in g.roots}
        for j in range(n_ops - 1, -1, -1):
            if visible[j] and step_of[j] is None and j not in root_makers:
                visible[j] = any(visible[u] for i in g.outputs[j] for u in g.users[i])

    # 2. Per tensor: kind, whether it is weight-like (a parameter or computed from parameters and
    # constants alone, like the LSTM's per-gate weight blocks).
    kinds: list[str] = [""] * n_t
    weightlike = [False] * n_t
    for i, t in enumerate(g.tensors):
        if g.producer[i] is None:
            only_backward = bool(g.users[i]) and all("backward" in parts[u] for u in g.users[i])
            kinds[i] = leaf_kind(t, name_of(t), only_backward)
            weightlike[i] = kinds[i] in ("parameter", "constant")
        else:
            kinds[i] = "intermediate"
    for j in range(n_ops):
        if all(weightlike[i] for i in g.args[j]):
            for i in g.outputs[j]:
                weightlike[i] = True

    # 3. Which scopes fold into one box: those collapse= names and, unless collapse=False, each scope
    # that only cuts weights for the rest of the graph.
    box_key: list = [None] * n_ops
    weight_scopes = set() if collapse is False else _weight_scopes(g, parts, visible, weightlike)
    test, cpats = None, []
    if callable(collapse):
        test = collapse
    elif collapse not in (None, False) and not (isinstance(collapse, (list, tuple)) and not collapse):
        cpats = _patterns(collapse, who, "collapse")
    folds: dict = {}  # scope path -> the outermost folded scope holding it, or None
    used = set()
    for j in range(n_ops):
        if not visible[j]:
            continue
        p = parts[j]
        if p not in folds:
            folds[p] = None
            for d in range(1, len(p) + 1):
                pre = p[:d]
                if test is not None:
                    hit = bool(test("/".join(pre)))
                else:
                    k = next((k for k, pt in enumerate(cpats) if pt.matches(pre)), None)
                    hit = k is not None
                    used.add(k)
                if hit or pre in weight_scopes:
                    folds[p] = pre
                    break
        box_key[j] = folds[p]
    unused = [pt.text for k, pt in enumerate(cpats) if k not in used]
    if unused:
        raise DrawingError(
            f"{who}: collapse pattern {unused[0]!r} matches no drawn scope; the drawn scopes are: "
            f"{_scope_list(p for p, v in zip(parts, visible) if v)}"
        )

    is_root = [False] * n_t
    for i in g.roots:
        is_root[i] = True

    def cluster_of(j: int) -> tuple:
        return parts[j] if box_key[j] is None else box_key[j][:-1]

    # the item an op is drawn as: itself, or the box of the scope it is folded into
    target = [("op", j) if box_key[j] is None else ("box", box_key[j]) for j in range(n_ops)]

    def folds_into_box(i: int, j: int) -> bool:
        return box_key[j] is not None and weightlike[i]

    # Which clusters read each tensor (for references; a dict used as an ordered set) and which tensors
    # leave the selected scope.
    reader_clusters: list[dict] = [{} for _ in range(n_t)]
    leaves_scope = [False] * n_t
    for j in range(n_ops):
        if not visible[j]:
            for i in g.args[j]:
                p = g.producer[i]
                if scope is not None and not selected[j] and p is not None and visible[p]:
                    leaves_scope[i] = True
            continue
        cl = cluster_of(j)
        for i in g.args[j]:
            p = g.producer[i]
            if folds_into_box(i, j) or (p is not None and visible[p] and target[p] == target[j]):
                continue
            reader_clusters[i][cl] = None

    def wants_box(i: int) -> bool:
        p = g.producer[i]
        if p is None or not visible[p]:
            return False
        if is_root[i] or leaves_scope[i]:
            return True
        if box_key[p] is not None:
            return False
        if intermediates != "auto":
            return intermediates == "all"
        return show_values or bool(name_of(g.tensors[i]))

    has_box = [wants_box(i) for i in range(n_t)]

    # 4. Build items and edges, creating each item the first time something needs it.
    items: list[Item] = []
    made: dict = {}
    edges: dict = {}

    def new(key, item: Item) -> int:
        made[key] = len(items)
        items.append(item)
        return made[key]

    def add_edge(src: int, dst: int, kind: str, t: Tensor, note: str = "", steps: int = 0) -> None:
        e = edges.get((src, dst, kind))
        if e is None:
            e = edges[(src, dst, kind)] = Edge(src, dst, kind, [t], steps)
        elif not any(x is t for x in e.tensors):
            e.tensors.append(t)
        if note and note not in e.notes:
            e.notes.append(note)

    def op_item(j: int) -> int:
        key = target[j]
        k = made.get(key)
        if k is not None:
            return k
        if key[0] == "op":
            outs = g.outputs[j]
            single = g.tensors[outs[0]] if len(outs) == 1 and not has_box[outs[0]] else None
            return new(key, Item("op", parts[j], node=g.ops[j], output=single))
        return new(key, Item("collapsed", box_key[j][:-1], note="/".join(box_key[j])))

    def box(i: int) -> int:
        """The box of a tensor made by a drawn op (root, leaving the scope, or shown)."""
        k = made.get(("box", i))
        if k is not None:
            return k
        p = g.producer[i]
        src = op_item(p)
        t = g.tensors[i]
        if is_root[i] or leaves_scope[i]:
            note = ""
            if leaves_scope[i] and not is_root[i]:
                outside = next(u for u in g.users[i] if not selected[u])
                note = "to " + (g.ops[outside].scope or "the top level")
            k = new(("box", i), Item("output", (), tensor=t, note=note))
        else:
            k = new(("box", i), Item(kinds[i], cluster_of(p), tensor=t))
        add_edge(src, k, "data", t)
        return k

    def source(i: int, j: int) -> tuple[int | None, str, str]:
        """The item an edge into op j starts from to bring tensor i, the edge's kind and a note."""
        t = g.tensors[i]
        cl = cluster_of(j)
        p = g.producer[i]
        many = len(reader_clusters[i]) > 1
        if is_root[i] and (p is None or visible[p]):
            return (box(i) if p is not None else leaf_item(i, ()), "data", "")
        if p is None:
            if not many:
                return leaf_item(i, cl), "data", ""
            if copy_shared and weightlike[i]:
                return leaf_item(i, cl, ref=True), "data", ""
            return leaf_item(i, common_cluster(i)), "data", ""
        if visible[p]:
            own = cluster_of(p)
            if copy_shared and weightlike[i] and cl != own:
                key = ("ref", i, cl)
                k = made.get(key)
                if k is None:
                    note = f"from {g.ops[p].scope.rsplit('/', 1)[-1]}" if g.ops[p].scope else ""
                    k = new(key, Item(kinds[i], cl, tensor=t, ref=True, note=note))
                return k, "data", ""
            src = box(i) if has_box[i] else op_item(p)
            sp, sj = step_of[p], step_of[j]
            if sp and sj and sp[0] == sj[0] and sp[1] != sj[1] and box_key[j] is None and box_key[p] is None:
                return entering(i, j, src, "step", Item(kinds[i], (), tensor=t, ref=True)), "data", ""
            return src, "data", ""
        # made by a hidden op: a rolled view's other step, or outside the selected scope
        r = rep[p]
        if r is not None:
            twin = next((o for o in g.outputs[r] if g.tensors[o]._index == t._index), None)
            src = box(twin) if twin is not None and has_box[twin] else op_item(r)
            sp, sj = step_of[p], step_of[j]
            if sj is not None and sp[0] == sj[0] and sp[1] < sj[1]:
                # an earlier step of the same recurrence: a red arrow loops back to it
                return entering(i, j, src, "recurrent", Item("boundary", (), tensor=t)), "data", ""
            return src, "data", f"from t{sp[1]}"
        shared = copy_shared and weightlike[i] and many
        key = ("boundary", i, cl if shared else common_cluster(i))
        k = made.get(key)
        if k is None:
            sp = step_of[p]
            where = f"t{sp[1]}" if rolled and sp is not None else g.ops[p].scope or "the top level"
            note = f"from {where}"
            k = new(key, Item("boundary", key[2], tensor=t, ref=shared, note=note))
        return k, "data", ""

    def entering(i: int, j: int, src: int, kind: str, item: Item) -> int:
        """A value made in another time step (h_{t-1}, c_{t-1}), drawn once in the step of op j, on its
        left, with an arrow of ``kind`` from ``src``, where it was made, that does not pull the steps
        into one row (so that steps stack, each with what enters it)."""
        item.cluster = parts[j][: step_of[j][2] + 1]
        key = ("entering", i, item.cluster)
        k = made.get(key)
        if k is None:
            k = new(key, item)
            add_edge(src, k, kind, g.tensors[i], steps=n_steps.get(step_of[j][0], 0))
        return k

    common: dict = {}

    def common_cluster(i: int) -> tuple:
        """The innermost cluster holding every cluster that reads tensor i."""
        c = common.get(i)
        if c is None:
            it = iter(reader_clusters[i])
            c = next(it)
            for other in it:
                n = 0
                while n < min(len(c), len(other)) and c[n] == other[n]:
                    n += 1
                c = c[:n]
            common[i] = c
        return c

    def leaf_item(i: int, cl: tuple, ref: bool = False) -> int:
        key = ("leaf", i, cl)
        k = made.get(key)
        if k is None:
            t = g.tensors[i]
            k = new(key, Item("output" if is_root[i] else kinds[i], cl, tensor=t, ref=ref))
        return k

    for j in reading_order(g, parts):
        if not visible[j]:
            continue
        # Sources first, so that inputs are numbered before the op that reads them.
        srcs = []
        for i in g.args[j]:
            p = g.producer[i]
            if p is not None and visible[p] and target[p] == target[j]:
                continue  # both inside one folded box
            srcs.append((i, None, "", "") if folds_into_box(i, j) else (i, *source(i, j)))
        dst = op_item(j)
        if box_key[j] is not None:
            items[dst].ops += 1
        for i, src, kind, note in srcs:
            t = g.tensors[i]
            if src is None:
                if not any(x is t for x in items[dst].reads):
                    items[dst].reads.append(t)
            else:
                steps = n_steps[step_of[j][0]] if kind == "recurrent" else 0
                add_edge(src, dst, kind, t, note, steps)
        for i in g.outputs[j]:
            if has_box[i]:
                box(i)
    for i in g.roots:  # the roots nothing drawn reads (a leaf root only if the view is not a part)
        p = g.producer[i]
        if p is not None and visible[p]:
            box(i)
        elif p is None and (scope is None or reader_clusters[i]):
            leaf_item(i, ())

    if max_nodes is not None and len(items) > max_nodes:
        hint = (
            "rolled=True (draw one time step), "
            if not rolled and any(step_re.fullmatch(c) for p in set(parts) for c in p)
            else ""
        )
        raise GraphTooLargeError(
            f"{who}: the picture would have {len(items)} nodes, more than max_nodes={max_nodes}; draw part "
            f"of it with scope='...', fold scopes with collapse=[...], {hint}or raise max_nodes (Graphviz "
            "can take minutes to lay out thousands of nodes)"
        )
    out = list(edges.values())
    if opts.show_backward:
        for e in list(out):
            ts = [t for t in e.tensors if t.requires_grad]
            if ts:
                out.append(Edge(e.dst, e.src, "grad", ts))
    steps = {parts[j][: step_of[j][2] + 1] for j in range(n_ops) if visible[j] and step_of[j] is not None}
    return Picture(items, out, cluster_notes, steps, [g.tensors[i] for i in g.roots], name_of)
