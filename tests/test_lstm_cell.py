"""lstm.LSTMCell and its variants, lstm.RNNCell and lstm.GRUCell: values against NumPy written from
each cell's equations (and the hand-derived reference), gradients against central differences
(mg.gradcheck, and a hand-made stop-gradient loss for the 1997 cell's truncated gradient),
initialisation, the graph each gate draws, and error messages."""

import numpy as np
import pytest
from strategies import numerical_grad

import minigrad as mg
from lstm import reference
from lstm.lstm_cell import LSTMCell
from lstm.rnn_cells import GRUCell, RNNCell
from minigrad.nn import Parameter

LSTM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
PEEPHOLE_NAMES = ("weight_ci", "weight_cf", "weight_co")
VARIANTS = ("standard", "vanilla1997", "peephole", "coupled", "no_input_gate", "no_forget_gate",
            "no_output_gate", "no_input_activation", "no_output_activation")


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def random_lstm_params(rng, I, H, variant="standard", scale=0.5):
    """Parameters larger than the init's, so the gates sit away from 0.5 and the checks bite."""
    shapes = {"weight_ih": (4 * H, I), "weight_hh": (4 * H, H), "bias_ih": (4 * H,), "bias_hh": (4 * H,)}
    if variant == "peephole":
        shapes.update(dict.fromkeys(PEEPHOLE_NAMES, (H,)))
    return {name: rng.normal(0, scale, shape) for name, shape in shapes.items()}


def numpy_lstm_step(variant, x, h, c, p):
    """One step of each variant in NumPy, from the fused (B, 4H) pre-activation: an implementation
    independent of the cell's per-gate blocks. Returns h, c, i, f, g, o (f None without a forget gate)."""
    H = h.shape[1]
    a = x @ p["weight_ih"].T + h @ p["weight_hh"].T + p["bias_ih"] + p["bias_hh"]
    a_i, a_f, a_g, a_o = (a[:, k * H : (k + 1) * H] for k in range(4))
    if variant == "standard":
        i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
        c = f * c + i * g
        return o * np.tanh(c), c, i, f, g, o
    if variant == "vanilla1997":
        i, g, o = sigmoid(a_i), 4 * sigmoid(a_g) - 2, sigmoid(a_o)
        c = c + i * g
        return o * (2 * sigmoid(c) - 1), c, i, None, g, o
    if variant == "peephole":
        i = sigmoid(a_i + p["weight_ci"] * c)
        f = sigmoid(a_f + p["weight_cf"] * c)
        g = np.tanh(a_g)
        c = f * c + i * g
        o = sigmoid(a_o + p["weight_co"] * c)
        return o * np.tanh(c), c, i, f, g, o
    if variant == "coupled":
        f, g, o = sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
        i = 1 - f
        c = f * c + i * g
        return o * np.tanh(c), c, i, f, g, o
    # Greff et al.'s ablations: the standard cell with one part removed
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
    if variant == "no_input_gate":
        c = f * c + g
        return o * np.tanh(c), c, None, f, g, o
    if variant == "no_forget_gate":
        c = c + i * g
        return o * np.tanh(c), c, i, None, g, o
    if variant == "no_output_gate":
        c = f * c + i * g
        return np.tanh(c), c, i, f, g, None
    if variant == "no_input_activation":
        c = f * c + i * a_g
        return o * np.tanh(c), c, i, f, a_g, o
    assert variant == "no_output_activation"
    c = f * c + i * g
    return o * c, c, i, f, g, o


def cell_from(params: dict, variant="standard", truncated_gradient=False) -> LSTMCell:
    return LSTMCell.from_parameters(
        {k: v if isinstance(v, Parameter) else Parameter(v) for k, v in params.items()},
        variant, truncated_gradient,
    )  # fmt: skip


def rel_error(a, b) -> float:
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def assert_gradcheck(fn, arrays: dict):
    """mg.gradcheck of fn(*tensors) at these arrays, each a float64 input requiring grad, with tolerances
    tight enough for float64 central differences."""
    inputs = [mg.tensor(a, requires_grad=True, name=n) for n, a in arrays.items()]
    assert mg.gradcheck(fn, inputs, atol=1e-8, rtol=1e-6)


