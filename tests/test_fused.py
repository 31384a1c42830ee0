"""lstm.fused and lstm.fused_kernel: a layer as one op (the fast kernel) and a step as one op (the
hand-derived reference step).

Checked against lstm.reference called directly, against central differences (mg.gradcheck), and against
the primitive-op layer and cell (the same numbers to 1e-10 in float64); the graph they draw (one node per
layer or step, in its scope), float32, the `fused` switch, and their errors."""

import numpy as np
import pytest

import minigrad as mg
from lstm import fused_kernel, reference
from lstm.fused import LSTMStepFunction
from lstm.layer import LSTM
from lstm.lstm_cell import LSTMCell

NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def params_of(rng, I, H, scale=0.5, dtype=np.float64) -> dict:
    """Random parameters, larger than the init's, so the gates sit away from 0.5."""
    shapes = {"weight_ih": (4 * H, I), "weight_hh": (4 * H, H), "bias_ih": (4 * H,), "bias_hh": (4 * H,)}
    return {n: rng.normal(0, scale, s).astype(dtype) for n, s in shapes.items()}


def run_layer(layer: LSTM, x: np.ndarray, state=None, seed=5):
    """Outputs and every gradient (x, h0, c0, each parameter) of a random projection of all outputs."""
    rng = np.random.default_rng(seed)
    xt = mg.tensor(x, requires_grad=True)
    st = None if state is None else tuple(mg.tensor(s, requires_grad=True) for s in state)
    out, h_n, c_n = layer(xt, st)
    loss = sum(((t * rng.standard_normal(t.shape)).sum() for t in (out, h_n, c_n)), mg.tensor(0.0))
    loss.backward()
    grads = {"x": xt.grad.data, **{n: p.grad.data for n, p in layer.named_parameters()}}
    if st is not None:
        grads.update(h0=st[0].grad.data, c0=st[1].grad.data)
    return {"out": out.data, "h_n": h_n.data, "c_n": c_n.data}, grads


def assert_close(a: dict, b: dict, tol: float) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        np.testing.assert_allclose(a[k], b[k], rtol=tol, atol=tol, err_msg=k)


