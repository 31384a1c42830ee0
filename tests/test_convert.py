"""Weight layout conversions: each foreign layout is run by a small forward pass written here from
that layout's own conventions, and must agree with lstm.reference on the converted weights."""

import re

import numpy as np
import pytest

from lstm import convert, reference
from lstm.reference import PARAM_NAMES


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def keras_lstm(x, h0, c0, kernel, recurrent_kernel, bias):
    """Keras' LSTM cell: z = x @ kernel + h @ recurrent_kernel + bias, split into i, f, c, o."""
    h, c, outs = h0, c0, []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent_kernel + bias
        z_i, z_f, z_c, z_o = np.split(z, 4, axis=1)
        c = sigmoid(z_f) * c + sigmoid(z_i) * np.tanh(z_c)
        h = sigmoid(z_o) * np.tanh(c)
        outs.append(h)
    return np.stack(outs, axis=1)


def cs231n_lstm(x, h0, Wx, Wh, b):
    """The cs231n LSTM: a = x Wx + h Wh + b, split into ai, af, ao, ag; c starts at zero."""
    H = Wh.shape[0]
    prev_h, prev_c, outs = h0, np.zeros_like(h0), []
    for t in range(x.shape[1]):
        a = x[:, t].dot(Wx) + prev_h.dot(Wh) + b
        ai, af, ao, ag = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        next_c = sigmoid(af) * prev_c + sigmoid(ai) * np.tanh(ag)
        next_h = sigmoid(ao) * np.tanh(next_c)
        outs.append(next_h)
        prev_h, prev_c = next_h, next_c
    return np.stack(outs, axis=1)


def random_params(rng, I, H, dtype=np.float64):
    """Canonical params with two different non-zero biases, scaled so the gates do work."""
    shapes = {"weight_ih": (4 * H, I), "weight_hh": (4 * H, H), "bias_ih": (4 * H,),
              "bias_hh": (4 * H,)}
    return {name: rng.normal(0, 0.7, shapes[name]).astype(dtype) for name in PARAM_NAMES}


def assert_params_equal(got, want):
    assert set(got) == set(want)
    for name in want:
        assert got[name].dtype == want[name].dtype, name
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


SIZES = [(1, 1, 1, 1), (2, 3, 4, 5), (3, 4, 2, 3)]  # (B, T, I, H)


