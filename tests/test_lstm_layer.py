"""lstm.LSTM: forward and every gradient against the hand-derived reference (chained layer by layer),
central differences, PyTorch's names and layout (and torch.nn.LSTM itself when installed), Keras'
weights, truncated backpropagation through time, the scopes of the unrolled graph, and errors."""

import numpy as np
import pytest

import minigrad as mg
from lstm import reference
from lstm.layer import LSTM
from lstm.lstm_cell import LSTMCell, LSTMStep

NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
PARTS = ("input_gate", "forget_gate", "cell_candidate", "output_gate", "cell_state", "hidden_state")


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def randomize(layer: LSTM, rng, scale=0.5) -> dict:
    """Give every parameter larger random values than the init's (so the gates sit away from 0.5)."""
    state = {n: rng.normal(0, scale, p.shape) for n, p in layer.named_parameters()}
    layer.load_state_dict(state)
    return state


def rel_error(a, b) -> float:
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def graph_nodes(*outputs) -> list:
    """Every node reachable from the outputs, each once."""
    seen, nodes = set(), []
    stack = [t.grad_fn for t in outputs if t.grad_fn is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        stack.extend(a.grad_fn for a in node.inputs if isinstance(a, mg.Tensor) and a.grad_fn is not None)
    return nodes


# -- parameters ---
def test_parameter_names_and_shapes_are_pytorchs():
    layer = LSTM(3, 5, num_layers=3, rng=0)
    expected = []
    for k in range(3):
        I = 3 if k == 0 else 5
        expected += [(f"weight_ih_l{k}", (20, I)), (f"weight_hh_l{k}", (20, 5)),
                     (f"bias_ih_l{k}", (20,)), (f"bias_hh_l{k}", (20,))]  # fmt: skip
    assert [(n, p.shape) for n, p in layer.named_parameters()] == expected
    assert list(layer.state_dict()) == [n for n, _ in expected]
    assert layer.num_parameters() == 4 * (5 * 3 + 5 * 5 + 2 * 5) + 2 * 4 * (5 * 5 + 5 * 5 + 2 * 5)


def test_variant_and_bias_options_reach_every_layer():
    layer = LSTM(2, 3, num_layers=2, variant="peephole", bias=False, rng=0)
    assert [n for n, _ in layer.named_parameters()] == [
        "weight_ih_l0", "weight_hh_l0", "weight_ci_l0", "weight_cf_l0", "weight_co_l0",
        "weight_ih_l1", "weight_hh_l1", "weight_ci_l1", "weight_cf_l1", "weight_co_l1",
    ]  # fmt: skip
    assert all(c.variant == "peephole" and not c.bias for c in layer.cells)
    biased = LSTM(2, 3, num_layers=2, forget_bias=1.0, rng=0)
    plain = LSTM(2, 3, num_layers=2, rng=0)
    for k in range(2):
        diff = getattr(biased, f"bias_ih_l{k}").data - getattr(plain, f"bias_ih_l{k}").data
        np.testing.assert_allclose(diff, np.r_[np.zeros(3), np.ones(3), np.zeros(6)], atol=1e-15)


def test_cells_share_the_layers_parameters():
    layer = LSTM(2, 3, num_layers=2, rng=0)
    cell = layer.cell(1)
    assert isinstance(cell, LSTMCell) and cell.input_size == 3
    assert cell.weight_hh is layer.weight_hh_l1 and layer.cells[0].weight_ih is layer.weight_ih_l0
    layer.load_state_dict({n: np.zeros(p.shape) for n, p in layer.named_parameters()})
    assert not cell.weight_hh.data.any()  # loading changed the Parameters the cell holds
    with pytest.raises(IndexError) as info:
        layer.cell(2)
    assert str(info.value) == "LSTM.cell: layer 2 does not exist; num_layers is 2"


def test_state_dict_round_trip():
    rng = np.random.default_rng(0)
    a, b = LSTM(2, 3, num_layers=2, rng=1), LSTM(2, 3, num_layers=2, rng=2)
    randomize(a, rng)
    b.load_state_dict(a.state_dict())
    x = rng.normal(size=(2, 4, 2))
    np.testing.assert_array_equal(a(x).data, b(x).data)


# -- against the reference ---
def reference_stack(x, h0, c0, layers: list, R, Rh, Rc):
    """Forward through len(layers) reference layers and the backward of
    loss = <R, out> + <Rh, h_n> + <Rc, c_n>, chained by hand: layer k's dx is layer k-1's dout."""
    inputs, caches, h_n, c_n = [x], [], [], []
    for k, p in enumerate(layers):
        out, h_T, c_T, cache = reference.lstm_forward(inputs[-1], h0[k], c0[k], p)
        inputs.append(out)
        caches.append(cache)
        h_n.append(h_T)
        c_n.append(c_T)
    grads, dout, dh0, dc0 = [None] * len(layers), R, [None] * len(layers), [None] * len(layers)
    for k in reversed(range(len(layers))):
        dout, dh0[k], dc0[k], grads[k] = reference.lstm_backward(dout, caches[k], Rh[k], Rc[k])
    return inputs[-1], np.stack(h_n), np.stack(c_n), dout, np.stack(dh0), np.stack(dc0), grads


@pytest.mark.parametrize(
    "B, T, I, H, L, with_state",
    [(1, 1, 1, 1, 1, False), (2, 3, 4, 5, 1, True), (3, 5, 2, 3, 1, False), (2, 4, 3, 2, 3, True),
     (1, 2, 2, 4, 3, False), (4, 6, 5, 3, 3, True)],
)  # fmt: skip
def test_forward_and_every_gradient_match_the_reference(B, T, I, H, L, with_state):
    rng = np.random.default_rng(B * 1000 + T * 100 + I * 10 + H + L)
    layer = LSTM(I, H, num_layers=L, return_sequences=True, return_state=True, rng=0)
    state = randomize(layer, rng)
    x_data = rng.normal(size=(B, T, I))
    h0_data = rng.normal(size=(L, B, H)) if with_state else np.zeros((L, B, H))
    c0_data = rng.normal(size=(L, B, H)) if with_state else np.zeros((L, B, H))
    R, Rh, Rc = rng.normal(size=(B, T, H)), rng.normal(size=(L, B, H)), rng.normal(size=(L, B, H))

    x = mg.tensor(x_data, requires_grad=True)
    h0, c0 = mg.tensor(h0_data, requires_grad=True), mg.tensor(c0_data, requires_grad=True)
    out, h_n, c_n = layer(x, (h0, c0) if with_state else None)
    ((out * R).sum() + (h_n * Rh).sum() + (c_n * Rc).sum()).backward()

    layers = [{n: state[f"{n}_l{k}"] for n in NAMES} for k in range(L)]
    e_out, e_h, e_c, dx, dh0, dc0, grads = reference_stack(x_data, h0_data, c0_data, layers, R, Rh, Rc)
    for got, want in [(out, e_out), (h_n, e_h), (c_n, e_c)]:
        np.testing.assert_allclose(got.data, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad.data, dx, rtol=1e-10, atol=1e-12)
    if with_state:
        np.testing.assert_allclose(h0.grad.data, dh0, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(c0.grad.data, dc0, rtol=1e-10, atol=1e-12)
    for k in range(L):
        for n in NAMES:
            got = getattr(layer, f"{n}_l{k}").grad.data
            np.testing.assert_allclose(got, grads[k][n], rtol=1e-10, atol=1e-12, err_msg=f"{n}_l{k}")


def test_two_layer_sequence_gradients_match_central_differences():
    rng = np.random.default_rng(3)
    B, T, I, H, L = 2, 3, 2, 3, 2
    layer = LSTM(I, H, num_layers=L, return_sequences=True, return_state=True, rng=0)
    state = randomize(layer, rng)
    names = list(state)

    def fn(x, h0, c0, *params):
        for n, p in zip(names, params):
            setattr(layer, n, p)  # the layer (and the cells it hands out) now computes with these
        return layer(x, (h0, c0))

    arrays = {"x": rng.normal(size=(B, T, I)), "h0": rng.normal(size=(L, B, H)),
              "c0": rng.normal(size=(L, B, H)), **state}  # fmt: skip
    inputs = [mg.tensor(a, requires_grad=True, name=n) for n, a in arrays.items()]
    assert mg.gradcheck(fn, inputs, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("variant", ["vanilla1997", "peephole", "coupled"])
def test_variant_layers_run_their_cells_step_by_step(variant):
    rng = np.random.default_rng(5)
    layer = LSTM(2, 3, num_layers=2, return_sequences=True, return_state=True, variant=variant, rng=0)
    randomize(layer, rng)
    x = rng.normal(size=(2, 4, 2))
    out, h_n, c_n = layer(x)
    inputs = [x[:, t] for t in range(4)]
    for k, cell in enumerate(layer.cells):
        h = c = np.zeros((2, 3))
        outputs = []
        for x_t in inputs:
            h, c = cell(x_t, (h, c))
            outputs.append(h.data)
        np.testing.assert_allclose(h_n.data[k], h.data, rtol=1e-14)
        np.testing.assert_allclose(c_n.data[k], c.data, rtol=1e-14)
        inputs = outputs
    np.testing.assert_allclose(out.data, np.stack(inputs, axis=1), rtol=1e-14)


# -- outputs ---
def test_outputs_by_return_sequences_and_return_state():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 6, 3))
    seq = LSTM(3, 5, num_layers=2, return_sequences=True, rng=0)
    last = LSTM(3, 5, num_layers=2, rng=0)
    both = LSTM(3, 5, num_layers=2, return_sequences=True, return_state=True, rng=0)
    assert seq(x).shape == (4, 6, 5)
    assert last(x).shape == (4, 5)
    np.testing.assert_array_equal(last(x).data, seq(x).data[:, -1])
    out, h_n, c_n = both(x)
    assert out.shape == (4, 6, 5) and h_n.shape == c_n.shape == (2, 4, 5)
    np.testing.assert_array_equal(h_n.data[-1], out.data[:, -1])


def test_return_gates_gives_every_steps_gate_values():
    rng = np.random.default_rng(2)
    layer = LSTM(3, 4, num_layers=2, return_sequences=True, rng=0)
    randomize(layer, rng)
    x = rng.normal(size=(2, 5, 3))
    out, gates = layer(x, return_gates=True)
    assert len(gates) == 2 and all(len(steps) == 5 for steps in gates)
    assert all(isinstance(s, LSTMStep) for steps in gates for s in steps)
    # step 2 of layer 1 again, by hand with the cell: same gates
    s = layer.cell(1).step(gates[0][2].h, (gates[1][1].h, gates[1][1].c))
    for name in LSTMStep._fields:
        np.testing.assert_array_equal(getattr(gates[1][2], name).data, getattr(s, name).data)
    np.testing.assert_array_equal(out.data[:, 2], gates[1][2].h.data)


def test_float32_layer_stays_float32():
    layer = LSTM(2, 3, return_state=True, rng=0, dtype=np.float32)
    out, h_n, c_n = layer(np.ones((1, 2, 2)))
    assert out.dtype == h_n.dtype == c_n.dtype == np.float32


# -- truncated backpropagation through time ---
def test_a_detached_state_stops_the_gradient_at_the_chunk_boundary():
    rng = np.random.default_rng(4)
    layer = LSTM(2, 3, num_layers=2, return_sequences=True, return_state=True, rng=0)
    randomize(layer, rng)
    chunk1 = mg.tensor(rng.normal(size=(2, 4, 2)), requires_grad=True)
    chunk2 = rng.normal(size=(2, 4, 2))
    R = rng.normal(size=(2, 4, 3))
    _, h_n, c_n = layer(chunk1)
    out2, _, _ = layer(chunk2, (h_n.detach(), c_n.detach()))
    (out2 * R).sum().backward()
    assert chunk1.grad is None  # nothing flowed into the previous chunk
    truncated = {n: p.grad.data.copy() for n, p in layer.named_parameters()}

    # the same as a fresh sequence started from the boundary's values
    layer.zero_grad()
    out_fresh, _, _ = layer(chunk2, (h_n.data.copy(), c_n.data.copy()))
    (out_fresh * R).sum().backward()
    for n, p in layer.named_parameters():
        np.testing.assert_allclose(truncated[n], p.grad.data, rtol=1e-14, err_msg=n)

    # and not what the undetached state gives, which carries gradient back into chunk 1
    layer.zero_grad()
    _, h_n, c_n = layer(chunk1)
    out2, _, _ = layer(chunk2, (h_n, c_n))
    (out2 * R).sum().backward()
    assert chunk1.grad is not None and np.abs(chunk1.grad.data).max() > 0
    assert rel_error(layer.weight_hh_l0.grad.data, truncated["weight_hh_l0"]) > 1e-3


# -- the unrolled graph ---
def test_scopes_name_the_layer_the_step_and_the_part():
    layer = LSTM(3, 4, num_layers=2, return_sequences=True, rng=0)
    out = layer(mg.tensor(np.ones((2, 5, 3)), requires_grad=True))
    nodes = graph_nodes(out)
    step3 = [n for n in nodes if n.scope.startswith("lstm/l0/t3/")]
    assert {n.scope for n in step3} == {f"lstm/l0/t3/{part}" for part in PARTS}
    forget = sorted(n.op for n in step3 if n.scope == "lstm/l0/t3/forget_gate")
    # x_3 W_f + b_f comes from the layer's input projection: h_2 U_f, the add, the sigmoid
    assert forget == sorted(["matmul", "add", "sigmoid"])
    projections = [n for n in nodes if n.op == "input_projection"]
    assert sorted(n.scope for n in projections) == ["lstm/l0/inputs", "lstm/l1/inputs"]
    forget_add = next(n for n in step3 if n.scope == "lstm/l0/t3/forget_gate" and n.op == "add")
    assert forget_add.inputs[0].name == "x_3 W_f + b_f"
    assert forget_add.inputs[0].grad_fn.scope == "lstm/l0/inputs"
    # every op of the sequence sits in a part of a step, or cuts weights/inputs once, or joins outputs
    scopes = {n.scope.split("/", 3)[2] if n.scope.count("/") >= 2 else n.scope for n in nodes}
    assert scopes == {f"t{t}" for t in range(5)} | {"weights", "inputs", "lstm"}
    assert {n.scope for n in nodes if n.scope.endswith("/weights")} == {"lstm/l0/weights", "lstm/l1/weights"}
    named = LSTM(3, 4, name="encoder", rng=0)(mg.tensor(np.ones((1, 2, 3))))
    assert {n.scope.split("/")[0] for n in graph_nodes(named)} == {"encoder"}


def test_ops_per_time_step_are_the_same_at_every_step():
    layer = LSTM(3, 4, num_layers=2, rng=0)
    nodes = graph_nodes(layer(mg.tensor(np.ones((2, 6, 3)))))
    counts = {}
    for n in nodes:
        parts = n.scope.split("/")
        if len(parts) == 4:
            counts[(parts[1], parts[2])] = counts.get((parts[1], parts[2]), 0) + 1
    # per gate: matmul, add, activation (x_t W + b is hoisted); cell state: mul, mul, add; hidden: tanh, mul
    assert set(counts.values()) == {4 * 3 + 3 + 2}
    assert len(counts) == 2 * 6
    # the weights are cut once per layer and sequence: weight_hh's split, 4 transposes, the biases' sum
    assert sum(n.scope == "lstm/l1/weights" for n in nodes) == 6
    # and the inputs projected once: layer 1 joins layer 0's h_t (one concat), then one product
    assert sorted(n.op for n in nodes if n.scope == "lstm/l1/inputs") == ["concat", "input_projection"]


# -- errors ---
def test_input_and_state_errors_name_the_argument_and_the_shapes():
    layer = LSTM(3, 4, num_layers=2, rng=0)
    good = np.zeros((2, 2, 4))  # (num_layers, batch, hidden_size)
    cases = [
        ((np.zeros((2, 5, 4)),), ValueError,
         "LSTM 'lstm': x has shape (2, 5, 4) but expected (batch, time, input_size) = (batch, time, 3)"),
        ((np.zeros((2, 3)),), ValueError,
         "LSTM 'lstm': x has shape (2, 3) but expected (batch, time, input_size) = (batch, time, 3)"),
        ((np.zeros((2, 0, 3)),), ValueError,
         "LSTM 'lstm': x has shape (2, 0, 3) but needs at least one time step"),
        ((np.zeros((2, 5, 3)), (np.zeros((1, 2, 4)), good)), ValueError,
         "LSTM 'lstm': state h0 has shape (1, 2, 4) but expected "
         "(num_layers, batch, hidden_size) = (2, 2, 4)"),
        ((np.zeros((2, 5, 3)), (good, np.zeros((2, 3, 4)))), ValueError,
         "LSTM 'lstm': state c0 has shape (2, 3, 4) but expected "
         "(num_layers, batch, hidden_size) = (2, 2, 4)"),
        ((np.zeros((2, 5, 3)), good), TypeError,
         "LSTM 'lstm': state must be a pair (h0, c0) or None, got ndarray"),
        ((mg.tensor(np.zeros((2, 5, 3)), dtype=np.float32),), TypeError,
         "LSTM 'lstm': x has dtype float32 but the parameters are float64; convert one of them explicitly"),
    ]  # fmt: skip
    for args, error, text in cases:
        with pytest.raises(error) as info:
            layer(*args)
        assert str(info.value) == text


def test_construction_errors():
    for kwargs, text in [
        ({"num_layers": 0}, "LSTM: num_layers must be a positive integer, got 0"),
        ({"name": "a/b"}, "LSTM: name must be a non-empty string without '/', got 'a/b'"),
        ({"variant": "lstm"},
         "LSTM: variant must be one of standard, vanilla1997, peephole, coupled, no_input_gate, "
         "no_forget_gate, no_output_gate, no_input_activation, no_output_activation; got 'lstm'"),
    ]:
        with pytest.raises(ValueError) as info:
            LSTM(2, 3, **kwargs)
        assert str(info.value) == text
    with pytest.raises(ValueError) as info:
        LSTM(0, 3)
    assert str(info.value) == "LSTM: input_size must be a positive integer, got 0"
    with pytest.raises(TypeError) as info:
        LSTM(2, 3, dtype=int)
    assert str(info.value) == "LSTM: dtype must be a floating dtype, got int64"


# -- Keras ---
def keras_forward(x, kernel, recurrent, bias):
    """Keras' LSTM (sigmoid gates, tanh activation) in its own layout: gate blocks i, f, c, o along the
    columns of kernel (I, 4H) and recurrent_kernel (H, 4H); returns every hidden state (B, T, H)."""
    B, T, _ = x.shape
    H = recurrent.shape[0]
    h, c, out = np.zeros((B, H)), np.zeros((B, H)), []
    for t in range(T):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, cc, o = (z[:, k * H : (k + 1) * H] for k in range(4))
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(cc)
        h = sigmoid(o) * np.tanh(c)
        out.append(h)
    return np.stack(out, axis=1)


def test_keras_weights_round_trip_and_forward():
    rng = np.random.default_rng(6)
    I, H = 3, 4
    weights = [rng.normal(0, 0.5, (I, 4 * H)), rng.normal(0, 0.5, (H, 4 * H)), rng.normal(0, 0.5, 4 * H)]
    layer = LSTM(I, H, num_layers=2, return_sequences=True, rng=0)
    layer.load_keras_weights(weights, layer=0)
    for got, want in zip(layer.keras_weights(0), weights):
        np.testing.assert_array_equal(got, want)
    x = rng.normal(size=(2, 5, I))
    # layer 0's hidden states against Keras' equations in Keras' layout
    _, gates = layer(x, return_gates=True)
    got = np.stack([s.h.data for s in gates[0]], axis=1)
    np.testing.assert_allclose(got, keras_forward(x, *weights), rtol=1e-12, atol=1e-14)
    # layer 1 from its own Keras weights, fed by layer 0
    layer.load_keras_weights([rng.normal(0, 0.5, (H, 4 * H)), rng.normal(0, 0.5, (H, 4 * H)),
                              rng.normal(0, 0.5, 4 * H)], layer=1)  # fmt: skip
    top = keras_forward(keras_forward(x, *weights), *layer.keras_weights(1))
    np.testing.assert_allclose(layer(x).data, top, rtol=1e-12, atol=1e-14)
    with pytest.raises(IndexError) as info:
        layer.keras_weights(2)
    assert str(info.value) == "LSTM.keras_weights: layer 2 does not exist; num_layers is 2"
    with pytest.raises(ValueError) as info:
        LSTM(I, H, variant="peephole").load_keras_weights(weights)
    assert str(info.value) == (
        "LSTM.load_keras_weights: Keras' LSTM is the standard cell with a bias; this layer has "
        "variant='peephole', bias=True"
    )


# -- PyTorch ---
@pytest.mark.oracle
@pytest.mark.parametrize("num_layers", [1, 2])
def test_matches_torch_nn_lstm(num_layers):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    B, T, I, H = 3, 5, 4, 6
    ref = torch.nn.LSTM(I, H, num_layers=num_layers, batch_first=True).double()
    layer = LSTM(I, H, num_layers=num_layers, return_sequences=True, return_state=True, rng=0)
    layer.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    rng = np.random.default_rng(7)
    x_data = rng.normal(size=(B, T, I))
    h0_data, c0_data = rng.normal(size=(num_layers, B, H)), rng.normal(size=(num_layers, B, H))
    R = rng.normal(size=(B, T, H))

    xt = torch.tensor(x_data, requires_grad=True)
    out_t, (h_t, c_t) = ref(xt, (torch.tensor(h0_data), torch.tensor(c0_data)))
    ((out_t * torch.tensor(R)).sum() + h_t.sum() + 2 * c_t.sum()).backward()

    x = mg.tensor(x_data, requires_grad=True)
    out, h_n, c_n = layer(x, (h0_data, c0_data))
    ((out * R).sum() + h_n.sum() + 2 * c_n.sum()).backward()

    for got, want in [(out, out_t), (h_n, h_t), (c_n, c_t), (x.grad, xt.grad)]:
        np.testing.assert_allclose(got.data, want.detach().numpy(), rtol=1e-10, atol=1e-12)
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(getattr(layer, name).grad.data, p.grad.numpy(), rtol=1e-10, atol=1e-12)
    round_trip = layer.state_dict()
    for k, v in ref.state_dict().items():
        np.testing.assert_array_equal(round_trip[k], v.numpy())


def test_the_1997_layer_keeps_its_blocks_in_every_cell():
    layer = LSTM(2, 4, variant="vanilla1997", truncated_gradient=True, cells_per_block=2,
                 gate_bias={"i": [-3.0, -6.0]}, rng=0)
    assert layer.cell(0).cells_per_block == 2
    _, gates = layer(np.ones((1, 3, 2)), return_gates=True)
    i = gates[0][2].i.numpy()
    np.testing.assert_array_equal(i[:, 0], i[:, 1])
