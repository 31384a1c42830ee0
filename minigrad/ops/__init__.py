"""The primitive ops, and the few user-facing functions composed from them.

Each primitive is a `Function` subclass in one of: `arithmetic` (+ - * / ** neg), `elementwise` (exp, log,
tanh, sigmoid, relu), `reduce` (sum, max), `matmul`, `shape` (reshape, transpose, broadcast_to, getitem,
concat, split). The functions below accept Tensors (and record) or plain arrays (and just compute).
"""

from __future__ import annotations

import numpy as np

from minigrad import errors
from minigrad.ops.arithmetic import Add, Div, Mul, Neg, Pow, Sub
from minigrad.ops.elementwise import Exp, Log, Relu, Sigmoid, Tanh
from minigrad.ops.matmul import MatMul
from minigrad.ops.reduce import Max, Sum
from minigrad.ops.shape import BroadcastTo, Concat, GetItem, IndexAdd, Reshape, Split, Transpose
from minigrad.state import STATE
from minigrad.tensor import Tensor, lift

__all__ = [
    "Add", "BroadcastTo", "Concat", "Div", "Exp", "GetItem", "IndexAdd", "Log", "MatMul", "Max", "Mul",
    "Neg", "Pow", "Relu", "Reshape", "Sigmoid", "Split", "Sub", "Sum", "Tanh", "Transpose",
    "broadcast_to", "concat", "exp", "getitem", "log", "matmul", "mean", "pow", "relu", "sigmoid",
    "split", "stack", "tanh",
]  # fmt: skip


def exp(x):
    return Exp.apply(x)


def log(x):
    return Log.apply(x)


def tanh(x):
    return Tanh.apply(x)


def sigmoid(x):
    return Sigmoid.apply(x)


def relu(x):
    return Relu.apply(x)


def broadcast_to(x, shape):
    return BroadcastTo.apply(x, tuple(shape))


def pow(x, p):  # noqa: A001 - the operator's name
    """x ** p, one `Pow` op: p a number, an array (a constant) or a Tensor."""
    if isinstance(p, (int, float, np.number)) and not isinstance(p, bool):
        # A NumPy scalar exponent counts as the number it holds: np.float64 would promote float32 data.
        return Pow.apply(x, p.item() if isinstance(p, np.number) else p)
    if not isinstance(x, Tensor):
        x = lift(x, p, "pow")
    return Pow.apply(x, lift(p, x, "pow"))


def mean(x, axis=None, keepdims: bool = False):
    """x.sum(axis, keepdims) / (number of elements reduced), in x's dtype."""
    a = x._data if isinstance(x, Tensor) else np.asarray(x)
    if axis is None:
        n = a.size
    else:
        axes = axis if isinstance(axis, tuple) else (axis,)
        for i in axes:
            _check_axis("mean", i, a.shape)
        n = int(np.prod([a.shape[i] for i in axes]))
    if n == 0:
        # NumPy gives nan and a warning; a nan loss is found steps later, this is found here
        raise errors.OpError(
            f"{errors.where('mean', STATE.scope)}: the mean of no elements is undefined (shape {a.shape}, "
            f"axis {axis}); check that the tensor is not empty"
        )
    s = Sum.apply(x, axis, keepdims)
    return s * np.asarray(1.0 / n, dtype=a.dtype)


def matmul(a, b):
    """a @ b as NumPy defines it: 2-D, batched N-D (batch dimensions broadcast), and 1-D operands
    (a 1-D left operand is a row, a 1-D right operand a column, and that axis is dropped again)."""
    sa, sb = a.shape, b.shape
    if len(sa) == 2 and len(sb) == 2 and sa[1] == sb[0]:
        return MatMul.apply(a, b)  # two matrices that fit: the common case, nothing more to check
    if not sa or not sb:
        raise errors.ShapeError(
            f"{errors.where('matmul', STATE.scope)}: 0-d operands are not allowed "
            f"(shapes {sa} and {sb}); use * for scalars"
        )
    ka = sa[-1]
    kb = sb[-2] if len(sb) >= 2 else sb[0]
    if ka != kb:
        raise errors.ShapeError(
            f"{errors.where('matmul', STATE.scope)}: shapes {sa} and {sb} are not aligned: "
            f"{ka} (dim {len(sa) - 1}) != {kb} (dim {max(len(sb) - 2, 0)})"
        )
    if len(sa) >= 2 and len(sb) >= 2:
        return MatMul.apply(a, b)
    a2 = a.reshape(1, sa[0]) if len(sa) == 1 else a
    b2 = b.reshape(sb[0], 1) if len(sb) == 1 else b
    y = MatMul.apply(a2, b2)
    out = y.shape[:-2] + (() if len(sa) == 1 else y.shape[-2:-1]) + (() if len(sb) == 1 else y.shape[-1:])
    return y.reshape(out)


