"""Reverse mode: walk the recorded graph from the outputs back to the inputs, applying each node's backward.

The walk is Kahn's algorithm, iterative (no recursion, so a chain of 100,000 ops is fine):
1. count, for every node reachable from the outputs, how many of its consumers the walk will visit;
2. start from the outputs' nodes; run a node's backward once every consumer has delivered its gradient;
   each gradient is summed back to its input's shape (`sum_to`) and added to what that input already got.
Gradients wait in a dict and are popped when used, so memory is released as the walk proceeds.
"""

from __future__ import annotations

import threading

import numpy as np

from minigrad import errors
from minigrad.function import _ERRORS, Freed, _check_finite, describe_inputs
from minigrad.state import STATE
from minigrad.tensor import Tensor, const


def sum_to(g, shape: tuple, node=None, k: int = 0):
    """Undo broadcasting: sum ``g`` down to ``shape`` (leading axes away, then size-1 axes with keepdims).

    The one place in minigrad where broadcasting is undone; works on arrays and on Tensors alike.
    """
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    if lead >= 0 and all(n == 1 or n == m for n, m in zip(shape, gshape[lead:])):
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1
        )
        if axes:
            # np.add.reduce is what ndarray.sum calls, minus a Python-level wrapper (a Tensor has .sum)
            reduce = np.add.reduce if type(g) is np.ndarray else type(g).sum
            g = reduce(g, axis=axes, keepdims=True)
        return g.reshape(shape) if lead else g
    who = f"{node.where}.backward" if node is not None else "backward"
    raise errors.ShapeError(
        f"{who} returned a gradient of shape {gshape} for input {k} of shape {shape}; "
        "a gradient must have its input's shape (or one that broadcasts to it)"
    )


