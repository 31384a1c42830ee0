"""The NumPy networks of lstm.online against minigrad's graph of the same network and finite differences."""

import itertools

import numpy as np
import pytest

import minigrad as mg
from lstm.online import Network, OnlineTrainer, Shape, init_weights

SHAPES = {
    "1997, fully recurrent": Shape(n_in=2, n_blocks=2, cells=2, n_out=1),
    "forget gates, shortcut, no cell bias": Shape(n_in=3, n_blocks=2, cells=2, n_out=2, forget=True,
                                                  gate_recurrence=False, shortcut=True, cell_bias=False),
    "forget gates, fully recurrent": Shape(n_in=2, n_blocks=3, cells=1, n_out=2, forget=True),
    "1997, biases on the gates only": Shape(n_in=3, n_blocks=2, cells=2, n_out=2, cell_bias=False,
                                            output_bias=False),
}


def problem(shape, seed=0, B=2, T=6):
    rng = np.random.default_rng(seed)
    weights = init_weights(shape, rng, 0.8, {"i": rng.uniform(-1, 1, shape.n_blocks)})
    x = rng.normal(size=(B, T, shape.n_in))
    target = rng.uniform(size=(B, T, shape.n_out))
    mask = rng.uniform(size=(B, T)) < 0.7
    mask[:, -1] = True
    return Network(shape, weights), x, target, mask


def graph_loss(shape, W, x, target, mask, truncated):
    """The same network from minigrad's primitive ops; ``truncated`` detaches z's recurrent part."""
    B, T, _ = x.shape
    expand = mg.Tensor(np.kron(np.eye(shape.n_blocks), np.ones((1, shape.cells))))  # (n_blocks, H)
    s = y_c = mg.Tensor(np.zeros((B, shape.H)))
    r = mg.Tensor(np.zeros((B, len(shape.gates) * shape.n_blocks)))
    ones = mg.Tensor(np.ones((B, 1)))
    loss = 0.0
    for t in range(T):
        x_t = mg.Tensor(x[:, t])
        rec = mg.concat([y_c, r], axis=1) if shape.gate_recurrence else y_c
        z = mg.concat([x_t, rec.detach() if truncated else rec, ones], axis=1)
        gate = {k: mg.sigmoid(z @ W[f"W_{k}"].T) for k in shape.gates}
        g = 4 * mg.sigmoid(z @ W["W_g"].T) - 2
        s_kept = (gate["f"] @ expand) * s if shape.forget else s
        s = s_kept + (gate["i"] @ expand) * g
        y_c = (gate["o"] @ expand) * (2 * mg.sigmoid(s) - 1)
        r = mg.concat([gate[k] for k in shape.gates], axis=1)
        zy = mg.concat([y_c, x_t, ones] if shape.shortcut else [y_c, ones], axis=1)
        y = mg.sigmoid(zy @ W["W_y"].T)
        loss = loss + 0.5 * ((y - mg.Tensor(target[:, t])) ** 2 * mg.Tensor(mask[:, t, None] * 1.0)).sum()
    return loss


def graph_grads(net, x, target, mask, truncated):
    W = {k: mg.Tensor(v.copy(), requires_grad=True) for k, v in net.weights.items()}
    loss = graph_loss(net.shape, W, x, target, mask, truncated)
    loss.backward()
    grads = {k: v.grad.numpy().copy() for k, v in W.items()}
    for k in net.shape.absent_biases():  # that column is not a weight of the network
        grads[k][:, -1] = 0.0
    return loss.item(), grads


@pytest.mark.parametrize("name", SHAPES)
@pytest.mark.parametrize("truncated", [False, True])
def test_backward_equals_the_graph(name, truncated):
    net, x, target, mask = problem(SHAPES[name])
    out = net.forward(x)
    loss, expected = graph_grads(net, x, target, mask, truncated)
    assert net.loss(out, target, mask) == pytest.approx(loss, rel=1e-12)
    grads = net.backward(out, target, mask, truncated=truncated)
    for k in expected:
        np.testing.assert_allclose(grads[k], expected[k], rtol=0, atol=1e-10, err_msg=k)


