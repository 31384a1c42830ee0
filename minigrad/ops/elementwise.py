"""Element-wise functions. Where the derivative is a function of the output, the output is saved."""

import numpy as np

from minigrad.function import Function
from minigrad.state import CONSTANTS


def _const(number: float, like):
    """``number`` as a 0-d array of ``like``'s floating dtype, made once (``number`` itself for anything
    else, which NumPy promotes as usual). NumPy converts a Python-number operand anew on every call, which
    on small arrays costs as much as the arithmetic (x * 0.5: 0.48 µs, x * a 0-d 0.5: 0.30 µs, at
    (1, 32)); and the dtype must be x's own, or float32 would become float64."""
    dtype = getattr(like, "dtype", None)
    if dtype is None or dtype.kind != "f":
        return number
    c = CONSTANTS.get((number, dtype))
    if c is None:
        c = CONSTANTS[number, dtype] = np.array(number, dtype)
    return c


class Exp(Function):
    """y = exp(x);  dx = g * y"""

    op = "exp"

    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class Log(Function):
    """y = log(x);  dx = g / x"""

    op = "log"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x


class Tanh(Function):
    """y = tanh(x);  dx = g * (1 - y**2)"""

    op = "tanh"

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (_const(1, y) - y * y)


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x));  dx = g * y * (1 - y)

    Computed as (1 + tanh(x/2)) / 2, which never overflows (exp(-x) would for x < -709) and costs four
    NumPy calls (halve x, tanh, then two in-place ops on its result).

    Accuracy contract: the ABSOLUTE error of y and of the gradient is about one unit in the last place of
    1.0 (1.1e-16 in float64, 6e-8 in float32) for every x; the RELATIVE error is not bounded where y is
    tiny (in float64, y(-30) ~ 9.4e-14 is right to about 2e-4 relatively, and y is 0 from about -38 on).
    That is enough for a gate, whose value multiplies a state. Where log(sigmoid(x)) is wanted, use
    `minigrad.functional.binary_cross_entropy_with_logits` (or log_softmax), which stays finite there.
    """

    op = "sigmoid"

    @staticmethod
    def forward(ctx, x):
        half = _const(0.5, x)
        y = np.tanh(x * half)
        y *= half
        y += half
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y * (1 - y)


class Relu(Function):
    """y = max(x, 0);  dx = g where x > 0, else 0 (the derivative at exactly 0 is taken as 0)"""

    op = "relu"
    _saves_constants = True  # the mask is constant where relu is differentiable

    @staticmethod
    def forward(ctx, x):
        mask = (x > 0).astype(x.dtype)
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask
