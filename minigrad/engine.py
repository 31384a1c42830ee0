"""Reverse mode: walk the recorded graph from the outputs back to the inputs, applying each node's backward.

Every node is numbered when it is made (`minigrad.state.NODES`), and a node that uses a Tensor is made after
the node that made it. So the walk needs no counting pass over the graph: it keeps the nodes a gradient has
reached in a heap and always runs the one made last, whose consumers have therefore all run and delivered
its gradients. Iterative, no recursion: a chain of 100,000 ops is fine.
1. deliver the seed to the output's node;
2. run the last-made node waiting; deliver what its backward returns to each input, summed back to the
   input's shape (`sum_to`) and added to what that input already got; the input's node now waits too.
Gradients wait in a dict and are popped when used, so memory is released as the walk proceeds.
"""

from __future__ import annotations

import heapq
import threading

import numpy as np

from minigrad import errors, fastpaths, gradients, translate
from minigrad.saved import Freed
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


class Walk:
    """One backward pass over arrays; `minigrad.walks` extends it with checks and for `mg.grad`.

    Gradients wait in ``grads`` (at a node's output; key: the node, or (node, i) if it has several) and
    ``leaves`` (at a leaf Tensor); ``owned`` holds the keys whose buffer the walk allocated itself (safe to
    add into in place); ``freed`` is what the nodes the walk frees hold instead of their saved values.
    """

    def __init__(self, create_graph: bool, retain_graph: bool):
        self.create_graph, self.retain_graph = create_graph, retain_graph
        self.grads, self.leaves, self.owned, self.freed = {}, {}, set(), Freed()

    def run(self, roots, seeds) -> None:
        """Deliver each seed to its root, then run every node a gradient reached, the last made first."""
        for r, s in zip(roots, seeds):
            self.deliver(r, s)
        due = {r._ctx._number: r._ctx for r in roots if r._ctx is not None}  # the nodes waiting, by number
        numbers = sorted(-n for n in due)  # a heap (a sorted list is one): the last made on top
        prev, STATE.grad_enabled = STATE.grad_enabled, self.create_graph  # a normal backward records nothing
        try:
            while numbers:
                node = due.pop(-heapq.heappop(numbers))
                gouts = self.grads.pop(node) if node._nout == 1 else self.gather(node)
                gins = self.apply_node(node, gouts)  # None from mg.grad's walk where it goes no further
                for k, (inp, need) in enumerate(zip(node.inputs, node.needs_input_grad)):
                    if need and gins is not None and gins[k] is not None:
                        self.deliver(inp, gins[k], node, k)
                        if inp._ctx is not None and inp._ctx._number not in due:
                            due[inp._ctx._number] = inp._ctx
                            heapq.heappush(numbers, -inp._ctx._number)
        except Exception as e:  # the nodes run have freed their values: a retry must say why
            self.freed.failure = str(e) or type(e).__name__
            raise
        finally:
            STATE.grad_enabled = prev

    def deliver(self, t: Tensor, g, node=None, k: int = 0) -> None:
        """Add ``g``, the gradient ``node`` returned for its input ``k``, to what ``t`` already got."""
        a, p = t._data, t._ctx
        if node is not None and (type(g) is not np.ndarray or g.shape != a.shape or g.dtype is not a.dtype):
            g = self.check(node, k, t, g)  # not yet an array of t's shape and dtype
        store, key = (self.leaves, t) if p is None else (self.grads, p if p._nout == 1 else (p, t._index))
        if key in store:
            fastpaths.add_into(store, key, g, self.owned)
        else:
            store[key] = g

    def apply_node(self, node, gouts) -> tuple:
        """Run ``node``'s backward on the gradients of its outputs; one gradient (or None) per input."""
        if node._retain:
            self.capture(node, gouts)
        try:
            gins = type(node).backward(node, *gouts) if node._nout > 1 else type(node).backward(node, gouts)
        except Exception as e:
            raise translate.backward_error(node, e, self.create_graph) from e
        if not self.retain_graph and node._saved is not None:
            node._saved = self.freed
        one_each = type(gins) is tuple and len(gins) == len(node.inputs)
        return gins if one_each else gradients.per_input(node, gins)

    def gather(self, node) -> tuple:
        """The gradients of a node with several outputs (zeros for those none arrived at)."""
        gs = [self.grads.pop((node, i), None) for i in range(node._nout)]
        for i, (shape, dtype) in enumerate(node._out_meta):
            if gs[i] is None:
                z = np.zeros(shape, dtype)
                gs[i] = const(z) if self.create_graph else z
        return tuple(gs)

    def capture(self, node, gouts) -> None:
        """Hand the gradients arriving at the node's outputs to the Tensors asking to retain_grad."""
        gouts = gouts if node._nout > 1 else (gouts,)
        for i, t in ((i, ref()) for i, ref in node._retain.items()):
            if t is not None:
                t.grad = gouts[i] if self.create_graph else const(np.array(gouts[i]))

    def check(self, node, k: int, inp: Tensor, g):
        """Bring one returned gradient to its input's shape and dtype."""
        if isinstance(g, Tensor):
            g = g._data
        else:
            g = translate.real_array(g, inp._data.dtype, f"{node.where}.backward returned", f" for input {k}")
        if g.shape != inp._data.shape:
            g = sum_to(g, inp._data.shape, node, k)
        return g if g.dtype == inp._data.dtype else g.astype(inp._data.dtype)

    def accumulate(self) -> None:
        """Add the gradients found for the leaves into their ``.grad``, each a new array of its own."""
        with GRAD_LOCK:
            for leaf, g in self.leaves.items():
                if leaf.requires_grad:
                    total = np.array(g) if leaf.grad is None else leaf.grad._data + g
                    leaf.grad = const(np.asarray(total))  # an array even when 0-d


# One lock for every leaf's `.grad`: backward calls in several threads that share a parameter must not
# interleave the read, the add and the write of `.grad` (updates would be lost).
GRAD_LOCK = threading.Lock()


def backward(t: Tensor, grad=None, retain_graph: bool = False, create_graph: bool = False) -> None:
    """Accumulate d(t)/d(leaf), times ``grad``, into every leaf's ``.grad``. See `Tensor.backward`."""
    kind = walks.CheckedWalk if create_graph or STATE.anomaly else Walk
    walk = kind(create_graph, retain_graph or create_graph)
    walk.run([t], [gradients.seed(t, grad, create_graph, "backward")])
    walk.accumulate()


from minigrad import walks  # noqa: E402 (the walks with checks extend Walk)

grad = walks.grad  # importable here since v1
