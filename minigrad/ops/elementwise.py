"""Element-wise functions. Where the derivative is a function of the output, the output is saved."""

import numpy as np

from minigrad.function import Function


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
        return g * (1 - y * y)


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x));  dx = g * y * (1 - y)

    Computed as (1 + tanh(x/2)) / 2, which never overflows (exp(-x) would for x < -709) and is accurate to
    about one unit in the last place of 1.0 everywhere.
    """

    op = "sigmoid"

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x * 0.5)
        y += 1
        y *= 0.5
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y * (1 - y)


class Relu(Function):
    """y = max(x, 0);  dx = g where x > 0, else 0 (the derivative at exactly 0 is taken as 0)"""

    op = "relu"

    @staticmethod
    def forward(ctx, x):
        mask = (x > 0).astype(x.dtype)
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask
