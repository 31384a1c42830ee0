"""Every fast path gives the numbers of the simple path it stands in for.

The engine and the ops take shortcuts for speed: 2-D products with ``ndarray.dot`` instead of ``@``,
matmul's wrapper skipping its checks for two matrices that fit, sigmoid and tanh with their constants as
0-d arrays of the input's dtype, the backward walk skipping `check` for a gradient already of the right
type, shape and dtype, the LSTM layer splitting x time-first, and the shortcuts of minigrad/fastpaths.py
and the core (op outputs made without ``Tensor.__init__``, one loop making a node, NumPy's 0-d quirk undone,
gradients summed in place into the walk's own buffers, ``saved_tensors`` skipping its checks when nothing
changed, ``sum_to`` calling ``np.add.reduce``, ``sum`` over every axis skipping the axis check). Each is
compared here with the plain formula or the general path it replaces (no timing: the benchmarks measure
speed)."""

import numpy as np
import pytest

import minigrad as mg
from lstm.layer import LSTM
from minigrad import fastpaths, saved
from minigrad.function import new_node
from minigrad.ops.elementwise import Sigmoid, Tanh
from minigrad.ops.matmul import _product
from minigrad.ops.reduce import _kept_shape


def operands(rng, shape_a, shape_b, dtype=np.float64, transpose_b=False):
    a = rng.normal(size=shape_a).astype(dtype)
    b = rng.normal(size=shape_b[::-1] if transpose_b else shape_b).astype(dtype)
    return a, (b.T if transpose_b else b)


# -- matmul ---
SHAPES = [((1, 8), (8, 32)), ((32, 1), (1, 32)), ((5, 7), (7, 3)), ((0, 4), (4, 3)), ((3, 4), (4, 0)),
          ((1, 1), (1, 1))]


@pytest.mark.parametrize("shape_a, shape_b", SHAPES)
@pytest.mark.parametrize("transpose_b", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_2d_products_use_dot_and_equal_the_matmul_operator(shape_a, shape_b, transpose_b, dtype):
    a, b = operands(np.random.default_rng(0), shape_a, shape_b, dtype, transpose_b)
    y = _product(a, b)
    assert y.dtype == (a @ b).dtype == dtype
    np.testing.assert_allclose(y, a @ b, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-12)


def test_batched_products_and_tensors_still_go_through_the_operator():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 5))
    np.testing.assert_array_equal(_product(a, b), a @ b)
    ta, tb = mg.tensor(a[0], requires_grad=True), mg.tensor(b, requires_grad=True)
    y = _product(ta, tb)  # what a recorded backward (create_graph) does: a Tensor, recorded
    assert isinstance(y, mg.Tensor) and y.op == "matmul"


def test_matrix_fast_path_of_matmul_equals_the_batched_general_path():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 5))
    g = rng.normal(size=(3, 5))
    results = []
    for batched in (False, True):
        ta, tb = mg.tensor(a, requires_grad=True), mg.tensor(b, requires_grad=True)
        y = (mg.matmul(ta.reshape(1, 3, 4), tb.reshape(1, 4, 5)).reshape(3, 5) if batched
             else mg.matmul(ta, tb))  # fmt: skip
        y.backward(g)
        results.append((y.data, ta.grad.data, tb.grad.data))
    for fast, general in zip(*results):
        np.testing.assert_allclose(fast, general, rtol=1e-14, atol=1e-14)


def test_matmul_errors_are_unchanged_by_the_fast_path():
    with pytest.raises(mg.ShapeError, match=r"matmul: shapes \(3, 4\) and \(5, 2\) are not aligned: "
                                            r"4 \(dim 1\) != 5 \(dim 0\)"):
        mg.matmul(mg.tensor(np.ones((3, 4))), mg.tensor(np.ones((5, 2))))


# -- sigmoid and tanh ---
X = np.concatenate([np.linspace(-40, 40, 801), [-800.0, -709.5, -1e-300, 0.0, 1e-300, 709.5, 800.0]])


def test_sigmoid_equals_its_formula_in_float64():
    y = Sigmoid.apply(X)
    plain = (1 + np.tanh(X / 2)) / 2  # the docstring's formula, with Python-number constants
    np.testing.assert_allclose(y, plain, rtol=0, atol=2**-53)
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(y, 1 / (1 + np.exp(-X)), rtol=0, atol=2**-52)


