"""Activations and losses composed from the primitive ops (``import minigrad.functional as F``).

Nothing here has its own backward: every function is a few primitive ops recorded in a named scope
(``softmax``, ``log_softmax``, ``cross_entropy``, ...), so a drawing shows each one as a labelled cluster
and the gradients come from the primitives' rules.

Numerical stability comes from one identity: for any constant m,

    log(sum(exp(x))) = m + log(sum(exp(x - m))).

With m = max(x), every exponent is <= 0 and the sum is >= 1, so nothing overflows and the log never sees
0, for logits as large as 1e4 (or -1e4) in float32 and float64. m is taken from the array's values, a
constant of the graph: because the identity holds for *every* m, differentiating with m held fixed gives
the exact gradient, and one op fewer in the drawing.
"""

from __future__ import annotations

import numpy as np

from minigrad import errors
from minigrad.ops import exp, log
from minigrad.state import STATE, scope
from minigrad.tensor import Tensor, const

__all__ = ["binary_cross_entropy_with_logits", "cross_entropy", "log_softmax", "mse_loss", "softmax"]

_REDUCTIONS = ("mean", "sum", "none")


def _where(fn: str) -> str:
    """``cross_entropy`` or ``cross_entropy in lstm/t3``: the prefix of this module's error messages."""
    return errors.where(fn, STATE.scope)


def _as_tensor(x, fn: str, min_ndim: int = 0) -> Tensor:
    if not isinstance(x, Tensor):
        a = np.asarray(x)
        if a.dtype.kind in "iub":
            a = a.astype(STATE.default_dtype)
        elif a.dtype.kind != "f":
            raise errors.OpTypeError(f"{_where(fn)}: expected real numbers, got data of dtype {a.dtype}")
        x = const(a)
    if x.ndim < min_ndim:
        raise errors.ShapeError(f"{_where(fn)}: needs at least one axis, got a 0-d tensor")
    return x