class _Walk:
    """One backward pass. Kept as an object so the bookkeeping has names, not to be reused."""

    def __init__(self, create_graph: bool, retain_graph: bool, targets=None):
        self.create_graph = create_graph
        self.retain_graph = retain_graph
        self.grads: dict = {}  # node (or (node, i) for multi-output nodes) -> gradient of that output
        self.leaves: dict = {}  # leaf Tensor -> gradient
        self.owned: set = set()  # keys whose gradient buffer this walk allocated (safe to add into)
        self.targets = targets  # for mg.grad: {(node or tensor, index): position}
        self.found: dict = {}
        self.freed = Freed()  # what the nodes this walk frees hold instead of their saved values

    def deliver(self, t: Tensor, g) -> None:
        """Add ``g`` to the gradient waiting for ``t``: at the node that made it, or at the leaf."""
        node = t._ctx
        if node is None:
            store, key = self.leaves, t
        else:
            store, key = self.grads, (node if node._nout == 1 else (node, t._index))
        old = store.get(key)
        if old is None:
            store[key] = g
        elif self.create_graph:
            store[key] = old + g
        elif key in self.owned:
            old += g
        else:
            # asarray: the sum of two 0-d arrays is a NumPy scalar, which `old += g` above would rebind
            # instead of updating, losing every gradient after the second
            store[key] = np.asarray(old + g)
            self.owned.add(key)

    def run(self, roots, seeds) -> None:
        try:
            self._walk(roots, seeds)
        except Exception as e:
            # nodes already run have freed what they saved: a retry must say why, not "a second time"
            self.freed.failure = str(e) or type(e).__name__
            raise

    def _walk(self, roots, seeds) -> None:
        deps: dict = {}
        stack = []
        for r in roots:
            n = r._ctx
            if n is not None and n not in deps:
                deps[n] = 0
                stack.append(n)
        starts = list(stack)
        while stack:
            node = stack.pop()
            for inp, need in zip(node.inputs, node.needs_input_grad):
                if need:
                    child = inp._ctx
                    if child is not None:
                        if child in deps:
                            deps[child] += 1
                        else:
                            deps[child] = 1
                            stack.append(child)
        # mg.grad visits only the nodes that lead to one of its inputs, and runs the backward only of
        # those below which an input lies: the graph under its inputs is neither computed nor freed, so
        # it can still be backpropagated through later (as in PyTorch).
        visit, expand = self._leading_to_targets(starts, deps) if self.targets else (None, None)
        for r, s in zip(roots, seeds):
            self.deliver(r, s)
        ready = [n for n in reversed(starts) if deps[n] == 0 and (visit is None or n in visit)]
        grads = self.grads
        # Arrays in, no checks to run: a gradient that already has its input's type, shape and dtype
        # (almost every one) skips `check` below, which would return it unchanged.
        plain = not self.create_graph and not STATE.anomaly
        while ready:
            node = ready.pop()
            if node._nout == 1:
                g = grads.pop(node, None)
                gouts = None if g is None else (g,)
            else:
                gouts = self._gather(node)
            if expand is not None and node not in expand:
                if gouts is not None:
                    self.capture(node, gouts)  # it made an input of mg.grad; nothing below is needed
                continue
            gins = None if gouts is None else self.apply_node(node, gouts)
            for k, (inp, need) in enumerate(zip(node.inputs, node.needs_input_grad)):
                if not need:
                    continue
                if gins is not None and (g := gins[k]) is not None:
                    a = inp._data
                    if not (plain and type(g) is np.ndarray and g.shape == a.shape and g.dtype is a.dtype):
                        g = self.check(node, k, inp, g)
                    self.deliver(inp, g)
                child = inp._ctx
                if child is not None:
                    left = deps[child] - 1
                    deps[child] = left
                    if left == 0 and (visit is None or child in visit):
                        ready.append(child)

    def _leading_to_targets(self, starts, deps: dict) -> tuple[set, set]:
        """For mg.grad: the nodes that made a target or lie above one (``visit``), and among them those
        whose backward leads to a target (``expand``)."""
        # Kahn's order on a copy of the counts: every node comes after all of its consumers.
        pending, order = dict(deps), []
        ready = [n for n in starts if pending[n] == 0]
        while ready:
            node = ready.pop()
            order.append(node)
            for inp, need in zip(node.inputs, node.needs_input_grad):
                if need and inp._ctx is not None:
                    pending[inp._ctx] -= 1
                    if pending[inp._ctx] == 0:
                        ready.append(inp._ctx)
        targets, visit, expand = self.targets, set(), set()
        for node in reversed(order):  # a node's producers are decided before the node itself
            if any(
                need and ((inp, 0) in targets if inp._ctx is None else inp._ctx in visit)
                for inp, need in zip(node.inputs, node.needs_input_grad)
            ):
                expand.add(node)
                visit.add(node)
            elif any((node, i) in targets for i in range(node._nout)):
                visit.add(node)
        return visit, expand

    def _gather(self, node):
        gs = [self.grads.pop((node, i), None) for i in range(node._nout)]
        if all(g is None for g in gs):
            return None
        for i, (shape, dtype) in enumerate(node._out_meta):
            if gs[i] is None:
                z = np.zeros(shape, dtype)
                gs[i] = const(z) if self.create_graph else z
        return tuple(gs)

    def capture(self, node, gouts) -> None:
        """Hand the gradients arriving at the node's outputs to retain_grad and to mg.grad's inputs."""
        if node._retain or self.targets:
            for i, g in enumerate(gouts):
                if node._retain and i in node._retain:
                    t = node._retain[i]()
                    if t is not None:
                        t.grad = g if self.create_graph else const(np.array(g))
                if self.targets and (node, i) in self.targets:
                    self.found[(node, i)] = g

    def apply_node(self, node, gouts):
        if node._retain or self.targets:
            self.capture(node, gouts)
        if STATE.anomaly:
            for g in gouts:
                _check_finite(np.asarray(g), node, "the gradient arriving at its output", node.inputs)
        if self.create_graph:
            node._graph_mode = True
            prev = STATE.scope
            STATE.scope = f"{node.scope}/backward" if node.scope else "backward"
            try:
                gins = type(node).backward(node, *gouts)
            except errors.MinigradError:
                raise
            except TypeError as e:
                raise errors.OpTypeError(
                    f"{node.where}.backward failed with create_graph=True ({e}); with create_graph its "
                    "formulas receive Tensors, so they must use minigrad ops (operators, Tensor methods, "
                    "mg.exp/mg.log/..., other Functions' apply) rather than NumPy functions"
                ) from e
            except _NUMPY_ERRORS as e:
                raise _backward_error(node, e) from e
            finally:
                node._graph_mode = False
                STATE.scope = prev
        else:
            try:
                gins = type(node).backward(node, *gouts)
            except errors.MinigradError:
                raise
            except _NUMPY_ERRORS as e:
                raise _backward_error(node, e) from e
        if not self.retain_graph and node._saved is not None:
            node._saved = self.freed
        if type(gins) is not tuple:
            gins = tuple(gins) if isinstance(gins, list) else (gins,)
        if len(gins) != len(node.inputs):
            raise errors.OpError(
                f"{node.where}.backward returned {len(gins)} gradient(s) but forward took "
                f"{len(node.inputs)} input(s); return one per input (None for non-Tensor inputs)"
            )
        return gins

    def check(self, node, k: int, inp: Tensor, g):
        """Bring one returned gradient to its input's shape and dtype."""
        if isinstance(g, Tensor):
            if not self.create_graph:
                g = g._data
        else:
            g = _real_array(g, inp._data.dtype, f"{node.where}.backward returned", f" for input {k}")
            if self.create_graph:
                g = const(g)
        if g.shape != inp._data.shape:
            g = sum_to(g, inp._data.shape, node, k)
        if not self.create_graph and g.dtype != inp._data.dtype:
            g = g.astype(inp._data.dtype)
        if STATE.anomaly:
            _check_finite(np.asarray(g), node, f"the gradient it returned for input {k}", node.inputs)
        return g


