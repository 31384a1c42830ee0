"""Arithmetic: + - * / ** and negation. Broadcasting is undone by the engine, so each backward returns the
gradient at the output's shape."""

import numpy as np

from minigrad.function import Function
from minigrad.ops.elementwise import Log


class Add(Function):
    """y = a + b;  da = g, db = g"""

    op = "add"

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    """y = a - b;  da = g, db = -g"""

    op = "sub"

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, -g


class Mul(Function):
    """y = a * b;  da = g * b, db = g * a"""

    op = "mul"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g * b if need_a else None), (g * a if need_b else None)


class Div(Function):
    """y = a / b;  da = g / b, db = -g * a / b**2"""

    op = "div"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = g / b
        return (ga if ctx.needs_input_grad[0] else None), (-ga * a / b if ctx.needs_input_grad[1] else None)


class Neg(Function):
    """y = -x;  dx = -g"""

    op = "neg"

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g


class Pow(Function):
    """y = x ** p, p a number or a Tensor;  dx = g * p * x ** (p - 1), dp = g * y * log(x)

    Where p == 0, dx is 0 (y is the constant 1; the formula would give 0 * inf at x = 0). Where x == 0
    and p >= 0, dp is 0 (PyTorch's convention: y is 0 or 1 there whatever p does nearby); for x < 0,
    log(x) makes dp NaN, as in PyTorch, while y and dx are NumPy's values.
    """

    op = "pow"

    @staticmethod
    def forward(ctx, x, p):
        y = x**p
        ctx.save_for_backward(x, p, y) if ctx.needs_input_grad[1] else ctx.save_for_backward(x, p)
        return y

    @staticmethod
    def backward(ctx, g):
        x, p, *y = ctx.saved_tensors  # y saved only when p needs a gradient
        need_x, need_p = ctx.needs_input_grad
        pa = np.asarray(p)
        gx = gp = None
        if need_x:
            # p - 1 where p != 0 and p where p == 0 (x ** 0 is 1): finite at x = 0, and times p it is 0
            gx = g * p * x ** (p - 1 + (pa == 0))
        if need_p:
            xa = np.asarray(x)
            flat = (xa == 0) & (pa >= 0)
            keep = (~flat).astype(xa.dtype)
            # log of 1 where the gradient is 0 by convention, so no -inf meets the 0
            gp = g * y[0] * Log.apply(x * keep + flat) * keep
        return gx, gp
