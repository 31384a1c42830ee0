"""minigrad.nn: Linear and Embedding against NumPy and central differences, their scopes, initialisation and
errors; Module's parameter registration, traversal and state dicts."""

import math

import numpy as np
import pytest
from strategies import numerical_grad_of

import minigrad as mg
from minigrad.nn import Embedding, Linear, Module, Parameter

RNG = np.random.default_rng(7)


def graph_nodes(t: mg.Tensor) -> list:
    nodes, stack = [], [t.grad_fn]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(a.grad_fn for a in node.inputs if isinstance(a, mg.Tensor) and a.grad_fn is not None)
    return nodes


# -- Linear ---
@pytest.mark.parametrize("shape", [(3,), (5, 3), (2, 4, 3)])
def test_linear_forward_matches_numpy(shape):
    lin = Linear(3, 2, rng=0)
    x = RNG.normal(size=shape)
    expected = x @ lin.weight.data.T + lin.bias.data
    for given in (x, mg.tensor(x)):
        y = lin(given)
        assert isinstance(y, mg.Tensor) and y.shape == shape[:-1] + (2,)
        np.testing.assert_allclose(y.data, expected, rtol=1e-14)


def test_linear_without_bias_and_with_integer_input():
    lin = Linear(2, 3, bias=False, rng=1)
    assert lin.bias is None
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    y = lin(np.array([[1, 2]]))  # integers take the weight's dtype
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.data, np.array([[1.0, 2.0]]) @ lin.weight.data.T, rtol=1e-15)


def test_linear_gradients_match_central_differences():
    lin = Linear(3, 2, rng=2)
    x = RNG.normal(size=(2, 4, 3))
    w_out = RNG.normal(size=(2, 4, 2))
    xt = mg.tensor(x, requires_grad=True)
    (lin(xt) * w_out).sum().backward()

    def loss():
        return float(((x @ lin.weight.data.T + lin.bias.data) * w_out).sum())

    for got, wrt in [(xt.grad, x), (lin.weight.grad, lin.weight.data), (lin.bias.grad, lin.bias.data)]:
        np.testing.assert_allclose(got.data, numerical_grad_of(loss, wrt), rtol=1e-7, atol=1e-9)
    # and the hand formulas: dW = sum over rows of g^T x, db = sum of g
    np.testing.assert_allclose(lin.weight.grad.data, np.einsum("bto,bti->oi", w_out, x), rtol=1e-12)
    np.testing.assert_allclose(lin.bias.grad.data, w_out.sum(axis=(0, 1)), rtol=1e-12)


def test_linear_init_is_pytorch_layout_uniform_and_seeded():
    lin = Linear(400, 100, rng=3)
    k = 1 / math.sqrt(400)
    w, b = lin.weight.data, lin.bias.data
    assert w.shape == (100, 400) and b.shape == (100,)
    assert w.dtype == np.float64 and isinstance(lin.weight, Parameter) and lin.weight.requires_grad
    assert np.abs(w).max() <= k and np.abs(b).max() <= k
    assert w.max() > 0.99 * k and w.min() < -0.99 * k  # fills the interval
    np.testing.assert_allclose(w.var(), k * k / 3, rtol=0.02)  # a uniform's variance, 40,000 samples
    assert abs(w.mean()) < 0.01 * k
    np.testing.assert_array_equal(Linear(400, 100, rng=3).weight.data, w)
    np.testing.assert_array_equal(Linear(400, 100, rng=np.random.default_rng(3)).weight.data, w)
    assert not np.array_equal(Linear(400, 100, rng=4).weight.data, w)


def test_linear_float32_stays_float32():
    lin = Linear(3, 2, rng=0, dtype=np.float32)
    x = mg.tensor(RNG.normal(size=(4, 3)).astype(np.float32), requires_grad=True)
    y = lin(x)
    y.sum().backward()
    assert lin.weight.dtype == lin.bias.dtype == y.dtype == x.grad.dtype == np.float32
    assert lin.weight.grad.dtype == np.float32


def test_linear_ops_are_recorded_in_the_linear_scope():
    lin = Linear(3, 2, rng=0)
    x = mg.tensor(RNG.normal(size=(4, 3)), requires_grad=True)
    with mg.scope("readout"):
        y = lin(x)
    assert {n.scope for n in graph_nodes(y)} == {"readout/linear"}
    assert {n.op for n in graph_nodes(y)} == {"matmul", "transpose", "add"}


