"""Arithmetic: + - * / ** and negation. Broadcasting is undone by the engine, so each backward returns the
gradient at the output's shape."""

from minigrad.function import Function


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
    """y = x ** p for a constant number p;  dx = g * p * x ** (p - 1)

    A Tensor exponent is composed from primitives instead: x ** p = exp(p * log(x)).
    """

    op = "pow"

    @staticmethod
    def forward(ctx, x, p):
        ctx.save_for_backward(x)
        ctx.p = p
        return x**p

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        p = ctx.p
        if p == 0:  # x**0 is the constant 1; the formula below would give 0 * inf = NaN at x = 0
            return g * 0, None
        return g * p * x ** (p - 1), None