# What NumPy raises (shapes, types, indices, floating-point trouble). Anything else raised in a backward,
# such as an exercise's NotImplementedError, passes through unchanged.
_NUMPY_ERRORS = (ValueError, TypeError, IndexError, ArithmeticError)


def _backward_error(node, e: Exception) -> Exception:
    """An error NumPy raised inside a backward formula (a shape mismatch in a user's Function, a
    FloatingPointError under ``np.seterr(all="raise")``), re-raised as a minigrad error naming the op."""
    cls = next(new for old, new in _ERRORS if isinstance(e, old))
    msg = str(e).strip() or type(e).__name__
    return cls(f"{node.where}.backward: {msg} (inputs: {describe_inputs(node.inputs)})")


def _real_array(g, dtype, lead: str, tail: str = "") -> np.ndarray:
    """``g`` as an array of ``dtype``, or OpTypeError if it is not real numbers (strings, complex
    numbers, objects such as a generator)."""
    a = g if isinstance(g, np.ndarray) else np.asarray(g)
    if a.dtype.kind not in "fiub":
        kind = type(g).__name__ + ("" if a.dtype.kind == "O" else f" of dtype {a.dtype}")
        raise errors.OpTypeError(
            f"{lead} {kind}{tail}; a gradient is an array of real numbers, a Tensor, a number "
            "or None"
        )
    return a.astype(dtype, copy=False)


def _seed(t: Tensor, grad, create_graph: bool, who: str):
    if grad is None:
        if t.size != 1:
            raise errors.GraphError(
                f"{who}: grad can be created implicitly only for a one-element output, but this "
                f"tensor has shape {t.shape}; pass grad= of that shape (or reduce the output first, "
                "e.g. with .sum())"
            )
        g = np.ones_like(t._data)
    else:
        g = grad._data if isinstance(grad, Tensor) and not create_graph else grad
        if not isinstance(g, Tensor):
            g = _real_array(g, t._data.dtype, f"{who}: grad is")
        if g.shape != t.shape:
            raise errors.ShapeError(
                f"{who}: grad has shape {g.shape} but the output it is for has shape {t.shape}"
            )
    if create_graph and not isinstance(g, Tensor):
        g = const(g)
    return g


