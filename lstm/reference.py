"""A hand-derived LSTM in plain NumPy: the ground truth the course compares minigrad against.

Layout is PyTorch's. With H the hidden size and I the input size, params holds

    weight_ih (4H, I)   weight_hh (4H, H)   bias_ih (4H,)   bias_hh (4H,)

and the 4H axis is four blocks of H rows in the gate order i, f, g, o. One step is

    a = x @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh          (B, 4H)
    i = sigmoid(a_i)   input gate       f = sigmoid(a_f)   forget gate
    g = tanh(a_g)      candidate cell   o = sigmoid(a_o)   output gate
    c = f * c_prev + i * g
    h = o * tanh(c)

Sequences are batch-first: x is (B, T, I) and out is (B, T, H).

Dtypes: every array must have the params' floating dtype. float32 in gives float32 everywhere
(Python scalars in the formulas do not promote under NumPy's rules); a float64 array mixed with
float32 params is refused rather than silently promoted.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

GATE_ORDER = "ifgo"
PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class StepCache(NamedTuple):
    """What one forward step keeps for its backward, and for anyone who wants to see the gates.

    Arrays are (B, H) except x (B, I); weight_ih and weight_hh are the params' own arrays.
    """

    x: np.ndarray
    h_prev: np.ndarray
    c_prev: np.ndarray
    i: np.ndarray
    f: np.ndarray
    g: np.ndarray
    o: np.ndarray
    c: np.ndarray
    tanh_c: np.ndarray
    h: np.ndarray
    weight_ih: np.ndarray
    weight_hh: np.ndarray


def gate_slices(hidden_size: int) -> dict[str, slice]:
    """Where each gate lives along the 4H axis: {'i': slice(0, H), 'f': slice(H, 2H), ...}."""
    H = hidden_size
    return {name: slice(k * H, (k + 1) * H) for k, name in enumerate(GATE_ORDER)}


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow, and accurate to a few ulps far out in both tails.

    exp is only taken of -|x| <= 0, so it lies in (0, 1]. For x >= 0 this is 1 / (1 + e^-x);
    for x < 0 the same value is written e^x / (1 + e^x). (0.5 + 0.5 * tanh(x / 2) is stable too
    but loses the relative accuracy of tiny values to cancellation; this is the reference.)
    """
    e = np.exp(-np.abs(x))
    s = 1 / (1 + e)
    return np.where(x >= 0, s, e * s)


def init_params(
    input_size: int,
    hidden_size: int,
    rng: np.random.Generator | int | None = None,
    dtype=np.float64,
    forget_bias: float = 0.0,
) -> dict[str, np.ndarray]:
    """Weights and biases uniform in (-1/sqrt(H), 1/sqrt(H)) as in PyTorch, drawn in the order
    of PARAM_NAMES; then forget_bias is added to the f block of bias_ih.

    rng is a np.random.Generator or a seed (None: fresh entropy).
    """
    for name, size in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"init_params: {name} must be a positive integer, got {size!r}")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"init_params: dtype must be a floating dtype, got {dtype}")
    rng = np.random.default_rng(rng)
    H, k = hidden_size, 1 / np.sqrt(hidden_size)
    shapes = {
        "weight_ih": (4 * H, input_size),
        "weight_hh": (4 * H, H),
        "bias_ih": (4 * H,),
        "bias_hh": (4 * H,),
    }
    params = {name: rng.uniform(-k, k, size=shapes[name]).astype(dtype) for name in PARAM_NAMES}
    params["bias_ih"][gate_slices(H)["f"]] += dtype.type(forget_bias)
    return params


def check_params(params: dict, caller: str = "check_params") -> tuple[int, int]:
    """Return (input_size, hidden_size) of a canonical params dict.

    Raise ValueError (TypeError for types and dtypes), naming caller, if params is not one.
    """
    missing = [name for name in PARAM_NAMES if name not in params]
    if missing:
        raise ValueError(
            f"{caller}: params is missing {', '.join(missing)}; "
            f"expected keys {', '.join(PARAM_NAMES)}"
        )
    for name in PARAM_NAMES:
        if not isinstance(params[name], np.ndarray):
            kind = type(params[name]).__name__
            raise TypeError(f"{caller}: {name} must be a NumPy array, got {kind}")
    dtypes = {params[name].dtype for name in PARAM_NAMES}
    if len(dtypes) != 1 or dtypes.pop().kind != "f":
        listed = ", ".join(f"{name} {params[name].dtype}" for name in PARAM_NAMES)
        raise TypeError(f"{caller}: params must share one floating dtype, got {listed}")

    # The hidden size is read off weight_hh's columns; every other shape follows from it.
    w_hh = params["weight_hh"]
    if w_hh.ndim != 2 or w_hh.shape[1] < 1 or w_hh.shape[0] != 4 * w_hh.shape[1]:
        raise ValueError(
            f"{caller}: weight_hh has shape {w_hh.shape} "
            "but expected (4*hidden_size, hidden_size)"
        )
    H = w_hh.shape[1]
    w_ih = params["weight_ih"]
    if w_ih.ndim != 2 or w_ih.shape[0] != 4 * H:
        raise ValueError(
            f"{caller}: weight_ih has shape {w_ih.shape} but expected (4*hidden_size, input_size)"
            f" = ({4 * H}, input_size), since weight_hh has hidden size {H}"
        )
    for name in ("bias_ih", "bias_hh"):
        if params[name].shape != (4 * H,):
            raise ValueError(
                f"{caller}: {name} has shape {params[name].shape} but expected ({4 * H},), "
                f"since weight_hh has hidden size {H}"
            )
    return w_ih.shape[1], H