# -- construction ---
def test_parameters_have_pytorch_layout_and_init():
    cell = LSTMCell(3, 5, rng=0)
    assert [(n, p.shape) for n, p in cell.named_parameters()] == [
        ("weight_ih", (20, 3)), ("weight_hh", (20, 5)), ("bias_ih", (20,)), ("bias_hh", (20,)),
    ]  # fmt: skip
    k = 1 / np.sqrt(5)
    for _, p in cell.named_parameters():
        assert p.requires_grad and p.dtype == np.float64
        assert np.all(np.abs(p.data) <= k)
    # the same draws, in the same order, as the reference's init
    expected = reference.init_params(3, 5, rng=0)
    for name in LSTM_NAMES:
        np.testing.assert_array_equal(getattr(cell, name).data, expected[name])


def test_forget_bias_is_added_to_the_forget_block_of_bias_ih_only():
    plain, biased = LSTMCell(2, 4, rng=3), LSTMCell(2, 4, forget_bias=1.0, rng=3)
    block = np.r_[np.zeros(4), np.ones(4), np.zeros(8)]
    np.testing.assert_array_equal(biased.bias_ih.data, plain.bias_ih.data + block)
    np.testing.assert_array_equal(biased.bias_hh.data, plain.bias_hh.data)
    np.testing.assert_array_equal(biased.weight_ih.data, plain.weight_ih.data)


def test_without_bias_there_are_no_bias_parameters():
    cell = LSTMCell(2, 3, bias=False, rng=0)
    assert [n for n, _ in cell.named_parameters()] == ["weight_ih", "weight_hh"]
    x = np.random.default_rng(1).normal(size=(4, 2))
    p = {n: getattr(cell, n).data for n in ("weight_ih", "weight_hh")}
    p["bias_ih"] = p["bias_hh"] = np.zeros(12)
    h, c = cell(x)
    eh, ec, *_ = numpy_lstm_step("standard", x, np.zeros((4, 3)), np.zeros((4, 3)), p)
    np.testing.assert_allclose(h.data, eh, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(c.data, ec, rtol=1e-13, atol=1e-15)


def test_peephole_cell_has_diagonal_weights():
    cell = LSTMCell(2, 3, variant="peephole", rng=0)
    assert [n for n, _ in cell.named_parameters()] == [*LSTM_NAMES, *PEEPHOLE_NAMES]
    assert all(getattr(cell, n).shape == (3,) for n in PEEPHOLE_NAMES)


def test_float32_cell_stays_float32():
    cell = LSTMCell(2, 3, rng=0, dtype=np.float32)
    h, c = cell(np.ones((1, 2)))  # a float64 array is converted
    assert h.dtype == c.dtype == np.float32
    for _, p in cell.named_parameters():
        assert p.dtype == np.float32


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        ({"input_size": 0, "hidden_size": 3}, ValueError,
         "LSTMCell: input_size must be a positive integer, got 0"),
        ({"input_size": 2, "hidden_size": 2.5}, ValueError,
         "LSTMCell: hidden_size must be a positive integer, got 2.5"),
        ({"input_size": 2, "hidden_size": 3, "variant": "gru"}, ValueError,
         "LSTMCell: variant must be one of standard, vanilla1997, peephole, coupled, no_input_gate, "
         "no_forget_gate, no_output_gate, no_input_activation, no_output_activation; got 'gru'"),
        ({"input_size": 2, "hidden_size": 3, "truncated_gradient": True}, ValueError,
         "LSTMCell: truncated_gradient is the 1997 cell's training rule; it needs variant='vanilla1997', "
         "got 'standard'"),
        ({"input_size": 2, "hidden_size": 3, "variant": "vanilla1997", "forget_bias": 1.0}, ValueError,
         "LSTMCell: forget_bias=1.0 cannot be used: the vanilla1997 cell has no forget gate"),
        ({"input_size": 2, "hidden_size": 3, "bias": False, "forget_bias": 1.0}, ValueError,
         "LSTMCell: forget_bias=1.0 cannot be used: bias=False"),
        ({"input_size": 2, "hidden_size": 3, "dtype": np.int32}, TypeError,
         "LSTMCell: dtype must be a floating dtype, got int32"),
    ],
)  # fmt: skip
def test_construction_errors(kwargs, error, text):
    with pytest.raises(error) as info:
        LSTMCell(**kwargs)
    assert str(info.value) == text