def test_sigmoid_and_tanh_keep_float32_and_accept_numbers_and_integers():
    x32 = X.astype(np.float32)
    for op in (Sigmoid, Tanh):
        y = op.apply(mg.tensor(x32, requires_grad=True))
        y.backward(np.ones_like(x32))
        assert y.dtype == np.float32
        assert y.grad_fn.inputs[0].grad.dtype == np.float32
    assert Sigmoid.apply(0.0) == 0.5  # a Python number: no dtype to borrow, NumPy's promotion
    ints = mg.tensor(np.array([-1, 0, 2]), dtype=np.int64)
    np.testing.assert_allclose(Sigmoid.apply(ints).data, 1 / (1 + np.exp(-np.array([-1.0, 0.0, 2.0]))),
                               rtol=1e-15)  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_and_tanh_gradients_equal_their_textbook_formulas(dtype):
    rng = np.random.default_rng(3)
    x, g = rng.normal(size=(4, 6)).astype(dtype), rng.normal(size=(4, 6)).astype(dtype)
    tol = 1e-6 if dtype == np.float32 else 1e-15
    for op, derivative in ((Sigmoid, lambda y: y * (1 - y)), (Tanh, lambda y: 1 - y**2)):
        t = mg.tensor(x, requires_grad=True)
        y = op.apply(t)
        y.backward(g)
        assert t.grad.dtype == dtype
        np.testing.assert_allclose(t.grad.data, g * derivative(y.data), rtol=tol, atol=tol)


def test_second_derivatives_of_sigmoid_and_tanh_equal_their_formulas():
    x = np.linspace(-3, 3, 7)
    for op, second in ((Sigmoid, lambda s: s * (1 - s) * (1 - 2 * s)), (Tanh, lambda t: -2 * t * (1 - t**2))):
        t = mg.tensor(x, requires_grad=True)
        y = op.apply(t)
        (d,) = mg.grad(y.sum(), t, create_graph=True)
        (dd,) = mg.grad(d.sum(), t)
        np.testing.assert_allclose(dd.data, second(y.data), rtol=1e-12, atol=1e-14)


# -- the backward walk ---
def lstm_gradients(anomaly: bool) -> list:
    layer = LSTM(3, 4, num_layers=2, return_sequences=True, rng=0)
    x = mg.tensor(np.random.default_rng(4).normal(size=(2, 5, 3)), requires_grad=True)
    loss = (layer(x) ** 2).sum()
    if anomaly:
        with mg.detect_anomaly():  # every gradient then goes through `check`
            loss.backward()
    else:
        loss.backward()
    return [x.grad.data] + [p.grad.data for p in layer.parameters()]


def test_skipping_check_for_ready_gradients_gives_the_same_gradients():
    for fast, checked in zip(lstm_gradients(False), lstm_gradients(True)):
        np.testing.assert_array_equal(fast, checked)