def _check_reduction(reduction: str, fn: str) -> None:
    if reduction not in _REDUCTIONS:
        raise errors.OpError(f"{_where(fn)}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _shift(x: Tensor, axis: int) -> Tensor:
    """x - max(x, axis) with the max as a constant: every entry <= 0, the largest along ``axis`` is 0."""
    return x - const(np.max(x.data, axis=axis, keepdims=True))


def softmax(x, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis``; same shape and dtype as ``x``, entries in [0, 1] summing to 1.

    Accepts a Tensor or an array; returns a Tensor.
    """
    x = _as_tensor(x, "softmax", min_ndim=1)
    with scope("softmax"):
        e = exp(_shift(x, axis))
        return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis: int = -1) -> Tensor:
    """x - log(sum(exp(x))) along ``axis``, computed without overflow; same shape and dtype as ``x``.

    Use it (or `cross_entropy`) rather than ``log(softmax(x))``, which is -inf where softmax underflows.
    """
    x = _as_tensor(x, "log_softmax", min_ndim=1)
    with scope("log_softmax"):
        z = _shift(x, axis)
        return z - log(exp(z).sum(axis=axis, keepdims=True))


def _index_array(ids, fn: str, what: str) -> np.ndarray:
    """Integer indices as an ``np.intp`` array. Floats are accepted when every value is a whole number,
    because ``mg.tensor([2, 0, 1])`` stores its integers as floats."""
    a = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
    if a.dtype.kind in "iu":
        return a.astype(np.intp, copy=False)
    if a.dtype.kind == "f":
        bad = ~np.isfinite(a) | (a != np.round(a))
        if not bad.any():
            return a.astype(np.intp)
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        raise errors.OpTypeError(
            f"{_where(fn)}: {what} must be integer indices, got {a[pos].item()} at position {pos}"
        )
    raise errors.OpTypeError(f"{_where(fn)}: {what} must be integer indices, got dtype {a.dtype}")


def _check_range(ids: np.ndarray, n: int, fn: str, what: str, of: str, exempt=None) -> None:
    """Raise naming the first index outside [0, n); entries where ``exempt`` is True are not checked."""
    bad = (ids < 0) | (ids >= n)
    if exempt is not None:
        bad &= ~exempt
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        raise errors.OpIndexError(
            f"{_where(fn)}: {what} {int(ids[pos])} at position {pos} is out of range for {of} "
            f"(valid: 0..{n - 1}); {int(bad.sum())} out of range in all"
        )


def cross_entropy(logits, targets, reduction: str = "mean", ignore_index: int | None = None) -> Tensor:
    """Negative log-likelihood of integer class ``targets`` under ``softmax(logits)``.

    Args:
        logits: shape (..., C), the classes on the LAST axis: (N, C) for a batch, (N, T, C) for a batch of
            sequences. (PyTorch puts the classes on axis 1 for more than two axes; here it is always -1.)
        targets: integer class indices of shape (...), the shape of ``logits`` without its last axis;
            an int array, or floats holding whole numbers.
        reduction: "mean" (over the counted targets), "sum", or "none" (a loss per target, shape (...)).
        ignore_index: a target value that contributes neither loss nor gradient (padding). With "mean"
            the average is over the other targets; if every target is ignored the loss is 0 (PyTorch
            returns NaN there, which would spread into the parameters at the next step).
    Returns:
        a Tensor of ``logits``' dtype: 0-d for "mean" and "sum", shape (...) for "none".

    The gradient with respect to the logits is (softmax(logits) - onehot(targets)) / N for "mean".
    """
    fn = "cross_entropy"
    _check_reduction(reduction, fn)
    logits = _as_tensor(logits, fn, min_ndim=1)
    t = _index_array(targets, fn, "targets")
    if t.shape != logits.shape[:-1]:
        raise errors.ShapeError(
            f"{_where(fn)}: targets have shape {t.shape} but logits have shape {logits.shape}; "
            f"expected targets of shape {logits.shape[:-1]} (one class index per row of logits, "
            "the classes on the last axis)"
        )
    if t.size == 0 and reduction == "mean":
        raise errors.OpError(
            f"{_where(fn)}: the mean loss of an empty batch (targets of shape {t.shape}) is undefined; "
            "check the batch, or use reduction='sum'"
        )
    keep = None if ignore_index is None else t != ignore_index
    n = logits.shape[-1]
    _check_range(t, n, fn, "target", f"{n} classes", None if keep is None else ~keep)
    if keep is not None:
        t = np.where(keep, t, 0)  # any valid class: these entries are multiplied by 0 below
    with scope(fn):
        lp = log_softmax(logits, axis=-1)
        # One gather: lp[i, j, ..., t[i, j, ...]] for every position, shape t.shape.
        loss = -lp[(*np.indices(t.shape, sparse=True), t)]
        if keep is not None:
            loss = loss * keep.astype(logits.dtype)
        if reduction == "none":
            return loss
        total = loss.sum()
        if reduction == "sum":
            return total
        count = t.size if keep is None else int(keep.sum())
        return total * (1.0 / max(count, 1))


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _check_same_shape(pred: Tensor, target, fn: str):
    """``target`` as a Tensor of ``pred``'s shape; arrays take ``pred``'s dtype so float32 stays float32."""
    if not isinstance(target, Tensor):
        target = const(np.asarray(target, dtype=pred.dtype))
    if target.shape != pred.shape:
        raise errors.ShapeError(
            f"{_where(fn)}: input has shape {pred.shape} but target has shape {target.shape}; they must "
            "be equal (no broadcasting, which would silently average over the wrong pairs)"
        )
    return target


def mse_loss(pred, target, reduction: str = "mean") -> Tensor:
    """(pred - target)**2, averaged ("mean"), summed ("sum") or per element ("none").

    ``pred`` and ``target`` must have the same shape. Returns a Tensor of ``pred``'s dtype.
    """
    fn = "mse_loss"
    _check_reduction(reduction, fn)
    pred = _as_tensor(pred, fn)
    target = _check_same_shape(pred, target, fn)
    with scope(fn):
        d = pred - target
        return _reduce(d * d, reduction)


def binary_cross_entropy_with_logits(logits, targets, reduction: str = "mean") -> Tensor:
    """-[t log(sigmoid(x)) + (1 - t) log(1 - sigmoid(x))] for logits x and targets t in [0, 1].

    Computed as log(1 + exp(x)) - t x, the first term with the same max trick as `log_softmax` (it is a
    log-sum-exp over {0, x}), so it is finite for |x| up to 1e4 and its gradient sigmoid(x) - t is exact.
    ``targets`` has the shape of ``logits`` (soft labels allowed). Returns a Tensor of ``logits``' dtype.
    """
    fn = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, fn)
    x = _as_tensor(logits, fn)
    t = _check_same_shape(x, targets, fn)
    if t.size and (np.min(t.data) < 0 or np.max(t.data) > 1):
        raise errors.OpError(
            f"{_where(fn)}: targets must lie in [0, 1], got values from {np.min(t.data)} "
            f"to {np.max(t.data)}"
        )
    with scope(fn):
        m = np.maximum(x.data, 0)
        # log(1 + exp(x)) = m + log(exp(-m) + exp(x - m)), both exponents <= 0
        softplus = log(exp(x - const(m)) + const(np.exp(-m))) + const(m)
        return _reduce(softplus - x * t, reduction)
