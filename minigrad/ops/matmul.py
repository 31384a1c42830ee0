"""Matrix product."""

from minigrad.function import Function


class MatMul(Function):
    """y = a @ b for operands with at least 2 dimensions (batch dimensions broadcast);
    da = g @ b^T, db = a^T @ g (the engine sums broadcast batch dimensions back)."""

    op = "matmul"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = g @ b.swapaxes(-1, -2) if need_a else None
        gb = a.swapaxes(-1, -2) @ g if need_b else None
        return ga, gb
