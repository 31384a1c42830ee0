"""The hand-derived NumPy LSTM: gradients against central differences, values against a scalar
loop written straight from the equations, gates, dtypes and error messages."""

import math
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstm import reference
from lstm.reference import PARAM_NAMES
from minigrad.numeric import central_differences

SIZES = [  # (B, T, I, H)
    (1, 1, 1, 1),
    (1, 1, 3, 2),
    (2, 3, 4, 5),
    (3, 4, 2, 1),
    (1, 5, 1, 3),
]


def random_params(rng, input_size, hidden_size, dtype=np.float64, scale=0.6):
    """Params larger than init_params' so that the gates sit away from 0.5 and the test bites."""
    H, I = hidden_size, input_size
    shapes = {"weight_ih": (4 * H, I), "weight_hh": (4 * H, H), "bias_ih": (4 * H,),
              "bias_hh": (4 * H,)}
    return {name: rng.normal(0, scale, shapes[name]).astype(dtype) for name in PARAM_NAMES}


def rel_error(a, b):
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else np.linalg.norm(a - b) / scale


def check_sequence_gradients(B, T, I, H, seed):
    rng = np.random.default_rng(seed)
    params = random_params(rng, I, H)
    x, h0, c0 = rng.normal(size=(B, T, I)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    R, R2, R3 = rng.normal(size=(B, T, H)), rng.normal(size=(B, H)), rng.normal(size=(B, H))

    def loss():
        out, h_T, c_T, _ = reference.lstm_forward(x, h0, c0, params)
        return np.sum(out * R) + np.sum(h_T * R2) + np.sum(c_T * R3)

    _, _, _, cache = reference.lstm_forward(x, h0, c0, params)
    dx, dh0, dc0, grads = reference.lstm_backward(R, cache, dh_T=R2, dc_T=R3)
    analytic = {"x": dx, "h0": dh0, "c0": dc0, **grads}
    arrays = {"x": x, "h0": h0, "c0": c0, **params}
    for name, array in arrays.items():
        assert analytic[name].shape == array.shape, name
        err = rel_error(analytic[name], central_differences(loss, array))
        assert err < 1e-6, f"{name}: relative error {err:.2e} at B={B} T={T} I={I} H={H}"


@pytest.mark.parametrize("B, T, I, H", SIZES)
def test_lstm_backward_matches_central_differences(B, T, I, H):
    check_sequence_gradients(B, T, I, H, seed=B * 1000 + T * 100 + I * 10 + H)


@settings(max_examples=40, deadline=None)
@given(
    B=st.integers(1, 3),
    T=st.integers(1, 4),
    I=st.integers(1, 4),
    H=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_lstm_backward_matches_central_differences_any_size(B, T, I, H, seed):
    check_sequence_gradients(B, T, I, H, seed)


@pytest.mark.parametrize("B, I, H", [(1, 1, 1), (2, 3, 4), (4, 2, 1)])
def test_lstm_step_backward_matches_central_differences(B, I, H):
    rng = np.random.default_rng(B * 100 + I * 10 + H)
    params = random_params(rng, I, H)
    x, h_prev, c_prev = rng.normal(size=(B, I)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    Rh, Rc = rng.normal(size=(B, H)), rng.normal(size=(B, H))

    def loss():
        h, c, _ = reference.lstm_step_forward(x, h_prev, c_prev, params)
        return np.sum(h * Rh) + np.sum(c * Rc)

    _, _, cache = reference.lstm_step_forward(x, h_prev, c_prev, params)
    dx, dh_prev, dc_prev, grads = reference.lstm_step_backward(Rh, Rc, cache)
    analytic = {"x": dx, "h_prev": dh_prev, "c_prev": dc_prev, **grads}
    arrays = {"x": x, "h_prev": h_prev, "c_prev": c_prev, **params}
    for name, array in arrays.items():
        err = rel_error(analytic[name], central_differences(loss, array))
        assert err < 1e-6, f"{name}: relative error {err:.2e}"


def test_missing_gradients_mean_zeros():
    rng = np.random.default_rng(0)
    params = random_params(rng, 3, 2)
    x = rng.normal(size=(2, 4, 3))
    _, _, _, cache = reference.lstm_forward(x, None, None, params)
    dh = rng.normal(size=(2, 2))
    zeros_h, zeros_out = np.zeros((2, 2)), np.zeros((2, 4, 2))

    with_none = reference.lstm_backward(None, cache, dh_T=dh)
    with_zeros = reference.lstm_backward(zeros_out, cache, dh_T=dh, dc_T=zeros_h)
    for got, want in zip(with_none[:3], with_zeros[:3], strict=True):
        np.testing.assert_array_equal(got, want)
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(with_none[3][name], with_zeros[3][name])

    step = cache[-1]
    with_none = reference.lstm_step_backward(dh, None, step)
    with_zeros = reference.lstm_step_backward(dh, zeros_h, step)
    for got, want in zip(with_none[:3], with_zeros[:3], strict=True):
        np.testing.assert_array_equal(got, want)


def scalar_loop_lstm(x, h0, c0, p):
    """The equations one number at a time, with math's exp and tanh: shares no code with the
    module, so it checks the forward values that the gradient checks take for granted."""
    B, T, _ = x.shape
    H = h0.shape[1]

    def sig(z):
        return 1 / (1 + math.exp(-z))

    out = np.zeros((B, T, H))
    for b in range(B):
        h, c = list(h0[b]), list(c0[b])
        for t in range(T):
            a = [
                p["bias_ih"][k] + p["bias_hh"][k]
                + sum(p["weight_ih"][k, j] * x[b, t, j] for j in range(x.shape[2]))
                + sum(p["weight_hh"][k, j] * h[j] for j in range(H))
                for k in range(4 * H)
            ]
            for u in range(H):
                i, f = sig(a[u]), sig(a[H + u])
                g, o = math.tanh(a[2 * H + u]), sig(a[3 * H + u])
                c[u] = f * c[u] + i * g
                h[u] = o * math.tanh(c[u])
            out[b, t] = h
    return out


@pytest.mark.parametrize("B, T, I, H", SIZES)
def test_forward_matches_scalar_loop(B, T, I, H):
    rng = np.random.default_rng(7)
    params = random_params(rng, I, H)
    x, h0, c0 = rng.normal(size=(B, T, I)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    out, h_T, c_T, cache = reference.lstm_forward(x, h0, c0, params)
    np.testing.assert_allclose(out, scalar_loop_lstm(x, h0, c0, params), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(h_T, out[:, -1])
    np.testing.assert_array_equal(c_T, cache[-1].c)
    assert len(cache) == T


def test_forward_with_no_initial_state_starts_from_zeros():
    rng = np.random.default_rng(1)
    params = random_params(rng, 3, 2)
    x = rng.normal(size=(2, 3, 3))
    zeros = np.zeros((2, 2))
    got = reference.lstm_forward(x, None, None, params)
    want = reference.lstm_forward(x, zeros, zeros, params)
    for a, b in zip(got[:3], want[:3], strict=True):
        np.testing.assert_array_equal(a, b)


def test_gates_lie_in_their_ranges():
    rng = np.random.default_rng(2)
    params = random_params(rng, 4, 6, scale=1.0)
    x = rng.normal(size=(5, 6, 4))
    _, _, _, cache = reference.lstm_forward(x, None, None, params)
    for step in cache:
        for gate in (step.i, step.f, step.o):
            assert np.all((gate > 0) & (gate < 1))
        assert np.all((step.g > -1) & (step.g < 1))
        np.testing.assert_array_equal(step.tanh_c, np.tanh(step.c))


def test_sigmoid_is_stable_and_accurate_in_the_tails():
    for dtype in (np.float32, np.float64):
        x = np.array([-1e4, -750.0, -30.0, 0.0, 30.0, 750.0, 1e4], dtype=dtype)
        with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise"):
            warnings.simplefilter("error")
            s = reference.sigmoid(x)
        assert s.dtype == dtype
        assert s[0] == 0 and s[-1] == 1 and s[3] == 0.5
    # Tiny values keep their relative accuracy (0.5 + 0.5 * tanh(x / 2) would not).
    for z in (-30.0, -100.0, -700.0):
        want = math.exp(z) / (1 + math.exp(z))
        assert abs(reference.sigmoid(np.array(z)) - want) <= 1e-15 * want
    z = np.linspace(-20, 20, 81)
    np.testing.assert_allclose(reference.sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-15)


def test_open_forget_gate_and_closed_input_gate_pass_c_through():
    rng = np.random.default_rng(3)
    H = 3
    params = random_params(rng, 2, H)
    s = reference.gate_slices(H)
    params["bias_ih"][s["f"]] = 1e4  # f = 1
    params["bias_ih"][s["i"]] = -1e4  # i = 0
    x, c0 = rng.normal(size=(4, 5, 2)), rng.normal(size=(4, H))
    _, _, c_T, cache = reference.lstm_forward(x, None, c0, params)
    np.testing.assert_array_equal(c_T, c0)

    # And backward, a gradient on c flows to c_prev untouched.
    dc = rng.normal(size=(4, H))
    _, _, dc_prev, _ = reference.lstm_step_backward(np.zeros((4, H)), dc, cache[0])
    np.testing.assert_array_equal(dc_prev, dc)


def test_float32_stays_float32_everywhere():
    rng = np.random.default_rng(4)
    f32 = np.float32
    params = reference.init_params(3, 2, rng, dtype=f32)
    x = rng.normal(size=(2, 4, 3)).astype(f32)
    h0, c0 = np.zeros((2, 2), f32), np.ones((2, 2), f32)
    out, h_T, c_T, cache = reference.lstm_forward(x, h0, c0, params)
    dx, dh0, dc0, grads = reference.lstm_backward(
        np.ones_like(out), cache, np.ones_like(h_T), np.ones_like(c_T)
    )
    arrays = [out, h_T, c_T, dx, dh0, dc0, *grads.values(), *params.values()]
    for step in cache:
        arrays += list(step)
    step_out = reference.lstm_step_backward(np.ones_like(h0), None, cache[0])
    arrays += [*step_out[:3], *step_out[3].values()]
    assert all(a.dtype == f32 for a in arrays), [a.dtype for a in arrays]


def test_float64_stays_float64():
    rng = np.random.default_rng(5)
    params = reference.init_params(3, 2, rng)
    out, h_T, c_T, cache = reference.lstm_forward(rng.normal(size=(2, 3, 3)), None, None, params)
    dx, dh0, dc0, grads = reference.lstm_backward(out, cache)
    arrays = [out, h_T, c_T, dx, dh0, dc0, *grads.values(), *cache[0]]
    assert all(a.dtype == np.float64 for a in arrays)


def test_init_params_shapes_range_forget_bias_and_seed():
    p = reference.init_params(3, 4, rng=0)
    assert {k: v.shape for k, v in p.items()} == {
        "weight_ih": (16, 3), "weight_hh": (16, 4), "bias_ih": (16,), "bias_hh": (16,)
    }
    assert all(np.all(np.abs(v) <= 0.5) for v in p.values())  # 1 / sqrt(4)
    assert reference.check_params(p) == (3, 4)

    same = reference.init_params(3, 4, rng=np.random.default_rng(0))
    shifted = reference.init_params(3, 4, rng=0, forget_bias=1.0)
    f = reference.gate_slices(4)["f"]
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(p[name], same[name])
    np.testing.assert_array_equal(shifted["bias_ih"][f], p["bias_ih"][f] + 1.0)
    not_f = np.ones(16, bool)
    not_f[f] = False
    np.testing.assert_array_equal(shifted["bias_ih"][not_f], p["bias_ih"][not_f])
    np.testing.assert_array_equal(shifted["bias_hh"], p["bias_hh"])

    p32 = reference.init_params(2, 3, rng=0, dtype=np.float32, forget_bias=1.0)
    assert all(v.dtype == np.float32 for v in p32.values())
    with pytest.raises(ValueError, match="init_params: hidden_size must be a positive integer"):
        reference.init_params(3, 0)


def test_gate_slices_tile_the_4h_axis_in_order_ifgo():
    s = reference.gate_slices(3)
    assert list(s) == ["i", "f", "g", "o"]
    assert [(v.start, v.stop) for v in s.values()] == [(0, 3), (3, 6), (6, 9), (9, 12)]


def raises(exc, message):
    return pytest.raises(exc, match="^" + re.escape(message) + "$")


def test_error_messages_name_function_argument_and_shapes():
    p = reference.init_params(4, 3, rng=0)
    h = np.zeros((3, 3))
    with raises(ValueError, "lstm_step_forward: x has shape (3, 5) but weight_ih expects input "
                            "size 4"):
        reference.lstm_step_forward(np.zeros((3, 5)), h, h, p)
    with raises(ValueError, "lstm_step_forward: x has shape (4,) but expected "
                            "(batch, input_size)"):
        reference.lstm_step_forward(np.zeros(4), h, h, p)
    with raises(ValueError, "lstm_step_forward: h_prev has shape (3, 2) but expected (3, 3) "
                            "(batch, hidden_size)"):
        reference.lstm_step_forward(np.zeros((3, 4)), np.zeros((3, 2)), h, p)
    with raises(ValueError, "lstm_step_forward: c_prev has shape (2, 3) but expected (3, 3) "
                            "(batch, hidden_size)"):
        reference.lstm_step_forward(np.zeros((3, 4)), h, np.zeros((2, 3)), p)

    with raises(ValueError, "lstm_forward: x has shape (3, 4) but expected "
                            "(batch, time, input_size)"):
        reference.lstm_forward(np.zeros((3, 4)), None, None, p)
    with raises(ValueError, "lstm_forward: x has shape (3, 2, 5) but weight_ih expects input "
                            "size 4"):
        reference.lstm_forward(np.zeros((3, 2, 5)), None, None, p)
    with raises(ValueError, "lstm_forward: x has shape (3, 0, 4) but needs at least one time "
                            "step"):
        reference.lstm_forward(np.zeros((3, 0, 4)), None, None, p)
    with raises(ValueError, "lstm_forward: c0 has shape (3,) but expected (3, 3) "
                            "(batch, hidden_size)"):
        reference.lstm_forward(np.zeros((3, 2, 4)), None, np.zeros(3), p)

    out, _, _, cache = reference.lstm_forward(np.zeros((3, 2, 4)), None, None, p)
    with raises(ValueError, "lstm_backward: dout has shape (3, 3, 3) but expected (3, 2, 3) "
                            "(batch, time, hidden_size)"):
        reference.lstm_backward(np.zeros((3, 3, 3)), cache)
    with raises(ValueError, "lstm_backward: dh_T has shape (1, 3) but expected (3, 3) "
                            "(batch, hidden_size)"):
        reference.lstm_backward(out, cache, dh_T=np.zeros((1, 3)))
    with raises(ValueError, "lstm_step_backward: dh has shape (3, 2) but expected (3, 3) "
                            "(the shape of h)"):
        reference.lstm_step_backward(np.zeros((3, 2)), None, cache[0])


def test_bad_params_are_named():
    x, h = np.zeros((2, 4)), np.zeros((2, 3))
    p = reference.init_params(4, 3, rng=0)
    del p["bias_hh"]
    with raises(ValueError, "lstm_step_forward: params is missing bias_hh; expected keys "
                            "weight_ih, weight_hh, bias_ih, bias_hh"):
        reference.lstm_step_forward(x, h, h, p)

    p = reference.init_params(4, 3, rng=0)
    p["weight_hh"] = np.zeros((12, 4))
    with raises(ValueError, "lstm_step_forward: weight_hh has shape (12, 4) but expected "
                            "(4*hidden_size, hidden_size)"):
        reference.lstm_step_forward(x, h, h, p)

    p = reference.init_params(4, 3, rng=0)
    p["weight_ih"] = np.zeros((8, 4))
    with raises(ValueError, "lstm_forward: weight_ih has shape (8, 4) but expected "
                            "(4*hidden_size, input_size) = (12, input_size), since weight_hh "
                            "has hidden size 3"):
        reference.lstm_forward(x[:, None], None, None, p)

    p = reference.init_params(4, 3, rng=0)
    p["bias_ih"] = np.zeros(13)
    with raises(ValueError, "lstm_step_forward: bias_ih has shape (13,) but expected (12,), "
                            "since weight_hh has hidden size 3"):
        reference.lstm_step_forward(x, h, h, p)


def test_mixed_dtypes_are_refused_not_promoted():
    p32 = reference.init_params(4, 3, rng=0, dtype=np.float32)
    x64 = np.zeros((2, 1, 4))
    with raises(TypeError, "lstm_forward: x has dtype float64 but the params are float32; "
                           "convert one of them explicitly"):
        reference.lstm_forward(x64, None, None, p32)

    p = reference.init_params(4, 3, rng=0)
    p["bias_hh"] = p["bias_hh"].astype(np.float32)
    with raises(TypeError, "lstm_forward: params must share one floating dtype, got weight_ih "
                           "float64, weight_hh float64, bias_ih float64, bias_hh float32"):
        reference.lstm_forward(x64, None, None, p)

    p32 = reference.init_params(4, 3, rng=0, dtype=np.float32)
    _, h, _, cache = reference.lstm_forward(x64.astype(np.float32), None, None, p32)
    with raises(TypeError, "lstm_backward: dc_T has dtype float64 but the params are float32; "
                           "convert one of them explicitly"):
        reference.lstm_backward(None, cache, dc_T=np.zeros(h.shape))
