"""The fused LSTM step: a hand-derived backward plugged into autograd as one custom op.

`lstm_cell.py` builds a step from 25 primitive ops, which is what a student reads and draws. This
module runs the same step as ONE op, `LSTMStepFunction`, whose forward and backward are the
hand-derived NumPy step of `lstm.reference` (`lstm_step_forward` and `lstm_step_backward`): the
engine records one node per time step and calls the hand-written backward when it reaches it.

    layer = lstm.LSTM(8, 32, fused=True)   # the same Parameters and numbers as fused=False
    h = layer(x)                           # one node per step, scopes lstm/l0/t0, lstm/l0/t1, ...
    h.sum().backward()                     # BPTT: the engine chains the hand-derived step backwards

Only the standard cell is fused (the reference derives that one). The op's formulas are NumPy, so it
cannot be differentiated twice: ``create_graph=True`` through it raises.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from lstm import reference
from minigrad import Tensor


class LSTMStepFunction(mg.Function):
    """One standard LSTM step as one op (gate order i, f, g, o, PyTorch's layout).

    forward(ctx, x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh) -> (h, c):
        `lstm.reference.lstm_step_forward`. x (B, I); h_prev, c_prev, h, c (B, H); weight_ih (4H, I);
        weight_hh (4H, H); bias_ih, bias_hh (4H,).
    backward(ctx, dh, dc) -> (dx, dh_prev, dc_prev, dweight_ih, dweight_hh, dbias_ih, dbias_hh):
        `lstm.reference.lstm_step_backward` on what forward cached.

    The inputs are not checked here: callers (`lstm.LSTMCell`, `lstm.LSTM`) check shapes and dtypes
    once, before the first step, so the unchecked reference functions are called.
    """

    op = "lstm_step"

    @staticmethod
    def forward(ctx, x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
        params = {"weight_ih": weight_ih, "weight_hh": weight_hh, "bias_ih": bias_ih, "bias_hh": bias_hh}
        h, c, cache = reference._step_forward(x, h_prev, c_prev, params)
        # Saved like any op's values: freed after backward, and checked for in-place changes (an
        # optimizer step between this forward and its backward raises instead of giving a wrong gradient).
        ctx.save_for_backward(*cache)
        return h, c

    @staticmethod
    def backward(ctx, dh, dc):
        if isinstance(dh, Tensor):
            raise mg.OpTypeError(
                f"{ctx.where}: the fused LSTM step's backward is hand-derived NumPy, so it cannot be "
                "differentiated again (create_graph=True); use the primitive-op cell (fused=False)"
            )
        cache = reference.StepCache(*ctx.saved_tensors)
        dx, dh_prev, dc_prev, grads = reference._step_backward(dh, dc, cache)
        return (dx, dh_prev, dc_prev, grads["weight_ih"], grads["weight_hh"], grads["bias_ih"],
                grads["bias_hh"])  # fmt: skip


def lstm_step(x: Tensor, h: Tensor, c: Tensor, weight_ih: Tensor, weight_hh: Tensor,
              bias_ih: Tensor | None = None, bias_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """h, c of one fused step (shapes as for `LSTMStepFunction`); no biases means constant zeros."""
    if bias_ih is None:
        bias_ih = bias_hh = mg.Tensor(np.zeros(weight_hh.shape[0], weight_hh.dtype))
    return LSTMStepFunction.apply(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh)