def test_linear_wrong_input_size_names_the_layer_and_both_sizes():
    lin = Linear(3, 2, rng=0)
    message = (
        r"^Linear\(in_features=3, out_features=2, bias=True\): expected input of shape \(\.\.\., 3\), "
        r"got \(4, 5\)$"
    )
    with pytest.raises(mg.ShapeError, match=message):
        lin(np.zeros((4, 5)))
    with mg.scope("head"), pytest.raises(mg.ShapeError, match=r"^Linear\(.*\) in head: .* got \(\)$"):
        lin(mg.tensor(1.0))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((0, 2), {}, ValueError, r"^Linear: in_features must be a positive integer, got 0$"),
        ((2, 2.5), {}, ValueError, r"^Linear: out_features must be a positive integer, got 2\.5$"),
        ((2, 2), {"rng": "seed"}, TypeError, r"^Linear: rng must be a numpy\.random\.Generator, an int seed"),
        ((2, 2), {"dtype": np.int64}, TypeError, r"^Linear: dtype must be a floating dtype, got int64$"),
    ],
)
def test_linear_rejects_bad_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        Linear(*args, **kwargs)


# -- Embedding ---
@pytest.mark.parametrize("ids", [np.array(3), np.array([4, 0, 4]), np.array([[1, 2, 1], [0, 0, 9]])])
def test_embedding_forward_matches_numpy(ids):
    emb = Embedding(10, 4, rng=0)
    y = emb(ids)
    assert y.shape == ids.shape + (4,)
    np.testing.assert_array_equal(y.data, emb.weight.data[ids])
    np.testing.assert_array_equal(emb(mg.tensor(ids)).data, y.data)  # integral floats are accepted
    np.testing.assert_array_equal(emb(ids.tolist()).data, y.data)


def test_embedding_gradient_accumulates_repeated_ids():
    emb = Embedding(5, 3, rng=1)
    ids = np.array([[1, 3, 1], [1, 0, 3]])
    g_out = RNG.normal(size=(2, 3, 3))
    (emb(ids) * g_out).sum().backward()
    hand = np.zeros((5, 3))
    np.add.at(hand, ids, g_out)
    np.testing.assert_allclose(emb.weight.grad.data, hand, rtol=1e-15)
    np.testing.assert_allclose(emb.weight.grad.data[1], g_out[0, 0] + g_out[0, 2] + g_out[1, 0], rtol=1e-14)
    assert (emb.weight.grad.data[[2, 4]] == 0).all()

    def loss():
        return float((emb.weight.data[ids] * g_out).sum())

    numeric = numerical_grad_of(loss, emb.weight.data)
    np.testing.assert_allclose(emb.weight.grad.data, numeric, rtol=1e-7, atol=1e-9)


def test_embedding_init_scope_and_dtype():
    emb = Embedding(200, 50, rng=5, dtype=np.float32)
    w = emb.weight.data
    assert w.shape == (200, 50) and w.dtype == np.float32
    assert abs(w.mean()) < 0.03 and abs(w.std() - 1) < 0.03  # the standard normal
    np.testing.assert_array_equal(Embedding(200, 50, rng=5, dtype=np.float32).weight.data, w)
    with mg.scope("encoder"):
        y = emb([1, 2])
    assert y.dtype == np.float32
    assert [n.scope for n in graph_nodes(y)] == ["encoder/embedding"]


@pytest.mark.parametrize(
    ("ids", "error", "message"),
    [
        ([[1, 10]], mg.OpIndexError,
         r"^Embedding\(num_embeddings=10, embedding_dim=4\): id 10 at position \(0, 1\) is out of range "
         r"for 10 embeddings \(valid: 0\.\.9\); 1 out of range in all$"),
        ([3, -1, -2], mg.OpIndexError, r"id -1 at position \(1,\) is out of range .* 2 out of range in all$"),
        ([0.5], mg.OpTypeError,
         r"^Embedding\(.*\): ids must be integer indices, got 0\.5 at position \(0,\)$"),
        (np.array([np.nan]), mg.OpTypeError, r"ids must be integer indices, got nan"),
    ],
)
def test_embedding_rejects_bad_ids(ids, error, message):
    with pytest.raises(error, match=message):
        Embedding(10, 4, rng=0)(ids)


# -- Module ---
class Block(Module):
    def __init__(self, n_in, rng):
        self.inner = Linear(n_in, 3, rng=rng)
        self.scale = Parameter(np.ones(3))


class Net(Module):
    def __init__(self, rng=0):
        self.gain = Parameter(np.array(2.0))
        self.blocks = [Block(2, rng), Block(3, rng + 1)]
        self.head = Linear(3, 1, rng=rng + 2)
        self.config = {"not": "walked"}
        self.size = 3

    def forward(self, x):
        for b in self.blocks:
            x = b.inner(x) * b.scale
        return self.head(x) * self.gain


