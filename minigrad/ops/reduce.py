"""Reductions: sum and max (mean is sum times a constant, in ops/__init__.py)."""

import numpy as np

from minigrad.function import Function
from minigrad.ops.shape import BroadcastTo


def _kept_shape(shape, axis):
    """The shape a reduction over ``axis`` has with keepdims=True; IndexError for an axis out of range
    (NumPy lets axis 0 and -1 through on a 0-d array; minigrad does not, as for mean)."""
    if axis is None:
        return (1,) * len(shape)
    axes = axis if isinstance(axis, tuple) else (axis,)
    kept = list(shape)
    for a in axes:
        if not -len(shape) <= a < len(shape):
            raise IndexError(f"axis {a} is out of bounds for array of dimension {len(shape)}")
        kept[a % len(shape)] = 1
    return tuple(kept)


class Sum(Function):
    """y = x.sum(axis, keepdims);  dx = g broadcast back over the summed axes"""

    op = "sum"

    @staticmethod
    def forward(ctx, x, axis, keepdims):
        ctx.shape = x.shape
        ctx.kept = (1,) * x.ndim if axis is None else _kept_shape(x.shape, axis)
        return np.asarray(x.sum(axis=axis, keepdims=keepdims))  # NumPy's sum over every axis: a scalar

    @staticmethod
    def backward(ctx, g):
        return BroadcastTo.apply(g.reshape(ctx.kept), ctx.shape), None, None


class Max(Function):
    """y = x.max(axis, keepdims);  dx = g at the maximum, 0 elsewhere.

    Ties share the gradient equally: if k entries equal the maximum, each gets g / k (the average of the
    one-sided derivatives, and the choice that keeps max(x, x) symmetric). gradcheck warns at ties.
    """

    op = "max"
    _saves_constants = True  # the weights are constant where max is differentiable

    @staticmethod
    def forward(ctx, x, axis, keepdims):
        _kept_shape(x.shape, axis)  # the axes' check
        y = x.max(axis=axis, keepdims=True)
        mask = (x == y).astype(x.dtype)
        weights = mask / mask.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(weights)
        ctx.kept = y.shape
        if keepdims:
            return y
        return y.reshape(()) if axis is None else np.squeeze(y, axis=axis)

    @staticmethod
    def backward(ctx, g):
        (weights,) = ctx.saved_tensors
        return g.reshape(ctx.kept) * weights, None, None