def test_gradients_that_need_check_still_get_it():
    # broadcast (sum back to the input's shape), a Python number, and another dtype all arrive at check
    class Loose(mg.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * 1.0

        @staticmethod
        def backward(ctx, g):
            return np.broadcast_to(g, (2,) + g.shape) * 1.0, np.float64(g.sum()).astype(np.float64)

    a = mg.tensor(np.ones(3, np.float32), requires_grad=True)
    b = mg.tensor(np.ones((), np.float32), requires_grad=True)
    Loose.apply(a, b).backward(np.ones(3, np.float32))
    np.testing.assert_array_equal(a.grad.data, np.full(3, 2, np.float32))
    assert a.grad.dtype == b.grad.dtype == np.float32 and b.grad.shape == () and b.grad.item() == 3


# -- recording: fastpaths.py and function.new_node ---
def test_an_op_output_made_by_wrap_equals_one_made_by_the_constructor():
    a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    fast, plain = fastpaths.wrap(a, None, True), mg.Tensor(a, requires_grad=True)
    assert fast.data is a and plain.data is not a  # wrap takes the array itself: the one difference
    np.testing.assert_array_equal(fast.data, plain.data)
    for attr in ("dtype", "shape", "requires_grad", "grad", "name", "is_leaf", "grad_fn", "_index",
                 "_version", "_vcell"):
        assert getattr(fast, attr) == getattr(plain, attr), attr


def test_the_node_loop_equals_the_two_comprehensions_it_replaces():
    x, c = mg.tensor([1.0, 2.0], requires_grad=True), mg.tensor([3.0, 4.0])
    args = (x, 2, c, None)
    for grad_on in (True, False):
        ctx, arrays, tensors = new_node(mg.ops.Add, args, grad_on, "s")
        assert ctx.needs_input_grad == [
            (a.requires_grad and grad_on) if isinstance(a, mg.Tensor) else None for a in args
        ]
        assert all(u is v for u, v in zip(arrays, [a.data if isinstance(a, mg.Tensor) else a for a in args]))
        assert tensors is True and ctx.inputs is args and ctx.scope == "s"
    assert new_node(mg.ops.Add, (np.ones(2), np.ones(2)), True, "")[2] is False


@pytest.mark.parametrize("shape", [(), (1,)])
def test_an_op_on_a_0d_array_gives_the_derivatives_of_the_1d_one(shape):
    # np.exp of a 0-d array is a NumPy scalar: the output holds it as a 0-d array, and the node must save
    # that array so that create_graph finds the output behind it (the second derivative of exp is exp)
    x = mg.tensor(np.full(shape, 0.5), requires_grad=True)
    y = x.exp()
    assert y.grad_fn.saved_tensors[0] is y.data and y.shape == shape
    (g,) = mg.grad(y.sum(), x, create_graph=True)
    (g2,) = mg.grad(g.sum(), x)
    np.testing.assert_allclose(g2.data, np.full(shape, np.exp(0.5)), rtol=1e-15)


@pytest.mark.parametrize("shape", [(), (2,)])
def test_gradients_summed_into_the_walks_own_buffers_equal_their_plain_sum(shape):
    rng = np.random.default_rng(7)
    x = mg.tensor(rng.normal(size=shape), requires_grad=True)
    ws = [rng.normal(size=shape) for _ in range(4)]
    y = x * ws[0]
    for w in ws[1:]:
        y = y + x * w  # x's gradient arrives four times: the second sum allocates, the rest add in place
    kept = [w.copy() for w in ws]
    y.sum().backward()
    assert x.grad.shape == shape  # an array, not a NumPy scalar, even when 0-d
    np.testing.assert_allclose(x.grad.data, ws[0] + ws[1] + ws[2] + ws[3], rtol=1e-15)
    for w, k in zip(ws, kept):  # no buffer the walk added into belonged to anyone else
        np.testing.assert_array_equal(w, k)


def test_saved_tensors_without_checks_equals_saved_tensors_after_them():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    node = (x * x).grad_fn
    fast = node.saved_tensors  # nothing changed since forward: the checks are skipped
    assert all(a is b for a, b in zip(fast, saved.checked(node)))


@pytest.mark.parametrize("shape, to", [((2, 3), (3,)), ((2, 3), (1, 3)), ((4, 2, 3), (2, 1)), ((3,), ())])
def test_sum_to_on_arrays_equals_sum_to_on_tensors(shape, to):
    g = np.random.default_rng(8).normal(size=shape)
    fast = mg.sum_to(g, to)  # np.add.reduce
    plain = mg.sum_to(mg.tensor(g), to)  # Tensor.sum, as under create_graph
    assert fast.shape == plain.shape == to
    np.testing.assert_allclose(fast, plain.data, rtol=1e-15)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_sum_over_every_axis_keeps_the_shape_the_axis_check_gives(shape):
    node = mg.tensor(np.ones(shape), requires_grad=True).sum().grad_fn
    assert node.kept == _kept_shape(shape, tuple(range(len(shape))))


# -- the layer's time-first projection of x ---
def test_the_step_inputs_are_the_time_slices_of_x_projected():
    # each step's gate reads x_t W + b, its piece of the layer's one input projection
    x = np.random.default_rng(5).normal(size=(2, 4, 3))
    layer = LSTM(3, 5, rng=0)
    out = layer(mg.tensor(x, requires_grad=True))
    inputs = {a.name: a for n in _producers(out) for a in n.inputs
              if isinstance(a, mg.Tensor) and a.name and a.name.startswith("x_")}  # fmt: skip
    assert sorted(inputs) == sorted(f"x_{t} W_{k} + b_{k}" for t in range(4) for k in "ifgo")
    b = layer.bias_ih_l0.data + layer.bias_hh_l0.data
    for t in range(4):
        for k, gate in enumerate("ifgo"):
            rows = slice(5 * k, 5 * (k + 1))
            want = x[:, t] @ layer.weight_ih_l0.data[rows].T + b[rows]
            got = inputs[f"x_{t} W_{gate} + b_{gate}"].data
            np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)


def _producers(t: mg.Tensor) -> list:
    nodes, stack = [], [t.grad_fn]
    while stack:
        n = stack.pop()
        if n is not None and n not in nodes:
            nodes.append(n)
            stack.extend(a.grad_fn for a in n.inputs if isinstance(a, mg.Tensor))
    return nodes