NET_NAMES = [
    "gain",
    "blocks.0.scale", "blocks.0.inner.weight", "blocks.0.inner.bias",
    "blocks.1.scale", "blocks.1.inner.weight", "blocks.1.inner.bias",
    "head.weight", "head.bias",
]  # fmt: skip


def test_named_parameters_dotted_names_in_order():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == NET_NAMES
    assert net.parameters() == [p for _, p in net.named_parameters()]
    assert [n for n, _ in net.named_parameters(prefix="model")] == ["model." + n for n in NET_NAMES]
    assert [n for n, _ in net.named_modules()] == ["", "blocks.0", "blocks.0.inner", "blocks.1",
                                                   "blocks.1.inner", "head"]
    assert net.num_parameters() == 1 + (3 + 6 + 3) + (3 + 9 + 3) + 3 + 1


def test_a_shared_parameter_or_module_is_listed_once_and_cycles_end_the_walk():
    net = Net()
    net.tied = net.blocks[0].inner.weight  # a parameter shared by two attributes
    net.again = net.head  # a module held twice
    net.blocks[1].parent = net  # a back reference to the root
    names = [n for n, _ in net.named_parameters()]
    # each parameter under its first name: the root's own attributes come before its submodules'
    assert names == ["gain", "tied"] + [n for n in NET_NAMES[1:] if n != "blocks.0.inner.weight"]
    assert [n for n, _ in net.named_modules()] == ["", "blocks.0", "blocks.0.inner", "blocks.1",
                                                   "blocks.1.inner", "head"]
    net.eval()
    assert all(not m.training for _, m in net.named_modules())
    net.train()
    assert all(m.training for _, m in net.named_modules())


def test_zero_grad_clears_every_gradient():
    net = Net()
    net(np.ones((4, 2))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_is_a_copy_and_round_trips():
    net, other = Net(rng=0), Net(rng=10)
    state = net.state_dict()
    assert list(state) == NET_NAMES
    assert all(type(v) is np.ndarray for v in state.values())
    before = {k: v.copy() for k, v in state.items()}
    net.head.weight.data += 1  # changing the model afterwards leaves the dict alone
    for k in state:
        np.testing.assert_array_equal(state[k], before[k])
    other.load_state_dict(state)
    for (k, p) in other.named_parameters():
        np.testing.assert_array_equal(p.data, before[k])
        assert p.data is not state[k]  # copied in, so later training does not change the dict
    x = np.ones((2, 2))
    np.testing.assert_array_equal(other(x).data, Net(rng=0)(x).data)


def test_load_state_dict_lists_every_problem_and_changes_nothing():
    net = Net()
    before = [p.data.copy() for p in net.parameters()]
    state = Net(rng=5).state_dict()
    del state["gain"], state["head.bias"]
    state["head.weights"] = np.zeros((1, 3))
    state["blocks.0.scale"] = np.zeros(4)
    state["blocks.1.inner.weight"] = np.zeros((3, 2))
    message = (
        r"^load_state_dict for Net: missing keys: gain, head\.bias \| unexpected keys: head\.weights \| "
        r"wrong shapes: blocks\.0\.scale: expected \(3,\), got \(4,\); "
        r"blocks\.1\.inner\.weight: expected \(3, 3\), got \(3, 2\)$"
    )
    with pytest.raises(ValueError, match=message):
        net.load_state_dict(state)
    for p, old in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.data, old)
    # strict=False allows missing and unexpected keys, never a wrong shape
    with pytest.raises(ValueError, match=r"^load_state_dict for Net: wrong shapes: blocks\.0\.scale"):
        net.load_state_dict(state, strict=False)
    del state["blocks.0.scale"], state["blocks.1.inner.weight"]
    net.load_state_dict(state, strict=False)
    np.testing.assert_array_equal(net.head.weight.data, state["head.weight"])
    np.testing.assert_array_equal(net.gain.data, before[0])  # missing: left as it was


def test_load_state_dict_keeps_dtypes_and_accepts_lists():
    lin = Linear(2, 2, rng=0, dtype=np.float32)
    lin.load_state_dict({"weight": np.zeros((2, 2)), "bias": [1.0, 2.0]})
    assert lin.weight.dtype == lin.bias.dtype == np.float32
    np.testing.assert_array_equal(lin.bias.data, [1, 2])
    np.testing.assert_array_equal(lin(np.ones((1, 2))).data, [[1, 2]])


def test_parameter_defaults():
    p = Parameter([1, 2])
    assert p.requires_grad and p.is_leaf and p.dtype == np.float64
    assert not Parameter([1.0], requires_grad=False).requires_grad