def test_input_errors_name_the_cell_the_argument_and_the_shapes():
    cell = LSTMCell(3, 4, rng=0)
    cases = [
        ((np.zeros((2, 5)),), ValueError,
         "LSTMCell(3, 4): x has shape (2, 5) but expected (batch, input_size) = (batch, 3)"),
        ((np.zeros(3),), ValueError,
         "LSTMCell(3, 4): x has shape (3,) but expected (batch, input_size) = (batch, 3)"),
        ((np.zeros((2, 3)), (np.zeros((2, 4)), np.zeros((3, 4)))), ValueError,
         "LSTMCell(3, 4): state c has shape (3, 4) but expected (batch, hidden_size) = (2, 4)"),
        ((np.zeros((2, 3)), (np.zeros((2, 5)), np.zeros((2, 4)))), ValueError,
         "LSTMCell(3, 4): state h has shape (2, 5) but expected (batch, hidden_size) = (2, 4)"),
        ((np.zeros((2, 3)), np.zeros((2, 4))), TypeError,
         "LSTMCell(3, 4): state must be a pair (h, c) or None, got ndarray"),
        ((mg.tensor(np.zeros((2, 3)), dtype=np.float32),), TypeError,
         "LSTMCell(3, 4): x has dtype float32 but the parameters are float64; "
         "convert one of them explicitly"),
    ]  # fmt: skip
    for args, error, text in cases:
        with pytest.raises(error) as info:
            cell(*args)
        assert str(info.value) == text


def test_from_parameters_shares_and_checks():
    cell = LSTMCell(2, 3, rng=0)
    twin = LSTMCell.from_parameters(dict(cell.named_parameters()))
    assert all(getattr(twin, n) is getattr(cell, n) for n in LSTM_NAMES)
    with pytest.raises(ValueError) as info:
        LSTMCell.from_parameters(dict(cell.named_parameters()), variant="peephole")
    assert str(info.value) == "LSTMCell.from_parameters: missing weight_ci, weight_cf, weight_co"
    bad = dict(cell.named_parameters(), weight_hh=Parameter(np.zeros((12, 4))))
    with pytest.raises(ValueError) as info:
        LSTMCell.from_parameters(bad)
    assert str(info.value) == (
        "LSTMCell: weight_ih has shape (12, 2) and dtype float64 but expected (16, 2) and float64 "
        "(hidden size 4 from weight_hh)"
    )


