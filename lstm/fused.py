"""Fused LSTM ops: hand-derived backwards plugged into autograd as custom ops.

`lstm_cell.py` builds a step from 25 primitive ops, which is what a student reads and draws. This
module runs the same computation as ONE op:

- `LSTMLayerFunction`, a whole layer over every time step, forward and BPTT backward in the fast
  kernel of `lstm.fused_kernel` (what ``lstm.LSTM(fused=True)`` runs: one node per layer);
- `LSTMStepFunction`, one step, whose forward and backward are the readable hand-derived step of
  `lstm.reference` (what ``lstm.LSTMCell(fused=True)`` runs).

    layer = lstm.LSTM(8, 32, fused=True)   # the same Parameters and numbers as fused=False
    h = layer(x)                           # one node, scope lstm/l0
    h.sum().backward()                     # BPTT: the hand-derived backward of the whole layer

Only the standard cell is fused (the reference derives that one). The ops' formulas are NumPy, so they
cannot be differentiated twice: ``create_graph=True`` through them raises.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from lstm import fused_kernel, reference
from minigrad import Tensor


def _refuse_create_graph(ctx, grad) -> None:
    if isinstance(grad, Tensor):
        raise mg.OpTypeError(
            f"{ctx.where}: the fused LSTM's backward is hand-derived NumPy, so it cannot be "
            "differentiated again (create_graph=True); use the primitive-op cell (fused=False)"
        )


class LSTMLayerFunction(mg.Function):
    """A standard LSTM layer over a whole batch-first sequence as one op (gate order i, f, g, o).

    forward(ctx, x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh) -> (out, h_T, c_T):
        x (B, T, I); h0, c0, h_T, c_T (B, H); out (B, T, H), every hidden state; weights and biases
        in PyTorch's layout, as for `LSTMStepFunction`.
    backward(ctx, dout, dh_T, dc_T) -> (dx, dh0, dc0, dweight_ih, dweight_hh, dbias_ih, dbias_hh):
        the whole backpropagation through time, `lstm.fused_kernel.backward`.
    """

    op = "lstm_layer"

    @staticmethod
    def forward(ctx, x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh):
        x_tb = np.ascontiguousarray(x.transpose(1, 0, 2))
        hs, c_T, cache = fused_kernel.forward(x_tb, h0, c0, weight_ih, weight_hh, bias_ih + bias_hh)
        out, h_T = hs.transpose(1, 0, 2), hs[-1]
        # The outputs are views of the cache: saving them too lets the engine catch an in-place change
        # to an output (which would change what the backward reads) as it does for any op.
        ctx.save_for_backward(*cache, out, h_T, c_T)
        return out, h_T, c_T

    @staticmethod
    def backward(ctx, dout, dh_T, dc_T):
        _refuse_create_graph(ctx, dout)
        cache = fused_kernel.LayerCache(*ctx.saved_tensors[:7])
        need_dx = ctx.needs_input_grad[0]
        dx, dh0, dc0, dw_ih, dw_hh, db = fused_kernel.backward(dout.transpose(1, 0, 2), dh_T, dc_T, cache,
                                                               need_dx)  # fmt: skip
        dx = dx.transpose(1, 0, 2) if need_dx else None
        return dx, dh0, dc0, dw_ih, dw_hh, db, db.copy()


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
        _refuse_create_graph(ctx, dh)
        cache = reference.StepCache(*ctx.saved_tensors)
        dx, dh_prev, dc_prev, grads = reference._step_backward(dh, dc, cache)
        return (dx, dh_prev, dc_prev, grads["weight_ih"], grads["weight_hh"], grads["bias_ih"],
                grads["bias_hh"])  # fmt: skip


def _biases(weight_hh: Tensor, bias_ih: Tensor | None, bias_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    if bias_ih is None:  # no biases: constant zeros
        bias_ih = bias_hh = mg.Tensor(np.zeros(weight_hh.shape[0], weight_hh.dtype))
    return bias_ih, bias_hh


def lstm_layer(x: Tensor, h0: Tensor, c0: Tensor, weight_ih: Tensor, weight_hh: Tensor,
               bias_ih: Tensor | None = None, bias_hh: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """out (B, T, H), h_T, c_T of one fused layer (shapes as for `LSTMLayerFunction`)."""
    return LSTMLayerFunction.apply(x, h0, c0, weight_ih, weight_hh, *_biases(weight_hh, bias_ih, bias_hh))


def lstm_step(x: Tensor, h: Tensor, c: Tensor, weight_ih: Tensor, weight_hh: Tensor,
              bias_ih: Tensor | None = None, bias_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """h, c of one fused step (shapes as for `LSTMStepFunction`); no biases means constant zeros."""
    return LSTMStepFunction.apply(x, h, c, weight_ih, weight_hh, *_biases(weight_hh, bias_ih, bias_hh))
