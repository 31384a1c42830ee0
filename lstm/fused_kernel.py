"""The fast hand-derived LSTM layer: the forward over every time step and its whole BPTT backward.

The same equations as `lstm.reference` (which stays the readable version, and which this kernel is
tested against), arranged for speed:

- the input half of every gate's pre-activation does not depend on h, so it is ONE matrix product over
  the whole sequence, ``x (T*B, I) @ weight_ih.T``, with both biases added once;
- each step then adds ``h_{t-1} @ weight_hh.T`` into its slice and activates the gates in place;
- the backward writes each step's pre-activation gradient into one (T, B, 4H) buffer, so the weight
  gradients are two products after the loop, ``da.T @ x`` and ``da.T @ h_prev``;
- every buffer is allocated once per call, and the elementwise work writes into it (``out=``), so a
  step allocates (almost) nothing.

Arrays are time-major: x is (T, B, I), the hidden states (T + 1, B, H) with h_0 first. float32 in gives
float32 out (no Python float promotes under NumPy 2's rules).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class LayerCache(NamedTuple):
    """What the forward keeps for the backward. T steps, batch B, H hidden units, I inputs."""

    x: np.ndarray  # (T, B, I)
    gates: np.ndarray  # (T, B, 4H): i, f, g, o after their activations
    c: np.ndarray  # (T + 1, B, H): c_0 (the initial state) .. c_T
    tanh_c: np.ndarray  # (T, B, H): tanh(c_1) .. tanh(c_T)
    h: np.ndarray  # (T + 1, B, H): h_0 .. h_T
    weight_ih: np.ndarray  # (4H, I)
    weight_hh: np.ndarray  # (4H, H)


def _sigmoid_(a: np.ndarray) -> None:
    """a <- 1 / (1 + exp(-a)), in place. exp(-a) overflows to inf for a < -709, giving exactly 0."""
    np.negative(a, out=a)
    with np.errstate(over="ignore"):
        np.exp(a, out=a)
    a += 1
    np.reciprocal(a, out=a)


def activate_step(a, c_prev, c, tanh_c, h, ig) -> None:
    """One step's cell from its pre-activation, in place: a (B, 4H) becomes the gates i, f, g, o; then
    c = f * c_prev + i * g, tanh_c = tanh(c), h = o * tanh_c are written into c, tanh_c, h (B, H).
    ig (B, H) is scratch space."""
    H = c.shape[1]
    _sigmoid_(a[:, : 2 * H])  # i, f
    np.tanh(a[:, 2 * H : 3 * H], out=a[:, 2 * H : 3 * H])  # g
    _sigmoid_(a[:, 3 * H :])  # o
    i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
    np.multiply(f, c_prev, out=c)
    np.multiply(i, g, out=ig)
    c += ig
    np.tanh(c, out=tanh_c)
    np.multiply(o, tanh_c, out=h)


def backward_step(dh, dc, gates, c_prev, tanh_c, da, tmp) -> None:
    """One step's backward through the cell, in place: from dh, dc (B, H), the gradients w.r.t. this
    step's h and c, write the pre-activation's gradient into da (B, 4H) and turn dc into dc_prev.
    gates (B, 4H) are the step's i, f, g, o; tmp (B, H) is scratch space."""
    H = dc.shape[1]
    i, f, g, o = (gates[:, k * H : (k + 1) * H] for k in range(4))
    di, df, dg, do = (da[:, k * H : (k + 1) * H] for k in range(4))
    np.multiply(dh, tanh_c, out=do)  # h = o * tanh(c): the term through o ...
    np.multiply(tanh_c, tanh_c, out=tmp)  # ... and through tanh(c), tanh' = 1 - tanh^2
    np.subtract(1, tmp, out=tmp)
    tmp *= o
    tmp *= dh
    dc += tmp
    np.multiply(dc, c_prev, out=df)  # c = f * c_prev + i * g: the product rule on each term
    np.multiply(dc, g, out=di)
    np.multiply(dc, i, out=dg)
    dc *= f  # now dc_prev
    # back through the activations, from their outputs: sigmoid' = s (1 - s), tanh' = 1 - t^2
    for d, s in ((di, i), (df, f), (do, o)):
        np.subtract(1, s, out=tmp)
        tmp *= s
        d *= tmp
    np.multiply(g, g, out=tmp)
    np.subtract(1, tmp, out=tmp)
    dg *= tmp


def forward(x, h0, c0, weight_ih, weight_hh, bias) -> tuple[np.ndarray, np.ndarray, LayerCache]:
    """x (T, B, I); h0, c0 (B, H); bias (4H,), the sum of bias_ih and bias_hh.
    Returns hs (T, B, H) (a view of the cache: do not write to it), c_T (B, H) and the cache."""
    T, B, _ = x.shape
    H = weight_hh.shape[1]
    dtype = weight_hh.dtype
    gates = np.matmul(x.reshape(T * B, -1), weight_ih.T).reshape(T, B, 4 * H)
    gates += bias
    c = np.empty((T + 1, B, H), dtype)
    h = np.empty((T + 1, B, H), dtype)
    tanh_c = np.empty((T, B, H), dtype)
    c[0], h[0] = c0, h0
    w_hh_t = weight_hh.T
    recurrent = np.empty((B, 4 * H), dtype)
    scratch = np.empty((B, H), dtype)
    for t in range(T):
        np.matmul(h[t], w_hh_t, out=recurrent)
        gates[t] += recurrent
        activate_step(gates[t], c[t], c[t + 1], tanh_c[t], h[t + 1], scratch)
    return h[1:], c[T], LayerCache(x, gates, c, tanh_c, h, weight_ih, weight_hh)


def backward(dhs, dh_T, dc_T, cache: LayerCache, need_dx: bool = True):
    """Gradients of the layer. dhs (T, B, H) is the loss's gradient w.r.t. every hidden state, dh_T and
    dc_T (B, H) extra gradients w.r.t. the last h and c; each may be None, meaning zero.
    Returns dx (T, B, I) (None unless need_dx), dh0, dc0 (B, H), dweight_ih (4H, I), dweight_hh (4H, H),
    dbias (4H,)."""
    x, gates, c, tanh_c, h = cache.x, cache.gates, cache.c, cache.tanh_c, cache.h
    T, B, H4 = gates.shape
    dtype = gates.dtype
    dh = np.zeros((B, H4 // 4), dtype) if dh_T is None else np.array(dh_T, dtype)
    dc = np.zeros((B, H4 // 4), dtype) if dc_T is None else np.array(dc_T, dtype)
    da = np.empty((T, B, H4), dtype)
    scratch = np.empty((B, H4 // 4), dtype)
    for t in reversed(range(T)):
        if dhs is not None:
            dh += dhs[t]
        backward_step(dh, dc, gates[t], c[t], tanh_c[t], da[t], scratch)
        np.matmul(da[t], cache.weight_hh, out=dh)  # dh_prev
    da_flat = da.reshape(T * B, H4)
    dx = np.matmul(da_flat, cache.weight_ih).reshape(T, B, -1) if need_dx else None
    dweight_ih = da_flat.T @ x.reshape(T * B, -1)
    dweight_hh = da_flat.T @ h[:T].reshape(T * B, H4 // 4)
    dbias = da_flat.sum(axis=0)
    return dx, dh, dc, dweight_ih, dweight_hh, dbias