def _with_mode(create_graph: bool, fn):
    prev = STATE.grad_enabled
    STATE.grad_enabled = create_graph  # a normal backward records nothing
    try:
        return fn()
    finally:
        STATE.grad_enabled = prev


def backward(t: Tensor, grad=None, retain_graph: bool = False, create_graph: bool = False) -> None:
    """Accumulate d(t)/d(leaf), times ``grad``, into every leaf's ``.grad``. See `Tensor.backward`."""
    if not isinstance(t, Tensor):
        raise errors.OpTypeError(f"backward: expected a Tensor, got {type(t).__name__}")
    if not t.requires_grad:
        raise errors.GraphError(
            "backward: this tensor does not require grad: none of the tensors it was computed from "
            "has requires_grad=True (or it was computed under mg.no_grad())"
        )
    seed = _seed(t, grad, create_graph, "backward")
    walk = _Walk(create_graph, retain_graph or create_graph)
    _with_mode(create_graph, lambda: walk.run([t], [seed]))
    _accumulate(walk, create_graph)


# One lock for every leaf's `.grad`: backward calls in several threads that share a parameter must not
# interleave the read, the add and the write of `.grad` (updates would be lost).
_GRAD_LOCK = threading.Lock()


def _accumulate(walk: _Walk, create_graph: bool) -> None:
    """Add the gradients a walk found for the leaves into their ``.grad``."""
    with _GRAD_LOCK:
        for leaf, g in walk.leaves.items():
            if not leaf.requires_grad:
                continue
            if create_graph:
                leaf.grad = g if leaf.grad is None else leaf.grad + g
            elif leaf.grad is None:
                leaf.grad = const(g if leaf in walk.owned else np.array(g))
            else:
                leaf.grad = const(np.asarray(leaf.grad._data + g))  # an array even when 0-d


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (``.grad`` is left untouched).

    Args:
        outputs: a Tensor or a sequence of Tensors.
        inputs: a Tensor or a sequence of Tensors that the outputs were computed from.
        grad_outputs: the vector in the vector-Jacobian product, one per output (None = ones for a
            one-element output).
        retain_graph: keep saved values for another backward; defaults to ``create_graph``.
        create_graph: record the backward pass itself, so the returned gradients can be differentiated
            again (Hessian-vector products, grad of grad) and drawn.
        allow_unused: return None for an input the outputs do not depend on instead of raising.
    Returns:
        a tuple of Tensors (or None), one per input.
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise errors.OpError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for k, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise errors.GraphError(f"grad: input {k} is not a Tensor that requires grad")
    roots, seeds = [], []
    for k, (o, go) in enumerate(zip(outputs, grad_outputs)):
        if not o.requires_grad:
            raise errors.GraphError(
                f"grad: output {k} does not require grad (it does not depend on any tensor that "
                "requires grad)"
            )
        roots.append(o)
        seeds.append(_seed(o, go, create_graph, "grad"))
    keys = [(t._ctx, t._index) if t._ctx is not None else (t, 0) for t in inputs]
    retain = create_graph if retain_graph is None else retain_graph
    walk = _Walk(create_graph, retain, targets={key: k for k, key in enumerate(keys)})
    _with_mode(create_graph, lambda: walk.run(roots, seeds))
    results = []
    for k, (t, key) in enumerate(zip(inputs, keys)):
        g = walk.leaves.get(t) if t._ctx is None else walk.found.get(key)
        if g is None and not allow_unused:
            raise errors.GraphError(
                f"grad: input {k} (shape {t.shape}{', ' + repr(t.name) if t.name else ''}) is not "
                "part of the graph of the outputs (they were not computed from it); pass "
                "allow_unused=True to get None for it"
            )
        if g is not None and not isinstance(g, Tensor):
            g = const(np.array(g) if t._ctx is None and t not in walk.owned else g)
        results.append(g)
    return tuple(results)