def _as_array(caller: str, name: str, value, shape: tuple, dtype, what: str) -> np.ndarray:
    """np.asarray(value), checked to have exactly this shape (described by what) and dtype."""
    array = np.asarray(value)
    if array.shape != shape:
        raise ValueError(f"{caller}: {name} has shape {array.shape} but expected {shape} {what}")
    if array.dtype != dtype:
        raise TypeError(
            f"{caller}: {name} has dtype {array.dtype} but the params are {dtype}; "
            "convert one of them explicitly"
        )
    return array


def _state_or_zeros(caller: str, name: str, value, shape: tuple, dtype) -> np.ndarray:
    """A (batch, hidden_size) state or gradient; zeros when value is None."""
    if value is None:
        return np.zeros(shape, dtype)
    return _as_array(caller, name, value, shape, dtype, "(batch, hidden_size)")


def _check_input(caller: str, x, ndim: int, input_size: int, dtype) -> np.ndarray:
    """x as an array with ndim axes, the last of size input_size, in the params' dtype."""
    x = np.asarray(x)
    layout = "(batch, input_size)" if ndim == 2 else "(batch, time, input_size)"
    if x.ndim != ndim:
        raise ValueError(f"{caller}: x has shape {x.shape} but expected {layout}")
    if x.shape[-1] != input_size:
        raise ValueError(
            f"{caller}: x has shape {x.shape} but weight_ih expects input size {input_size}"
        )
    return _as_array(caller, "x", x, x.shape, dtype, layout)


# ----------------------------------------------------------------------------------- one step


def _step_forward(x, h_prev, c_prev, params) -> tuple[np.ndarray, np.ndarray, StepCache]:
    """lstm_step_forward without the checks, so that lstm_forward checks once, not per step."""
    s = gate_slices(h_prev.shape[1])
    a = x @ params["weight_ih"].T
    a += params["bias_ih"]
    a += h_prev @ params["weight_hh"].T
    a += params["bias_hh"]

    i = sigmoid(a[:, s["i"]])
    f = sigmoid(a[:, s["f"]])
    g = np.tanh(a[:, s["g"]])
    o = sigmoid(a[:, s["o"]])
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    w_ih, w_hh = params["weight_ih"], params["weight_hh"]
    return h, c, StepCache(x, h_prev, c_prev, i, f, g, o, c, tanh_c, h, w_ih, w_hh)


def lstm_step_forward(x, h_prev, c_prev, params) -> tuple[np.ndarray, np.ndarray, StepCache]:
    """One step. x (B, I), h_prev and c_prev (B, H) -> h (B, H), c (B, H), a StepCache."""
    caller = "lstm_step_forward"
    input_size, H = check_params(params, caller)
    dtype = params["weight_hh"].dtype
    x = _check_input(caller, x, 2, input_size, dtype)
    state = (x.shape[0], H)
    h_prev = _as_array(caller, "h_prev", h_prev, state, dtype, "(batch, hidden_size)")
    c_prev = _as_array(caller, "c_prev", c_prev, state, dtype, "(batch, hidden_size)")
    return _step_forward(x, h_prev, c_prev, params)


