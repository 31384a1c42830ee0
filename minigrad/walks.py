"""The backward walks beyond the plain one of `minigrad.engine.Walk`.

- `CheckedWalk`, under ``create_graph=True`` or ``mg.detect_anomaly()``: every gradient goes through
  `Walk.check`, which under create_graph keeps Tensors (the backward is recorded, in the node's scope
  followed by ``/backward``) and under anomaly mode checks each gradient for NaN and inf;
- `GradWalk`, for `grad`: visits only the nodes that lead to one of its inputs and hands the gradients
  arriving there back instead of adding them into ``.grad``.
"""

from __future__ import annotations

import numpy as np

from minigrad import anomaly, engine, errors, gradients, graph
from minigrad.engine import Walk, sum_to
from minigrad.state import STATE
from minigrad.tensor import Tensor, const
from minigrad.translate import real_array


class CheckedWalk(Walk):
    """A walk that checks every gradient, for create_graph (Tensors in, recorded) and anomaly mode."""

    def deliver(self, t: Tensor, g, node=None, k: int = 0) -> None:
        if node is not None:
            g = self.check(node, k, t, g)
        if not self.create_graph:
            return super().deliver(t, g)
        p = t._ctx
        store, key = (self.leaves, t) if p is None else (self.grads, p if p._nout == 1 else (p, t._index))
        store[key] = g if key not in store else store[key] + g

    def apply_node(self, node, gouts) -> tuple:
        if STATE.anomaly:
            for g in gouts if node._nout > 1 else (gouts,):
                anomaly.check_finite(g, node, "the gradient arriving at its output", node.inputs)
        if not self.create_graph:
            return super().apply_node(node, gouts)
        node._graph_mode = True
        prev = STATE.scope
        STATE.scope = f"{node.scope}/backward" if node.scope else "backward"
        try:
            return super().apply_node(node, gouts)
        finally:
            node._graph_mode = False
            STATE.scope = prev

    def check(self, node, k: int, inp: Tensor, g):
        if not self.create_graph:
            g = super().check(node, k, inp, g)
        else:
            if not isinstance(g, Tensor):
                lead = f"{node.where}.backward returned"
                g = const(real_array(g, inp._data.dtype, lead, f" for input {k}"))
            if g.shape != inp._data.shape:
                g = sum_to(g, inp._data.shape, node, k)
        if STATE.anomaly:
            anomaly.check_finite(g, node, f"the gradient it returned for input {k}", node.inputs)
        return g

    def accumulate(self) -> None:
        if not self.create_graph:
            return super().accumulate()
        with engine.GRAD_LOCK:
            for leaf, g in self.leaves.items():
                if leaf.requires_grad:
                    leaf.grad = g if leaf.grad is None else leaf.grad + g


class GradWalk(CheckedWalk):
    """The walk of `grad`: ``targets`` maps (node, output index), or (leaf, 0), to the input's position."""

    def __init__(self, create_graph: bool, retain_graph: bool, targets: dict):
        super().__init__(create_graph, retain_graph)
        self.targets = targets
        self.found: dict = {}  # target key -> the gradient that arrived there

    def run(self, roots, seeds) -> None:
        # Only the nodes that lead to one of the inputs are visited, and only those below which an input
        # lies run their backward: the graph under the inputs is neither computed nor freed, so it can
        # still be backpropagated through later (as in PyTorch).
        self.visit, self.expand = self._leading_to_targets(roots)
        super().run(roots, seeds)

    def apply_node(self, node, gouts):
        if node not in self.visit:
            return None
        for i, g in enumerate(gouts if node._nout > 1 else (gouts,)):
            if (node, i) in self.targets:
                self.found[(node, i)] = g
        if node in self.expand:
            return super().apply_node(node, gouts)
        if node._retain:  # it made an input of mg.grad; nothing below is needed
            self.capture(node, gouts)
        return None

    def _leading_to_targets(self, roots) -> tuple[set, set]:
        """The nodes that made a target or lie above one (``visit``), and among them those whose backward
        leads to a target (``expand``)."""
        visit, expand = set(), set()
        for node in graph.forward_order(roots):  # a node's producers are decided before the node itself
            if any(
                need and ((inp, 0) in self.targets if inp._ctx is None else inp._ctx in visit)
                for inp, need in zip(node.inputs, node.needs_input_grad)
            ):
                expand.add(node)
                visit.add(node)
            elif any((node, i) in self.targets for i in range(node._nout)):
                visit.add(node)
        return visit, expand


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
        seeds.append(gradients.seed(o, go, create_graph, "grad"))
    keys = [(t._ctx, t._index) if t._ctx is not None else (t, 0) for t in inputs]
    retain = create_graph if retain_graph is None else retain_graph
    walk = GradWalk(create_graph, retain, {key: k for k, key in enumerate(keys)})
    walk.run(roots, seeds)
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