# -- the op against the reference it wraps ---
def test_the_op_is_the_reference_step_forward_and_backward():
    rng = np.random.default_rng(0)
    B, I, H = 3, 4, 5
    p = params_of(rng, I, H)
    x, h0, c0 = rng.normal(size=(B, I)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    dh, dc = rng.normal(size=(B, H)), rng.normal(size=(B, H))
    h_ref, c_ref, cache = reference.lstm_step_forward(x, h0, c0, p)
    dx_ref, dh0_ref, dc0_ref, g_ref = reference.lstm_step_backward(dh, dc, cache)

    args = [mg.tensor(a, requires_grad=True) for a in (x, h0, c0, *(p[n] for n in NAMES))]
    h, c = LSTMStepFunction.apply(*args)
    mg.backward(h, dh, retain_graph=True)  # dh into h, then dc into c: the engine sums both passes
    mg.backward(c, dc)
    np.testing.assert_allclose(h.data, h_ref, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(c.data, c_ref, rtol=1e-14, atol=1e-14)
    expected = [dx_ref, dh0_ref, dc0_ref, *(g_ref[n] for n in NAMES)]
    for a, e in zip(args, expected):
        np.testing.assert_allclose(a.grad.data, e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("B, T, I, H", [(1, 1, 1, 1), (3, 6, 4, 5), (2, 9, 7, 3)])
def test_the_kernel_is_the_reference_sequence_forward_and_backward(B, T, I, H, dtype, tol):
    rng = np.random.default_rng(B * 100 + T)
    p = params_of(rng, I, H, scale=1.0, dtype=dtype)
    x, dout = (rng.normal(size=(B, T, n)).astype(dtype) for n in (I, H))
    h0, c0, dh_T, dc_T = (rng.normal(size=(B, H)).astype(dtype) for _ in range(4))
    out_ref, h_ref, c_ref, cache_ref = reference.lstm_forward(x, h0, c0, p)
    dx_ref, dh0_ref, dc0_ref, g_ref = reference.lstm_backward(dout, cache_ref, dh_T, dc_T)

    x_tb = np.ascontiguousarray(x.transpose(1, 0, 2))
    hs, c_T, cache = fused_kernel.forward(x_tb, h0, c0, p["weight_ih"], p["weight_hh"],
                                          p["bias_ih"] + p["bias_hh"])  # fmt: skip
    dx, dh0, dc0, dw_ih, dw_hh, db = fused_kernel.backward(dout.transpose(1, 0, 2), dh_T, dc_T, cache)
    got = {"out": hs.transpose(1, 0, 2), "h_T": hs[-1], "c_T": c_T, "dx": dx.transpose(1, 0, 2),
           "dh0": dh0, "dc0": dc0, "weight_ih": dw_ih, "weight_hh": dw_hh, "bias": db}  # fmt: skip
    want = {"out": out_ref, "h_T": h_ref, "c_T": c_ref, "dx": dx_ref, "dh0": dh0_ref, "dc0": dc0_ref,
            "weight_ih": g_ref["weight_ih"], "weight_hh": g_ref["weight_hh"], "bias": g_ref["bias_ih"]}
    for k, a in got.items():
        assert a.dtype == dtype, k
        np.testing.assert_allclose(a, want[k], rtol=tol, atol=tol, err_msg=k)


def test_the_kernel_saturates_without_nan_or_warnings():
    p = params_of(np.random.default_rng(3), 2, 2, scale=1e3)  # pre-activations far beyond exp's range
    x = np.full((4, 1, 2), 10.0)
    with np.errstate(all="raise"):
        hs, c_T, cache = fused_kernel.forward(x, np.zeros((1, 2)), np.zeros((1, 2)), p["weight_ih"],
                                              p["weight_hh"], p["bias_ih"])  # fmt: skip
        grads = fused_kernel.backward(np.ones_like(hs), None, None, cache)
    assert np.isfinite(hs).all() and all(np.isfinite(g).all() for g in grads)
    h_ref = reference.lstm_forward(x.transpose(1, 0, 2), None, None,
                                   {**p, "bias_hh": np.zeros_like(p["bias_hh"])})[0]  # fmt: skip
    np.testing.assert_allclose(hs.transpose(1, 0, 2), h_ref, rtol=1e-12, atol=1e-300)


def test_the_op_matches_central_differences():
    rng = np.random.default_rng(1)
    B, I, H = 2, 3, 4
    p = params_of(rng, I, H)
    inputs = [mg.tensor(a, requires_grad=True)
              for a in (rng.normal(size=(B, I)), rng.normal(size=(B, H)), rng.normal(size=(B, H)),
                        *(p[n] for n in NAMES))]  # fmt: skip
    assert mg.gradcheck(lambda *a: LSTMStepFunction.apply(*a), inputs, atol=1e-7, rtol=1e-6)


def test_a_fused_sequence_matches_central_differences():
    rng = np.random.default_rng(2)
    B, T, I, H = 2, 4, 3, 3
    layer = LSTM(I, H, return_sequences=True, return_state=True, rng=0, fused=True)
    params = {n: mg.tensor(a, requires_grad=True) for n, a in params_of(rng, I, H).items()}
    x = mg.tensor(rng.normal(size=(B, T, I)), requires_grad=True)
    h0, c0 = (mg.tensor(rng.normal(size=(1, B, H)), requires_grad=True) for _ in range(2))

    def f(x, h0, c0, *weights):
        for n, w in zip(NAMES, weights):  # the layer computes with the Tensors gradcheck passes
            setattr(layer, f"{n}_l0", w)
        return layer(x, (h0, c0))

    assert mg.gradcheck(f, [x, h0, c0, *params.values()], atol=1e-7, rtol=1e-6)


# -- the fused layer against the primitive-op layer ---
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"num_layers": 2, "return_sequences": True},
        {"bias": False},
        {"forget_bias": 1.0, "num_layers": 3},
    ],
)
@pytest.mark.parametrize("with_state", [False, True])
def test_fused_and_primitive_layers_give_the_same_numbers(options, with_state):
    rng = np.random.default_rng(3)
    B, T, I, H = 3, 6, 4, 5
    L = options.get("num_layers", 1)
    x = rng.normal(size=(B, T, I))
    state = (rng.normal(size=(L, B, H)), rng.normal(size=(L, B, H))) if with_state else None
    results = []
    for fused in (False, True):
        layer = LSTM(I, H, return_state=True, rng=7, fused=fused, **options)
        weights = np.random.default_rng(9)  # the same values for both layers
        layer.load_state_dict({n: weights.normal(0, 0.5, p.shape) for n, p in layer.named_parameters()})
        results.append(run_layer(layer, x, state))
    (out_p, grads_p), (out_f, grads_f) = results
    assert_close(out_p, out_f, 1e-10)
    assert_close(grads_p, grads_f, 1e-10)