def _step_backward(dh, dc, cache: StepCache):
    """lstm_step_backward without the checks; dc may be None."""
    i, f, g, o, tanh_c = cache.i, cache.f, cache.g, cache.o, cache.tanh_c

    # h = o * tanh(c). Product rule, two terms:
    do = dh * tanh_c  # the term through o (tanh(c) held fixed)
    dc_via_h = dh * o * (1 - tanh_c * tanh_c)  # the term through tanh(c); tanh' = 1 - tanh^2
    # c also reaches the loss directly (as the next step's c_prev, or as c_T): the paths add.
    dc = dc_via_h if dc is None else dc + dc_via_h

    # c = f * c_prev + i * g. Each product gives two terms of the product rule:
    df = dc * cache.c_prev  # f * c_prev, the term through f
    dc_prev = dc * f  # f * c_prev, the term through c_prev
    di = dc * g  # i * g, the term through i
    dg = dc * i  # i * g, the term through g

    # Back through the nonlinearities, using their outputs: sigmoid' = s (1 - s), tanh' = 1 - t^2.
    s = gate_slices(i.shape[1])
    da = np.empty((i.shape[0], 4 * i.shape[1]), dtype=i.dtype)
    da[:, s["i"]] = di * i * (1 - i)
    da[:, s["f"]] = df * f * (1 - f)
    da[:, s["g"]] = dg * (1 - g * g)
    da[:, s["o"]] = do * o * (1 - o)

    # a = x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh is a sum: da reaches each term unchanged.
    # The biases were broadcast over the batch, so their gradients sum over it.
    dx = da @ cache.weight_ih
    dh_prev = da @ cache.weight_hh
    db = da.sum(axis=0)
    grads = {
        "weight_ih": da.T @ cache.x,
        "weight_hh": da.T @ cache.h_prev,
        "bias_ih": db,
        "bias_hh": db.copy(),
    }
    return dx, dh_prev, dc_prev, grads


def lstm_step_backward(dh, dc, cache: StepCache):
    """Gradients of one step.

    dh, dc (B, H) are the loss's gradients w.r.t. this step's h and c (dc None means zero).
    Returns dx (B, I), dh_prev (B, H), dc_prev (B, H) and grads, a dict keyed like params.
    """
    caller = "lstm_step_backward"
    dtype, shape = cache.h.dtype, cache.h.shape
    dh = _as_array(caller, "dh", dh, shape, dtype, "(the shape of h)")
    if dc is not None:
        dc = _as_array(caller, "dc", dc, shape, dtype, "(the shape of c)")
    return _step_backward(dh, dc, cache)


# --------------------------------------------------------------------------------- a sequence


def lstm_forward(x, h0, c0, params):
    """Run over a batch-first sequence. x (B, T, I); h0, c0 (B, H), or None for zeros.

    Returns out (B, T, H) (every hidden state), h_T, c_T (B, H), and cache: a list of T
    StepCaches, cache[t] for step t.
    """
    caller = "lstm_forward"
    input_size, H = check_params(params, caller)
    dtype = params["weight_hh"].dtype
    x = _check_input(caller, x, 3, input_size, dtype)
    B, T, _ = x.shape
    if T == 0:
        raise ValueError(f"{caller}: x has shape {x.shape} but needs at least one time step")
    h = _state_or_zeros(caller, "h0", h0, (B, H), dtype)
    c = _state_or_zeros(caller, "c0", c0, (B, H), dtype)

    out = np.empty((B, T, H), dtype)
    cache = []
    for t in range(T):
        h, c, step = _step_forward(x[:, t], h, c, params)
        out[:, t] = h
        cache.append(step)
    return out, h, c, cache


def lstm_backward(dout, cache: list[StepCache], dh_T=None, dc_T=None):
    """Gradients of a sequence.

    dout (B, T, H) is the loss's gradient w.r.t. out; dh_T and dc_T (B, H) are extra gradients
    w.r.t. the final h and c. Any of them may be None, meaning zero.
    Returns dx (B, T, I), dh0 (B, H), dc0 (B, H) and grads, keyed like params, summed over time.
    """
    caller = "lstm_backward"
    if not isinstance(cache, list) or not cache:
        raise ValueError(f"{caller}: cache must be the list of StepCaches lstm_forward returned")
    first = cache[0]
    dtype = first.h.dtype
    (B, H), T, I = first.h.shape, len(cache), first.x.shape[1]
    if dout is not None:
        dout = _as_array(caller, "dout", dout, (B, T, H), dtype, "(batch, time, hidden_size)")
    dh = _state_or_zeros(caller, "dh_T", dh_T, (B, H), dtype)
    dc = _state_or_zeros(caller, "dc_T", dc_T, (B, H), dtype)

    dx = np.empty((B, T, I), dtype)
    grads = {
        "weight_ih": np.zeros_like(first.weight_ih),
        "weight_hh": np.zeros_like(first.weight_hh),
        "bias_ih": np.zeros(4 * H, dtype),
        "bias_hh": np.zeros(4 * H, dtype),
    }
    for t in reversed(range(T)):
        # h_t is both out[:, t] and the next step's h_prev: its gradient is the sum of the two.
        if dout is not None:
            dh = dh + dout[:, t]
        dx[:, t], dh, dc, step_grads = _step_backward(dh, dc, cache[t])
        for name in PARAM_NAMES:
            grads[name] += step_grads[name]  # the same weights act at every step
    return dx, dh, dc, grads