def getitem(x, index):
    """x[index]: basic slices and integer-array indexing; Tensor indices are used by value."""
    if isinstance(index, Tensor):
        index = index._data.astype(np.intp) if index._data.dtype.kind == "f" else index._data
    elif isinstance(index, tuple) and any(isinstance(i, Tensor) for i in index):
        index = tuple(i._data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, list):
        index = np.asarray(index)
    return GetItem.apply(x, index)


def _check_axis(op: str, axis: int, shape: tuple) -> None:
    """Raise OpIndexError unless ``axis`` (possibly negative) is an axis of ``shape``."""
    if not -len(shape) <= axis < len(shape):
        raise errors.OpIndexError(
            f"{errors.where(op, STATE.scope)}: axis {axis} is out of bounds for array of dimension "
            f"{len(shape)} (shape {shape})"
        )


def _sizes(x, sizes_or_n, axis: int) -> list[int]:
    _check_axis("split", axis, x.shape)
    length = x.shape[axis]
    if isinstance(sizes_or_n, (int, np.integer)):
        n = int(sizes_or_n)
        if n <= 0 or length % n:
            raise errors.ShapeError(
                f"{errors.where('split', STATE.scope)}: axis {axis} of size {length} "
                f"(shape {x.shape}) cannot be split into {n} equal parts"
            )
        return [length // n] * n
    sizes = [int(s) for s in sizes_or_n]
    if sum(sizes) != length or any(s < 0 for s in sizes):
        raise errors.ShapeError(
            f"{errors.where('split', STATE.scope)}: sizes {sizes} do not add up to the size "
            f"{length} of axis {axis} (shape {x.shape})"
        )
    return sizes


def split(x, sizes_or_n, axis: int = 0) -> tuple:
    """Cut x along ``axis`` into ``n`` equal pieces or pieces of the given sizes: ONE op, several outputs
    (so its backward joins the pieces' gradients once, instead of one full-size zero array per piece)."""
    return Split.apply(x, _sizes(x, sizes_or_n, axis), axis)


def concat(tensors, axis: int = 0):
    """Join tensors along an existing axis (NumPy's concatenate)."""
    tensors = list(tensors)
    if not tensors:
        raise errors.ShapeError(f"{errors.where('concat', STATE.scope)}: needs at least one tensor")
    first = next((t for t in tensors if isinstance(t, Tensor)), None)
    if first is not None:
        tensors = [lift(t, first, "concat") for t in tensors]
    return Concat.apply(axis, *tensors)


def stack(tensors, axis: int = 0):
    """Join tensors along a new axis: each gets a size-1 axis (reshape), then one concat."""
    tensors = list(tensors)
    if not tensors:
        raise errors.ShapeError(f"{errors.where('stack', STATE.scope)}: needs at least one tensor")
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        raise errors.ShapeError(
            f"{errors.where('stack', STATE.scope)}: all tensors must have the same shape, "
            f"got {sorted(shapes)}"
        )
    shape = tensors[0].shape
    _check_axis("stack", axis, (*shape, 1))  # the new axis may go anywhere from first to last
    ax = axis % (len(shape) + 1)
    expanded = shape[:ax] + (1,) + shape[ax:]
    first = next((t for t in tensors if isinstance(t, Tensor)), None)
    parts = [(lift(t, first, "stack") if first is not None else np.asarray(t)) for t in tensors]
    parts = [p.reshape(expanded) for p in parts]
    return Concat.apply(ax, *parts)