# -- values ---
@pytest.mark.parametrize("B, I, H", [(1, 1, 1), (2, 3, 4), (5, 2, 3)])
def test_standard_cell_matches_the_reference(B, I, H):
    rng = np.random.default_rng(B * 100 + I * 10 + H)
    p = random_lstm_params(rng, I, H)
    x, h0, c0 = rng.normal(size=(B, I)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    h, c = cell_from(p)(x, (h0, c0))
    eh, ec, cache = reference.lstm_step_forward(x, h0, c0, p)
    np.testing.assert_allclose(h.data, eh, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(c.data, ec, rtol=1e-13, atol=1e-15)
    step = cell_from(p).step(x, (h0, c0))
    for name in "ifgo":
        np.testing.assert_allclose(getattr(step, name).data, getattr(cache, name), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_matches_numpy_from_its_equations(variant):
    rng = np.random.default_rng(len(variant))
    B, I, H = 3, 4, 5
    p = random_lstm_params(rng, I, H, variant)
    x, h0, c0 = rng.normal(size=(B, I)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    step = cell_from(p, variant).step(x, (mg.tensor(h0), mg.tensor(c0)))
    expected = numpy_lstm_step(variant, x, h0, c0, p)
    for name, want in zip(step._fields, expected):
        got = getattr(step, name)
        if want is None:
            assert got is None, name
        else:
            np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-14, err_msg=name)


def test_a_missing_state_means_zeros():
    cell = LSTMCell(3, 2, rng=5)
    x = np.random.default_rng(0).normal(size=(4, 3))
    h, c = cell(x)
    h2, c2 = cell(x, (np.zeros((4, 2)), np.zeros((4, 2))))
    np.testing.assert_array_equal(h.data, h2.data)
    np.testing.assert_array_equal(c.data, c2.data)


@pytest.mark.parametrize("variant", VARIANTS)
def test_gate_values_lie_in_their_ranges(variant):
    rng = np.random.default_rng(11)
    p = random_lstm_params(rng, 3, 6, variant, scale=1.5)
    x, h0, c0 = rng.normal(size=(50, 3)), rng.normal(size=(50, 6)), 3 * rng.normal(size=(50, 6))
    s = cell_from(p, variant).step(x, (h0, c0))
    for gate in (s.i, s.f, s.o):
        if gate is not None:
            assert gate.data.min() > 0 and gate.data.max() < 1
    if variant == "no_input_activation":  # the ablation removes exactly these bounds
        assert np.abs(s.g.data).max() > 1
    else:
        g_bound = 2 if variant == "vanilla1997" else 1
        assert -g_bound < s.g.data.min() and s.g.data.max() < g_bound
    if variant in ("no_output_activation", "no_input_activation"):  # h = o * c, or c unbounded
        expected = numpy_lstm_step(variant, x, h0, c0, p)[0]
        np.testing.assert_allclose(s.h.data, expected, rtol=1e-12, atol=1e-14)
    else:
        assert np.abs(s.h.data).max() < 1
    if variant == "vanilla1997":
        assert s.g.data.max() > 1 or s.g.data.min() < -1  # the wider squashing is used, not just allowed
    if variant == "coupled":
        np.testing.assert_array_equal(s.i.data, 1 - s.f.data)


# -- gradients ---
@pytest.mark.parametrize("variant", VARIANTS)
def test_cell_gradients_match_central_differences(variant):
    rng = np.random.default_rng(20 + len(variant))
    B, I, H = 2, 3, 4
    p = random_lstm_params(rng, I, H, variant)
    arrays = {"x": rng.normal(size=(B, I)), "h0": rng.normal(size=(B, H)), "c0": rng.normal(size=(B, H)), **p}

    def fn(x, h0, c0, *params):
        return LSTMCell.from_parameters(dict(zip(p, params)), variant)(x, (h0, c0))

    assert_gradcheck(fn, arrays)


@pytest.mark.parametrize("variant, unused", [("vanilla1997", 1), ("coupled", 0), ("no_input_gate", 0),
                                             ("no_forget_gate", 1), ("no_output_gate", 3)])
def test_unused_gate_rows_get_zero_gradient(variant, unused):
    cell = LSTMCell(3, 2, variant=variant, rng=0)
    h, c = cell(np.ones((4, 3)), (np.ones((4, 2)), np.ones((4, 2))))
    (h.sum() + c.sum()).backward()
    rows = slice(2 * unused, 2 * unused + 2)
    for name in LSTM_NAMES:
        g = getattr(cell, name).grad.data
        assert np.all(g[rows] == 0), name
        assert np.any(np.delete(g, np.arange(8)[rows], axis=0) != 0), name


def test_vanilla1997_truncated_gradient_is_a_stop_gradient_on_the_recurrent_inputs():
    """Over two steps, the truncated gradient equals the exact derivative of a loss in which the h that
    step 2's gates read is a constant (its value), while the cell state still carries the error back."""
    rng = np.random.default_rng(4)
    B, I, H = 2, 3, 2
    p = random_lstm_params(rng, I, H, "vanilla1997")
    x1, x2 = rng.normal(size=(B, I)), rng.normal(size=(B, I))
    h0, c0 = rng.normal(size=(B, H)), rng.normal(size=(B, H))
    h1_value, c1_value, *_ = numpy_lstm_step("vanilla1997", x1, h0, c0, p)
    R = rng.normal(size=(B, H))

    def loss(params):
        # step 1 from (h0, c0); step 2's gates read h1 as a constant, c1 as a function of the params
        _, c1, *_ = numpy_lstm_step("vanilla1997", x1, h0, c0, params)
        h2, c2, *_ = numpy_lstm_step("vanilla1997", x2, h1_value, c1, params)
        return np.sum(h2 * R)

    names = list(p)
    numeric = numerical_grad(lambda *arrays: loss(dict(zip(names, arrays))), [p[n] for n in names])
    cell = cell_from(p, "vanilla1997", truncated_gradient=True)
    h0t = Parameter(h0)
    h1, c1 = cell(x1, (h0t, c0))
    np.testing.assert_allclose(c1.data, c1_value, rtol=1e-13)
    h2, _ = cell(x2, (h1, c1))
    (h2 * R).sum().backward()
    for name, num in zip(names, numeric):
        assert rel_error(getattr(cell, name).grad.data, num) < 1e-7, name
    assert h0t.grad is None  # h0 reaches the loss only through the recurrent inputs, all cut

    # without truncation the gradient is different: the cut changes something
    full = cell_from(p, "vanilla1997")
    h1, c1 = full(x1, (h0, c0))
    h2, _ = full(x2, (h1, c1))
    (h2 * R).sum().backward()
    assert rel_error(full.weight_hh.grad.data, cell.weight_hh.grad.data) > 1e-3


# -- the graph each gate draws ---
def test_each_gate_is_matmul_matmul_add_add_activation_in_its_scope():
    cell = LSTMCell(3, 4, rng=0)
    h, c = cell(mg.tensor(np.ones((2, 3))), (np.ones((2, 4)), np.ones((2, 4))))
    nodes = {}
    stack = [h.grad_fn]
    while stack:
        node = stack.pop()
        if id(node) in nodes:
            continue
        nodes[id(node)] = node
        stack.extend(a.grad_fn for a in node.inputs if isinstance(a, mg.Tensor) and a.grad_fn is not None)
    by_scope = {}
    for node in nodes.values():
        by_scope.setdefault(node.scope, []).append(node)
    for scope, act in [("input_gate", "sigmoid"), ("forget_gate", "sigmoid"),
                       ("cell_candidate", "tanh"), ("output_gate", "sigmoid")]:  # fmt: skip
        assert sorted(n.op for n in by_scope[scope]) == sorted(["matmul", "matmul", "add", "add", act]), scope
        gate = scope[0] if scope != "cell_candidate" else "g"
        operands = {a.name for n in by_scope[scope] for a in n.inputs if isinstance(a, mg.Tensor) and a.name}
        assert operands == {f"W_{gate}", f"U_{gate}", f"b_{gate}"}, scope
    assert sorted(n.op for n in by_scope["cell_state"]) == ["add", "mul", "mul"]
    assert sorted(n.op for n in by_scope["hidden_state"]) == ["mul", "tanh"]
    assert {n.op for n in by_scope["weights"]} == {"split", "transpose", "add"}


def test_gate_weights_are_the_transposed_row_blocks():
    cell = LSTMCell(3, 2, rng=1)
    w = cell.gate_weights()
    b = cell.bias_ih.data + cell.bias_hh.data
    for k, gate in enumerate("ifgo"):
        W, U, bias = getattr(w, gate)
        np.testing.assert_array_equal(W.data, cell.weight_ih.data[2 * k : 2 * k + 2].T)
        np.testing.assert_array_equal(U.data, cell.weight_hh.data[2 * k : 2 * k + 2].T)
        np.testing.assert_array_equal(bias.data, b[2 * k : 2 * k + 2])


# -- RNNCell and GRUCell ---
def numpy_gru(x, h, p):
    H = h.shape[1]
    gi = x @ p["weight_ih"].T + p["bias_ih"]
    gh = h @ p["weight_hh"].T + p["bias_hh"]
    r = sigmoid(gi[:, :H] + gh[:, :H])
    z = sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
    n = np.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
    return (1 - z) * n + z * h


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_cell_matches_numpy_and_central_differences(nonlinearity):
    rng = np.random.default_rng(8)
    B, I, H = 3, 2, 4
    cell = RNNCell(I, H, nonlinearity=nonlinearity, rng=0)
    assert [(n, p.shape) for n, p in cell.named_parameters()] == [
        ("weight_ih", (4, 2)), ("weight_hh", (4, 4)), ("bias_ih", (4,)), ("bias_hh", (4,)),
    ]  # fmt: skip
    x, h0 = rng.normal(size=(B, I)), rng.normal(size=(B, H))
    p = {n: q.data for n, q in cell.named_parameters()}
    a = x @ p["weight_ih"].T + p["bias_ih"] + h0 @ p["weight_hh"].T + p["bias_hh"]
    want = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)
    np.testing.assert_allclose(cell(x, h0).data, want, rtol=1e-13, atol=1e-15)

    def fn(x, h0, *params):
        c = RNNCell(I, H, nonlinearity=nonlinearity, rng=0)
        for n, t in zip(p, params):
            setattr(c, n, t)
        return c(x, h0)

    assert_gradcheck(fn, {"x": x, "h0": h0, **p})


def test_gru_cell_matches_numpy_and_central_differences():
    rng = np.random.default_rng(9)
    B, I, H = 3, 2, 4
    cell = GRUCell(I, H, rng=0)
    assert [(n, p.shape) for n, p in cell.named_parameters()] == [
        ("weight_ih", (12, 2)), ("weight_hh", (12, 4)), ("bias_ih", (12,)), ("bias_hh", (12,)),
    ]  # fmt: skip
    p = {n: rng.normal(0, 0.7, q.shape) for n, q in cell.named_parameters()}
    x, h0 = rng.normal(size=(B, I)), rng.normal(size=(B, H))
    cell.load_state_dict(p)
    np.testing.assert_allclose(cell(x, h0).data, numpy_gru(x, h0, p), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(cell(x).data, numpy_gru(x, np.zeros((B, H)), p), rtol=1e-13, atol=1e-15)

    def fn(x, h0, *params):
        c = GRUCell(I, H, rng=0)
        for n, t in zip(p, params):
            setattr(c, n, t)
        return c(x, h0)

    assert_gradcheck(fn, {"x": x, "h0": h0, **p})


def test_gru_scopes_and_errors():
    cell = GRUCell(2, 3, rng=0)
    h = cell(mg.tensor(np.ones((1, 2))))
    scopes, stack = set(), [h.grad_fn]
    while stack:
        node = stack.pop()
        scopes.add(node.scope)
        stack.extend(a.grad_fn for a in node.inputs if isinstance(a, mg.Tensor) and a.grad_fn is not None)
    assert scopes == {"weights", "reset_gate", "update_gate", "candidate", "hidden_state"}
    with pytest.raises(ValueError) as info:
        cell(np.ones((1, 2)), np.ones((2, 3)))
    assert str(info.value) == (
        "GRUCell(2, 3): state h has shape (2, 3) but expected (batch, hidden_size) = (1, 3)"
    )
    with pytest.raises(ValueError) as info:
        RNNCell(2, 3, nonlinearity="sigmoid")
    assert str(info.value) == "RNNCell: nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"


def test_1997_blocks_share_their_gates_and_get_blockwise_biases():
    # 2 blocks of 2 cells: the cells of a block see the same input and output gate values
    cell = LSTMCell(3, 4, variant="vanilla1997", truncated_gradient=True, cells_per_block=2,
                    gate_bias={"i": [-3.0, -6.0], "o": [-1.0, -2.0]}, rng=0)
    H = 4
    np.testing.assert_array_equal(cell.bias_ih.data[[0, 1, 3 * H, 3 * H + 1]], [-3.0, -6.0, -1.0, -2.0])
    np.testing.assert_array_equal(cell.bias_hh.data[[0, 1, 3 * H, 3 * H + 1]], 0.0)
    rng = np.random.default_rng(1)
    step = cell.step(rng.normal(size=(2, 3)), (rng.normal(size=(2, H)), rng.normal(size=(2, H))))
    i, o = step.i.numpy(), step.o.numpy()
    np.testing.assert_array_equal(i[:, 0], i[:, 1])
    np.testing.assert_array_equal(i[:, 2], i[:, 3])
    np.testing.assert_array_equal(o[:, 2], o[:, 3])
    # block 1's input gate is sigmoid of its own pre-activation, computed here by hand
    x, h = rng.normal(size=(1, 3)), rng.normal(size=(1, H))
    a = x @ cell.weight_ih.data[1] + h @ cell.weight_hh.data[1] + cell.bias_ih.data[1] + cell.bias_hh.data[1]
    i = cell.step(x, (h, np.zeros((1, H)))).i.numpy()
    np.testing.assert_allclose(i[0, 2:], np.repeat(1 / (1 + np.exp(-a)), 2), rtol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    ({"cells_per_block": 3},
     "LSTMCell: cells_per_block must be a positive integer dividing hidden_size 4, got 3"),
    ({"cells_per_block": 2, "variant": "standard"},
     "LSTMCell: cells_per_block=2 needs variant='vanilla1997' (the 1997 memory blocks)"),
    ({"cells_per_block": 2, "gate_bias": {"i": [1.0]}},
     "LSTMCell: gate_bias['i'] needs one value per block (2), got 1"),
    ({"gate_bias": {"f": [1.0] * 4}},
     "LSTMCell: gate_bias['f'] cannot be set: the gates are 'i', 'f', 'o', the vanilla1997 cell has no 'f', "
     "and bias=False has no biases"),
])
def test_bad_blocks_are_refused_by_name(kwargs, message):
    kwargs = {"variant": "vanilla1997"} | kwargs
    with pytest.raises(ValueError) as err:
        LSTMCell(3, 4, **kwargs)
    assert str(err.value) == message
