"""The hoisted input projection (`lstm.projection`): one op per layer, checked against central differences
and a hand-derived formula, and the layers built on it against the cell stepped by hand."""

import numpy as np
import pytest

import minigrad as mg
from lstm.layer import LSTM
from lstm.lstm_cell import VARIANTS
from lstm.projection import InputProjection, project_inputs


def pieces(T, B, H, widths, x_tb, weight_ih, bias):
    """The op's outputs by hand: step t's rows, gate k's first widths[k] columns of x W^T + b."""
    p = x_tb @ weight_ih.T + (0 if bias is None else bias)
    return [p[t * B:(t + 1) * B, k * H:k * H + w] for t in range(T) for k, w in enumerate(widths)]


@pytest.mark.parametrize("widths, with_bias", [((3,) * 4, True), ((1, 3, 3, 1), True), ((3,) * 4, False)])
def test_the_op_matches_central_differences_and_the_hand_formula(widths, with_bias):
    rng = np.random.default_rng(1)
    T, B, I, H = 4, 2, 3, 3
    arrays = [rng.normal(size=(T * B, I)), rng.normal(size=(4 * H, I)), rng.normal(size=4 * H)]
    x_tb, w, b = (mg.tensor(a, requires_grad=True) for a in arrays)

    def fn(x_tb, w, b):
        return InputProjection.apply(x_tb, w, b if with_bias else None, T, widths)

    assert mg.gradcheck(fn, [x_tb, w, b], atol=1e-8, rtol=1e-6)

    ys = fn(x_tb, w, b)
    want = pieces(T, B, H, widths, *arrays[:2], arrays[2] if with_bias else None)
    assert len(ys) == 4 * T
    for y, e in zip(ys, want):
        np.testing.assert_allclose(y.data, e, rtol=1e-14, atol=1e-14)
    # d/dW of sum_k <R_k, y_k>: G holds each R_k where y_k came from (zeros in the unused columns)
    R = [rng.normal(size=y.shape) for y in ys]
    sum((y * r).sum() for y, r in zip(ys, R)).backward()
    G = np.zeros((T * B, 4 * H))
    for n, r in enumerate(R):
        t, k = divmod(n, 4)
        G[t * B:(t + 1) * B, k * H:k * H + widths[k]] = r
    np.testing.assert_allclose(w.grad.data, G.T @ arrays[0], rtol=1e-12)
    np.testing.assert_allclose(x_tb.grad.data, G @ arrays[1], rtol=1e-12)
    if with_bias:
        np.testing.assert_allclose(b.grad.data, G.sum(axis=0), rtol=1e-12)
    else:
        assert b.grad is None


def test_the_op_can_be_differentiated_twice():
    # d/dx of sum((d/dW sum(y^2))^2) against central differences: the backward is built from ops
    rng = np.random.default_rng(2)
    T, B, I, H = 2, 2, 2, 1
    w = mg.tensor(rng.normal(size=(4 * H, I)), requires_grad=True)

    def fn(x_tb):
        ys = InputProjection.apply(x_tb, w, None, T, (H,) * 4)
        (gw,) = mg.grad(sum((y * y).sum() for y in ys), [w], create_graph=True)
        return (gw * gw).sum()

    x_tb = mg.tensor(rng.normal(size=(T * B, I)), requires_grad=True)
    assert mg.gradcheck(fn, [x_tb], atol=1e-7, rtol=1e-5)


def test_pieces_are_named_for_drawings_and_missing_gates_are_none():
    x_tb, w = mg.tensor(np.ones((4, 2))), mg.tensor(np.ones((8, 2)), requires_grad=True)
    steps = project_inputs(x_tb, w, mg.tensor(np.zeros(8)), 2, (2, 2, 2, 2), gates="igo")
    assert steps[1].i.name == "x_1 W_i + b_i" and steps[1].f is None and steps[1].o.shape == (2, 2)
    assert project_inputs(x_tb, w, None, 2, (2, 2, 2, 2))[0].g.name == "x_0 W_g"


def run_by_hand(layer, x):
    """The layer's h, c and gradients with each cell stepped one x_t at a time (x_t W + b in every step)."""
    inputs = [mg.tensor(x[:, t]) for t in range(x.shape[1])]
    h_n, c_n = [], []
    for cell in layer.cells:
        h = c = np.zeros((x.shape[0], layer.hidden_size))
        outputs = []
        for x_t in inputs:
            h, c = cell(x_t, (h, c))
            outputs.append(h)
        h_n.append(h)
        c_n.append(c)
        inputs = outputs
    return h_n, c_n


CASES = [{"variant": v} for v in VARIANTS] + [
    {"variant": "vanilla1997", "truncated_gradient": True, "cells_per_block": 2,
     "gate_bias": {"i": [-1.0, -2.0]}},
    {"bias": False},
]  # fmt: skip


@pytest.mark.parametrize("options", CASES, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_hoisted_layers_equal_the_cell_stepped_by_hand(options):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 4, 3))
    R = rng.normal(size=(2, 2, 4))
    results = []
    for hoisted in (True, False):
        layer = LSTM(3, 4, num_layers=2, return_state=True, rng=0, **options)
        for p in layer.parameters():
            p.data[...] = rng.normal(0, 0.5, p.shape) if hoisted else results[0][2][p.name]
        if hoisted:
            _, h_n, c_n = layer(x)
        else:
            h_n, c_n = (mg.stack(s) for s in run_by_hand(layer, x))
        ((h_n * R).sum() + (c_n * R).sum()).backward()
        grads = {p.name: p.grad.data for p in layer.parameters()}
        results.append((h_n.data, c_n.data, {p.name: p.data.copy() for p in layer.parameters()}, grads))
    (h1, c1, _, g1), (h2, c2, _, g2) = results
    np.testing.assert_allclose(h1, h2, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c1, c2, rtol=1e-12, atol=1e-14)
    for name in g1:
        np.testing.assert_allclose(g1[name], g2[name], rtol=1e-10, atol=1e-12, err_msg=name)