def test_float32_stays_float32_and_agrees_with_the_primitive_layer():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    results = [run_layer(LSTM(3, 4, return_state=True, rng=0, dtype=np.float32, fused=fused), x)
               for fused in (False, True)]  # fmt: skip
    (out_p, grads_p), (out_f, grads_f) = results
    for a in (*out_f.values(), *grads_f.values()):
        assert a.dtype == np.float32
    assert_close(out_p, out_f, 1e-5)
    assert_close(grads_p, grads_f, 1e-5)


def test_switching_fused_off_and_on_gives_the_same_numbers_on_the_same_parameters():
    x = np.random.default_rng(6).normal(size=(2, 4, 3))
    layer = LSTM(3, 4, return_state=True, rng=0, fused=True)
    fused = run_layer(layer, x)
    layer.zero_grad()
    layer.fused = False  # what the command line does to draw the gates
    primitive = run_layer(layer, x)
    for a, b in zip(fused, primitive):
        assert_close(a, b, 1e-10)


def test_truncated_bptt_through_fused_chunks_matches_the_primitive_layer():
    rng = np.random.default_rng(8)
    chunks = [rng.normal(size=(2, 3, 3)) for _ in range(2)]
    grads = []
    for fused in (False, True):
        layer = LSTM(3, 4, return_state=True, rng=0, fused=fused)
        state = None
        for chunk in chunks:
            out, h_n, c_n = layer(chunk, state)
            (out * out).sum().backward()
            state = (h_n.detach(), c_n.detach())
        grads.append({n: p.grad.data for n, p in layer.named_parameters()})
    assert_close(grads[0], grads[1], 1e-10)


# -- the cell ---
def test_a_fused_cell_matches_the_primitive_cell_and_has_no_gate_values():
    rng = np.random.default_rng(10)
    x, h0, c0 = rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    results = []
    for fused in (False, True):
        cell = LSTMCell(3, 4, rng=0, forget_bias=1.0, fused=fused)
        xt = mg.tensor(x, requires_grad=True)
        step = cell.step(xt, (h0, c0))
        (step.h * step.c).sum().backward()
        results.append((step, {"x": xt.grad.data, **{n: p.grad.data for n, p in cell.named_parameters()}}))
    (primitive, grads_p), (fused, grads_f) = results
    np.testing.assert_allclose(fused.h.data, primitive.h.data, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fused.c.data, primitive.c.data, rtol=1e-12, atol=1e-12)
    assert_close(grads_p, grads_f, 1e-10)
    assert (fused.i, fused.f, fused.g, fused.o) == (None, None, None, None)