@pytest.mark.parametrize("name", SHAPES)
def test_full_backward_equals_finite_differences(name):
    net, x, target, mask = problem(SHAPES[name], seed=1)
    grads = net.backward(net.forward(x), target, mask, truncated=False)
    eps = 1e-6
    for k, w in net.weights.items():
        numeric = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            old = w[idx]
            w[idx] = old + eps
            up = net.loss(net.forward(x), target, mask)
            w[idx] = old - eps
            down = net.loss(net.forward(x), target, mask)
            w[idx] = old
            numeric[idx] = (up - down) / (2 * eps)
        if k in net.shape.absent_biases():
            numeric[:, -1] = 0.0
        np.testing.assert_allclose(grads[k], numeric, rtol=1e-6, atol=1e-8, err_msg=k)


def test_truncation_drops_only_the_paths_outside_the_cell_states():
    # the truncated gradient differs from the exact one, but not for the output weights of the last step
    net, x, target, mask = problem(SHAPES["1997, fully recurrent"])
    out = net.forward(x)
    full = net.backward(out, target, mask, truncated=False)
    cut = net.backward(out, target, mask, truncated=True)
    np.testing.assert_array_equal(full["W_y"], cut["W_y"])
    assert np.abs(full["W_g"] - cut["W_g"]).max() > 1e-4


@pytest.mark.parametrize("name", SHAPES)
def test_forward_traces_give_the_truncated_gradient(name):
    net, x, target, mask = problem(SHAPES[name], seed=2, B=1)
    expected = net.backward(net.forward(x), target, mask, truncated=True)
    trainer = OnlineTrainer(net, lr=0.0)
    total = {k: np.zeros_like(v) for k, v in net.weights.items()}
    ys = []
    for t in range(x.shape[1]):
        y, grads = trainer.step(x[0, t], target[0, t] if mask[0, t] else None)
        ys.append(y)
        for k, g in (grads or {}).items():
            total[k] += g
    np.testing.assert_allclose(np.array(ys), net.forward(x)["y"][0], rtol=0, atol=1e-14)
    for k in expected:
        np.testing.assert_allclose(total[k], expected[k], rtol=0, atol=1e-12, err_msg=k)


def test_weight_counts_are_the_papers():
    # Hochreiter & Schmidhuber 1997: adding (2 blocks of 2, 93 weights), temporal order 6a (156). By hand:
    # 8 hidden units (4 cells, 2 input and 2 output gates) each read the inputs, the 8 hidden units and a
    # bias; the outputs read the 4 cells and a bias: 8 x (2 + 8 + 1) + 1 x 5 = 93 and
    # 8 x (8 + 8 + 1) + 4 x 5 = 156.
    assert Shape(n_in=2, n_blocks=2, cells=2, n_out=1).n_weights() == 93
    assert Shape(n_in=8, n_blocks=2, cells=2, n_out=4).n_weights() == 156
    # Temporal order 6b (3 blocks of 2, 8 outputs, 308): 12 hidden units each read 8 inputs, the 12 hidden
    # units and a bias; the 8 outputs read the 6 cells and a bias: 12 x 21 + 8 x 7 = 308.
    assert Shape(n_in=8, n_blocks=3, cells=2, n_out=8).n_weights() == 308
    # Gers et al. 2000, continual Reber: 4 blocks of 2 with forget gates and shortcuts (424). By hand: 12
    # gates read 7 inputs, 8 cell outputs and a bias, the 8 cells the same without the bias, the 7 outputs
    # the cells, the inputs and a bias: 12 x 16 + 8 x 15 + 7 x 16 = 424.
    assert Shape(n_in=7, n_blocks=4, cells=2, n_out=7, forget=True, gate_recurrence=False, shortcut=True,
                 cell_bias=False).n_weights() == 424


def test_only_one_connectivity_gives_both_reber_counts():
    # Hochreiter & Schmidhuber 1997, Exp. 1: 276 weights for 3 blocks of 2 cells and 264 for 4 blocks of 1
    # (7 inputs, 7 outputs). By hand: 12 hidden units (cells and gates) each read 7 inputs and the 12 hidden
    # units; the 6 gates also a bias; the 7 outputs the cells only: 6 x 19 + 6 x 20 + 7 x 6 = 276, and
    # 4 x 19 + 8 x 20 + 7 x 4 = 264.
    options = ("gate_recurrence", "shortcut", "cell_bias", "output_bias")
    fits = []
    for flags in itertools.product([False, True], repeat=len(options)):
        kw = dict(zip(options, flags))
        if [Shape(7, nb, c, 7, **kw).n_weights() for nb, c in ((3, 2), (4, 1))] == [276, 264]:
            fits.append(kw)
    assert fits == [{"gate_recurrence": True, "shortcut": False, "cell_bias": False, "output_bias": False}]
