"""Ops that move data around without arithmetic: reshape, transpose, broadcast, index, join, split."""

import numpy as np

from minigrad.function import Function


class Reshape(Function):
    """y = x.reshape(shape);  dx = g.reshape(x.shape)"""

    op = "reshape"
    _only_moves = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape), None


class Transpose(Function):
    """y = x.transpose(axes);  dx = g.transpose(inverse permutation)"""

    op = "transpose"
    _only_moves = True

    @staticmethod
    def forward(ctx, x, axes):
        y = x.transpose(axes)
        # Negative axes made positive: backward inverts the permutation by sorting it.
        ctx.axes = None if axes is None else tuple(int(a) % x.ndim for a in axes)
        return y

    @staticmethod
    def backward(ctx, g):
        if ctx.axes is None:
            return g.transpose(), None
        return g.transpose(tuple(int(a) for a in np.argsort(ctx.axes))), None


class BroadcastTo(Function):
    """y = x broadcast to ``shape``;  dx = g summed back to x's shape (by the engine, as for any op)"""

    op = "broadcast_to"
    _only_moves = True

    @staticmethod
    def forward(ctx, x, shape):
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return g, None


def _is_basic(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, np.integer, slice)) for p in parts)


class GetItem(Function):
    """y = x[index];  dx = zeros with g added at index (repeated integer indices accumulate)"""

    op = "getitem"
    _only_moves = True

    @staticmethod
    def forward(ctx, x, index):
        ctx.shape = x.shape
        return x[index]

    @staticmethod
    def backward(ctx, g):
        return IndexAdd.apply(g, ctx.shape, ctx.inputs[1]), None


class IndexAdd(Function):
    """y = zeros(shape) with x added at index;  dx = g[index]. The backward of getitem."""

    op = "index_add"

    @staticmethod
    def forward(ctx, x, shape, index):
        y = np.zeros(shape, dtype=x.dtype)
        if _is_basic(index):
            y[index] = x
        else:
            np.add.at(y, index, x)
        return y

    @staticmethod
    def backward(ctx, g):
        return g[ctx.inputs[2]], None, None


class Concat(Function):
    """y = concatenate(xs, axis);  dx_k = the k-th piece of g along axis"""

    op = "concat"
    _only_moves = True

    @staticmethod
    def forward(ctx, axis, *xs):
        y = np.concatenate(xs, axis=axis)  # first, so that a bad axis gets NumPy's message
        ctx.axis = axis
        ctx.sizes = [x.shape[axis] for x in xs]
        return y

    @staticmethod
    def backward(ctx, g):
        return (None, *Split.apply(g, ctx.sizes, ctx.axis))


class Split(Function):
    """ys = x cut into pieces of ``sizes`` along axis (one op, several outputs);  dx = concat(gs)"""

    op = "split"
    _only_moves = True

    @staticmethod
    def forward(ctx, x, sizes, axis):
        ctx.axis = axis
        if not -x.ndim <= axis < x.ndim:
            return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))  # for NumPy's own error
        # One basic slice per piece: what np.split does, without its general machinery.
        lead = (slice(None),) * (axis % x.ndim)
        ends = np.cumsum(sizes).tolist()
        return tuple(x[(*lead, slice(end - size, end))] for size, end in zip(sizes, ends))

    @staticmethod
    def backward(ctx, *gs):
        return Concat.apply(ctx.axis, *gs), None, None