@pytest.mark.parametrize("B, T, I, H", SIZES)
def test_keras_weights_run_the_same_lstm(B, T, I, H):
    rng = np.random.default_rng(10 + H)
    keras = [rng.normal(0, 0.7, (I, 4 * H)), rng.normal(0, 0.7, (H, 4 * H)),
             rng.normal(0, 0.7, 4 * H)]
    x, h0, c0 = rng.normal(size=(B, T, I)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    out, _, _, _ = reference.lstm_forward(x, h0, c0, convert.from_keras(keras))
    np.testing.assert_allclose(out, keras_lstm(x, h0, c0, *keras), rtol=0, atol=1e-12)

    params = random_params(rng, I, H)
    out, _, _, _ = reference.lstm_forward(x, h0, c0, params)
    np.testing.assert_allclose(
        keras_lstm(x, h0, c0, *convert.to_keras(params)), out, rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("B, T, I, H", SIZES)
def test_cs231n_weights_run_the_same_lstm(B, T, I, H):
    rng = np.random.default_rng(20 + H)
    d = {"Wx": rng.normal(0, 0.7, (I, 4 * H)), "Wh": rng.normal(0, 0.7, (H, 4 * H)),
         "b": rng.normal(0, 0.7, 4 * H)}
    x, h0 = rng.normal(size=(B, T, I)), rng.normal(size=(B, H))
    out, _, _, _ = reference.lstm_forward(x, h0, None, convert.from_cs231n(d))
    np.testing.assert_allclose(out, cs231n_lstm(x, h0, **d), rtol=0, atol=1e-12)

    params = random_params(rng, I, H)
    out, _, _, _ = reference.lstm_forward(x, h0, None, params)
    np.testing.assert_allclose(
        cs231n_lstm(x, h0, **convert.to_cs231n(params)), out, rtol=0, atol=1e-12
    )


def test_single_bias_round_trips_are_exact():
    rng = np.random.default_rng(0)
    keras = [rng.normal(size=(3, 8)), rng.normal(size=(2, 8)), rng.normal(size=8)]
    for got, want in zip(convert.to_keras(convert.from_keras(keras)), keras, strict=True):
        np.testing.assert_array_equal(got, want)
    d = {"Wx": rng.normal(size=(3, 8)), "Wh": rng.normal(size=(2, 8)), "b": rng.normal(size=8)}
    back = convert.to_cs231n(convert.from_cs231n(d))
    assert set(back) == set(d)
    for key in d:
        np.testing.assert_array_equal(back[key], d[key])

    # Canonical -> one bias -> canonical: the biases come back summed into bias_ih.
    params = random_params(rng, 3, 2)
    merged = dict(params, bias_ih=params["bias_ih"] + params["bias_hh"],
                  bias_hh=np.zeros_like(params["bias_hh"]))
    assert_params_equal(convert.from_keras(convert.to_keras(params)), merged)
    assert_params_equal(convert.from_cs231n(convert.to_cs231n(params)), merged)


def test_torch_round_trips_are_exact_and_copy():
    rng = np.random.default_rng(1)
    params = random_params(rng, 3, 2, dtype=np.float32)
    original = {name: value.copy() for name, value in params.items()}
    state = convert.to_torch(params, layer=1)
    assert set(state) == {"weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"}
    back = convert.from_torch({**state, "weight_ih_l0": np.zeros(1)}, layer=1)
    assert_params_equal(back, original)

    # Outputs are copies, not views of their inputs.
    saved = {key: value.copy() for key, value in state.items()}
    for value in back.values():
        value += 1
    for key, value in state.items():
        np.testing.assert_array_equal(value, saved[key])
    for value in state.values():
        value += 1
    assert_params_equal(params, original)
    assert_params_equal(convert.from_torch(convert.to_torch(params, layer=1), layer=1), original)

    as_lists = {key: value.tolist() for key, value in convert.to_torch(params).items()}
    assert_params_equal(convert.from_torch(as_lists),
                        {k: v.astype(np.float64) for k, v in params.items()})


def test_dtype_is_kept():
    rng = np.random.default_rng(2)
    keras = [a.astype(np.float32) for a in
             (rng.normal(size=(3, 8)), rng.normal(size=(2, 8)), rng.normal(size=8))]
    params = convert.from_keras(keras)
    assert all(v.dtype == np.float32 for v in params.values())
    assert all(v.dtype == np.float32 for v in convert.to_cs231n(params).values())


def test_reorder_gates_moves_whole_blocks_along_any_axis():
    labels = np.repeat(np.arange(4), 2)  # [0 0 1 1 2 2 3 3]: block k is gate "abcd"[k]
    np.testing.assert_array_equal(
        convert.reorder_gates(labels, "abcd", "cadb"), [2, 2, 0, 0, 3, 3, 1, 1]
    )
    matrix = np.tile(labels, (3, 1))  # (3, 8), gates along axis 1
    for axis in (1, -1):
        got = convert.reorder_gates(matrix, ["a", "b", "c", "d"], ("d", "c", "b", "a"), axis)
        np.testing.assert_array_equal(got, np.tile(labels[::-1], (3, 1)))
    np.testing.assert_array_equal(
        convert.reorder_gates(convert.reorder_gates(matrix.T, "ifog", "ifgo"), "ifgo", "ifog"),
        matrix.T,
    )
    # cs231n's i, f, o, g against ours i, f, g, o: the last two blocks swap.
    np.testing.assert_array_equal(
        convert.reorder_gates(labels, convert.CS231N_ORDER, "ifgo"), [0, 0, 1, 1, 3, 3, 2, 2]
    )


def raises(exc, message):
    return pytest.raises(exc, match="^" + re.escape(message) + "$")


def test_reorder_gates_errors():
    with raises(ValueError, "reorder_gates: src_order 'ifgo' and dst_order 'ifg' must name the "
                            "same gates, each once"):
        convert.reorder_gates(np.zeros(8), "ifgo", "ifg")
    with raises(ValueError, "reorder_gates: src_order 'iigo' and dst_order 'iigo' must name the "
                            "same gates, each once"):
        convert.reorder_gates(np.zeros(8), "iigo", "iigo")
    with raises(ValueError, "reorder_gates: array has shape (3, 10), whose axis 1 (size 10) "
                            "does not split into 4 gate blocks"):
        convert.reorder_gates(np.zeros((3, 10)), "ifgo", "ifog", axis=1)
    with raises(ValueError, "reorder_gates: axis 2 is out of range for shape (3, 8)"):
        convert.reorder_gates(np.zeros((3, 8)), "ifgo", "ifog", axis=2)


def test_bad_foreign_weights_say_what_was_expected():
    with raises(ValueError, "from_keras: expected 3 arrays [kernel (input_size, 4*hidden_size), "
                            "recurrent_kernel (hidden_size, 4*hidden_size), bias "
                            "(4*hidden_size,)] but got 2"):
        convert.from_keras([np.zeros((3, 8)), np.zeros((2, 8))])
    with raises(ValueError, "from_keras: recurrent_kernel has shape (2, 12) but expected "
                            "(hidden_size, 4*hidden_size)"):
        convert.from_keras([np.zeros((3, 12)), np.zeros((2, 12)), np.zeros(12)])
    with raises(ValueError, "from_keras: kernel has shape (8, 3) but expected "
                            "(input_size, 4*hidden_size) = (input_size, 8), since "
                            "recurrent_kernel has hidden size 2"):
        convert.from_keras([np.zeros((8, 3)), np.zeros((2, 8)), np.zeros(8)])
    with raises(ValueError, "from_cs231n: b has shape (2, 4) but expected (8,), since Wh has "
                            "hidden size 2"):
        convert.from_cs231n({"Wx": np.zeros((3, 8)), "Wh": np.zeros((2, 8)),
                             "b": np.zeros((2, 4))})
    with raises(ValueError, "from_cs231n: missing Wh, b; expected keys Wx, Wh, b"):
        convert.from_cs231n({"Wx": np.zeros((3, 8))})
    with raises(ValueError, "from_torch: state_dict is missing bias_ih_l1, bias_hh_l1; expected "
                            "keys weight_ih_l1, weight_hh_l1, bias_ih_l1, bias_hh_l1"):
        convert.from_torch({"weight_ih_l1": np.zeros((8, 3)), "weight_hh_l1": np.zeros((8, 2))},
                           layer=1)
    with raises(ValueError, "to_torch: layer must be a non-negative integer, got -1"):
        convert.to_torch(reference.init_params(3, 2, rng=0), layer=-1)


def test_bad_canonical_params_are_named_by_the_converter():
    params = reference.init_params(3, 2, rng=0)
    params["bias_hh"] = np.zeros(7)
    for fn in (convert.to_keras, convert.to_cs231n, convert.to_torch):
        with raises(ValueError, f"{fn.__name__}: bias_hh has shape (7,) but expected (8,), "
                                "since weight_hh has hidden size 2"):
            fn(params)
    keras = [np.zeros((3, 8), np.float32), np.zeros((2, 8), np.float32), np.zeros(8)]
    with pytest.raises(TypeError, match="^from_keras: params must share one floating dtype"):
        convert.from_keras(keras)


@pytest.mark.oracle
@pytest.mark.parametrize("B, T, I, H", SIZES)
def test_reference_matches_torch_lstm(B, T, I, H):
    """PyTorch as an independent oracle, for values and gradients, with weights via to_torch."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(30 + H)
    params = random_params(rng, I, H)
    x, h0, c0 = rng.normal(size=(B, T, I)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    R, R2, R3 = rng.normal(size=(B, T, H)), rng.normal(size=(B, H)), rng.normal(size=(B, H))

    lstm = torch.nn.LSTM(I, H, batch_first=True, dtype=torch.float64)
    lstm.load_state_dict({k: torch.from_numpy(v) for k, v in convert.to_torch(params).items()})
    tx, th0, tc0 = (torch.tensor(a, requires_grad=True) for a in (x, h0[None], c0[None]))
    t_out, (t_h, t_c) = lstm(tx, (th0, tc0))
    loss = (t_out * torch.from_numpy(R)).sum() + (t_h[0] * torch.from_numpy(R2)).sum() \
        + (t_c[0] * torch.from_numpy(R3)).sum()
    loss.backward()

    out, h_T, c_T, cache = reference.lstm_forward(x, h0, c0, params)
    dx, dh0, dc0, grads = reference.lstm_backward(R, cache, dh_T=R2, dc_T=R3)
    pairs = [(out, t_out), (h_T, t_h[0]), (c_T, t_c[0]), (dx, tx.grad), (dh0, th0.grad[0]),
             (dc0, tc0.grad[0])]
    pairs += [(grads[name], getattr(lstm, f"{name}_l0").grad) for name in PARAM_NAMES]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=1e-12)

    # A two-layer torch LSTM: from_torch(layer=1) reads the second layer's weights.
    deep = torch.nn.LSTM(I, H, num_layers=2, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        t_out = deep(torch.from_numpy(x))[0].numpy()
    state = deep.state_dict()
    out = x
    for layer in (0, 1):
        out, _, _, _ = reference.lstm_forward(out, None, None, convert.from_torch(state, layer))
    np.testing.assert_allclose(out, t_out, rtol=0, atol=1e-12)