def test_a_fused_cell_without_bias_uses_zero_biases():
    rng = np.random.default_rng(11)
    cell = LSTMCell(3, 4, bias=False, rng=0, fused=True)
    x, h0, c0 = rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    h, c = cell(x, (h0, c0))
    zeros = np.zeros(16)
    p = {"weight_ih": cell.weight_ih.data, "weight_hh": cell.weight_hh.data,
         "bias_ih": zeros, "bias_hh": zeros}
    h_ref, c_ref, _ = reference.lstm_step_forward(x, h0, c0, p)
    np.testing.assert_allclose(h.data, h_ref, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(c.data, c_ref, rtol=1e-14, atol=1e-14)


# -- the graph ---
def test_each_layer_is_one_node_in_the_layers_scope():
    layer = LSTM(3, 4, num_layers=2, return_sequences=True, rng=0, fused=True)
    out = layer(mg.tensor(np.ones((2, 5, 3)), requires_grad=True))
    nodes, stack, seen = [], [out.grad_fn], set()
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            nodes.append(node)
            stack.extend(a.grad_fn for a in node.inputs if isinstance(a, mg.Tensor) and a.grad_fn is not None)
    assert sorted(n.scope for n in nodes) == ["lstm/l0", "lstm/l1"]
    node = next(n for n in nodes if n.scope == "lstm/l1")
    assert node.where == "lstm_layer in lstm/l1"
    assert [a.name for a in node.inputs[3:]] == ["weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"]


def test_a_fused_cell_step_is_one_node_in_its_scope():
    cell = LSTMCell(3, 4, rng=0, fused=True)
    with mg.scope("t3"):
        h, _ = cell(np.ones((2, 3)))
    assert h.grad_fn.where == "lstm_step in t3"


# -- errors ---
@pytest.mark.parametrize("make", [LSTM, LSTMCell])
def test_fused_needs_the_standard_cell(make):
    with pytest.raises(ValueError, match=r"fused=True runs the hand-derived step of lstm.reference, which is "
                                         r"the standard cell; variant 'peephole' needs fused=False"):
        make(3, 4, variant="peephole", fused=True)


def test_switching_fused_on_for_another_variant_fails_at_the_step():
    cell = LSTMCell(3, 4, variant="coupled", rng=0)
    cell.fused = True
    with pytest.raises(ValueError, match="variant 'coupled' needs fused=False"):
        cell(np.ones((1, 3)))


def test_return_gates_is_refused_by_a_fused_layer():
    layer = LSTM(3, 4, rng=0, fused=True)
    with pytest.raises(ValueError, match=r"LSTM 'lstm': return_gates needs the gates of the primitive-op "
                                         r"graph, and a fused layer is one op; set layer.fused = False"):
        layer(np.ones((1, 2, 3)), return_gates=True)


def test_second_derivatives_through_the_fused_step_are_refused():
    layer = LSTM(3, 4, rng=0, fused=True)
    x = mg.tensor(np.ones((1, 2, 3)), requires_grad=True)
    with pytest.raises(mg.OpTypeError, match=r"lstm_layer in lstm/l0: the fused LSTM's backward is "
                                             r"hand-derived NumPy, so it cannot be differentiated again"):
        mg.grad(layer(x).sum(), x, create_graph=True)
    cell = LSTMCell(3, 4, rng=0, fused=True)
    with pytest.raises(mg.OpTypeError, match=r"lstm_step: the fused LSTM's backward is hand-derived NumPy"):
        mg.grad(cell(x[:, 0])[0].sum(), x, create_graph=True)


def test_changing_a_weight_between_forward_and_backward_raises():
    layer = LSTM(3, 4, rng=0, fused=True)
    out = layer(np.ones((1, 2, 3)))
    layer.weight_hh_l0.data *= 2  # an optimizer step taken too early
    with pytest.raises(mg.errors.GraphError, match=r"lstm_layer in lstm/l0: input 4 \('weight_hh_l0'\) was "
                                            r"modified in place"):
        out.sum().backward()


def test_changing_an_output_in_place_before_backward_raises():
    layer = LSTM(3, 4, rng=0, fused=True, return_sequences=True)
    out = layer(np.ones((1, 2, 3)))
    out.data *= 2  # the output is a view of what the backward reads
    loss = out.sum()
    with pytest.raises(mg.errors.GraphError, match=r"lstm_layer in lstm/l0: output 0 .* modified in place"):
        loss.backward()


def test_repr_shows_fused():
    assert repr(LSTM(3, 4, fused=True)).endswith("name='lstm', fused=True)")
