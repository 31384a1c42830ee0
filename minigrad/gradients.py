"""The engine's checks where gradients enter and leave it.

- `seed`: the gradient a backward starts from (``grad=``, or 1 for a one-element output), checked;
- `per_input`: what a backward formula returned, as one gradient per input, or an error saying why not.
"""

from __future__ import annotations

import numpy as np

from minigrad import errors
from minigrad.tensor import Tensor, const
from minigrad.translate import real_array


def seed(t: Tensor, grad, create_graph: bool, who: str):
    """The gradient of ``t`` a backward (``who``) starts from: ``grad``, checked against ``t``, or ones."""
    if not isinstance(t, Tensor) or not t.requires_grad or (grad is None and t._data.size != 1):
        raise _seed_error(t, who)
    g = np.ones_like(t._data) if grad is None else _given(t, grad, create_graph, who)
    return const(g) if create_graph and not isinstance(g, Tensor) else g


def _seed_error(t, who: str) -> errors.MinigradError:
    if not isinstance(t, Tensor):
        return errors.OpTypeError(f"{who}: expected a Tensor, got {type(t).__name__}")
    if not t.requires_grad:
        return errors.GraphError(
            f"{who}: this tensor does not require grad: none of the tensors it was computed from "
            "has requires_grad=True (or it was computed under mg.no_grad())"
        )
    return errors.GraphError(
        f"{who}: grad can be created implicitly only for a one-element output, but this "
        f"tensor has shape {t.shape}; pass grad= of that shape (or reduce the output first, "
        "e.g. with .sum())"
    )


def _given(t: Tensor, grad, create_graph: bool, who: str):
    """``grad=`` as the seed of ``t``: an array of t's dtype (a Tensor under create_graph) of t's shape."""
    g = grad._data if isinstance(grad, Tensor) and not create_graph else grad
    if not isinstance(g, Tensor):
        g = real_array(g, t._data.dtype, f"{who}: grad is")
    if g.shape != t.shape:
        raise errors.ShapeError(
            f"{who}: grad has shape {g.shape} but the output it is for has shape {t.shape}"
        )
    return g


def per_input(node, gins) -> tuple:
    """What ``node``'s backward returned, as a tuple of one gradient per input."""
    if type(gins) is not tuple:
        gins = tuple(gins) if isinstance(gins, list) else (gins,)
    if len(gins) != len(node.inputs):
        raise errors.OpError(
            f"{node.where}.backward returned {len(gins)} gradient(s) but forward took "
            f"{len(node.inputs)} input(s); return one per input (None for non-Tensor inputs)"
        )
    return gins

