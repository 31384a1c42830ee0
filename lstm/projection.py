"""The input projection of a whole sequence as one op: every step's x_t W_k + b_k in one product.

A gate's pre-activation is x_t W + h_{t-1} U + b. The x half does not depend on h, so a layer computes
it for all T steps at once, before its time loop, and each step's gate adds its piece to h_{t-1} U:

    xw = project_inputs(x_tb, weight_ih, bias, T, widths)   # one node
    xw[t].f                                                 # x_t W_f + b_f, (B, H)

Packed, not per gate: the four gates' W are the row blocks of ``weight_ih`` (4H, I), so one product
``x_tb @ weight_ih.T`` gives them all and the weight gradient ``G.T @ x_tb`` lands in weight_ih's own
layout, again one product; four per-gate products would cost four times the calls for the same FLOPs.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

import minigrad as mg
from minigrad import Tensor
from minigrad.ops.shape import Concat


class GateInputs(NamedTuple):
    """Each gate's share of x_t: x_t W_k + b_k, (B, H) (B, H/S for a memory block's i and o), or None
    for a gate the cell does not have (the step then never reads it)."""

    i: Tensor | None
    f: Tensor | None
    g: Tensor | None
    o: Tensor | None


class InputProjection(mg.Function):
    """ys = the pieces of x_tb @ weight_ih^T + bias, step by step and gate by gate;  G = the pieces'
    gradients put back together (N, 4H): dx_tb = G weight_ih, dweight_ih = G^T x_tb, dbias = sum of G's rows.

    x_tb (N, I) holds the T steps' inputs one after the other (N = T B, time major); weight_ih (4H, I);
    bias (4H,) or None. Output 4 t + k is step t's gate k (order i, f, g, o), its first ``widths[k]``
    columns (H, or H/S for the 1997 memory blocks' i and o, whose other rows are unused).
    """

    op = "input_projection"

    @staticmethod
    def forward(ctx, x_tb, weight_ih, bias, T, widths):
        p = x_tb @ weight_ih.T
        if bias is not None:
            p += bias
        ctx.save_for_backward(x_tb, weight_ih)
        ctx.T, ctx.widths = T, widths
        B, H = x_tb.shape[0] // T, weight_ih.shape[0] // 4
        return tuple(p[t * B:(t + 1) * B, k * H:k * H + w] for t in range(T) for k, w in enumerate(widths))

    @staticmethod
    def backward(ctx, *gs):
        x_tb, weight_ih = ctx.saved_tensors
        N, H = x_tb.shape[0], weight_ih.shape[0] // 4
        B = N // ctx.T
        if isinstance(gs[0], np.ndarray):  # a plain backward: the pieces go straight into one buffer
            G = (np.empty if min(ctx.widths) == H else np.zeros)((N, 4 * H), weight_ih.dtype)
            for n, g in enumerate(gs):
                t, k = divmod(n, 4)
                G[t * B:(t + 1) * B, k * H:k * H + ctx.widths[k]] = g
        else:  # create_graph: the same, with ops, so that it is recorded
            # The columns of unused rows (a memory block's gate uses H/S of its H) get zeros.
            gaps = {w: np.zeros((B, H - w), weight_ih.dtype) for w in ctx.widths if w < H}
            rows = []
            for t in range(ctx.T):
                pieces = []
                for k, w in enumerate(ctx.widths):
                    pieces += [gs[4 * t + k], gaps[w]] if w < H else [gs[4 * t + k]]
                rows.append(Concat.apply(1, *pieces))
            G = Concat.apply(0, *rows)
        dx = G @ weight_ih if ctx.needs_input_grad[0] else None
        dbias = G.sum(axis=0) if ctx.needs_input_grad[2] else None
        return dx, G.T @ x_tb, dbias, None, None


def project_inputs(x_tb: Tensor, weight_ih: Tensor, bias: Tensor | None, T: int,
                   widths: tuple[int, int, int, int], gates: str = "ifgo") -> list[GateInputs]:
    """Step t's `GateInputs` for t < T, from one `InputProjection` node; ``gates`` names the gates the cell
    has (the others are None in every step). Each piece is named for drawings: ``x_3 W_f + b_f``."""
    ys = InputProjection.apply(x_tb, weight_ih, bias, T, tuple(widths))
    plus_b = " + b_" if bias is not None else ""
    steps = []
    for t in range(T):
        pieces = []
        for k, gate in enumerate("ifgo"):
            y = ys[4 * t + k]
            y.name = f"x_{t} W_{gate}{plus_b and plus_b + gate}"
            pieces.append(y if gate in gates else None)
        steps.append(GateInputs(*pieces))
    return steps
