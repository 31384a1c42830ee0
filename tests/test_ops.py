"""Every primitive op against NumPy (forward) and against central differences (gradients).

One table, `OPS`, lists the ops: a name, the minigrad call, an independent NumPy formula, the strategy
that draws the input shapes and parameters, and the domain of each input. Adding an op is one line.
Each op is checked on shapes drawn by hypothesis, broadcasting pairs, size-1 and 0-d cases included:

- its forward output equals the NumPy formula;
- the gradients of ``sum(output * W)`` (W random) equal central differences of the NumPy formula,
  in float64;
- float32 inputs give float32 outputs and float32 gradients.

Semantics the table does not reach are tested below it: ties of max, repeated indices, 1-D matmul
operands, numbers and arrays on either side of an operator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import (
    broadcastable_shapes,
    float_arrays,
    numerical_grad,
    reshape_targets,
    shapes,
    split_sizes,
)

import minigrad as mg


@dataclass(frozen=True)
class Domain:
    """Where an input's elements are drawn from (see `strategies.float_arrays`)."""

    low: float = -2.0
    high: float = 2.0
    min_abs: float = 0.0
    distinct: bool = False

    def arrays(self, shape, dtype=np.float64):
        return float_arrays(shape, self.low, self.high, dtype=dtype, min_abs=self.min_abs,
                            distinct=self.distinct)


REAL = Domain()
POSITIVE = Domain(0.5, 2.5)
NONZERO = Domain(high=2.0, min_abs=0.5)  # away from relu's kink and from division by zero
DISTINCT = Domain(distinct=True)  # no ties for max, even after a finite-difference step


# -- cases: strategies drawing (input shapes, parameters) ---
def unary():
    return shapes().map(lambda s: ([s], {}))


def binary():
    return broadcastable_shapes().map(lambda pair: (list(pair), {}))


@st.composite
def axis_of(draw, ndim: int):
    """None, one axis (possibly negative) or a tuple of distinct axes."""
    if ndim == 0:
        return None
    one = st.integers(-ndim, ndim - 1)
    several = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple)
    return draw(st.none() | one | several)


@st.composite
def reduction(draw):
    shape = draw(shapes())
    return [shape], {"axis": draw(axis_of(len(shape))), "keepdims": draw(st.booleans())}


@st.composite
def matmul_shapes(draw):
    """2-D, batched (batch dims broadcast) and 1-D operands on either side."""
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    batch_a, batch_b = draw(broadcastable_shapes(max_dims=2, max_side=3))
    a = (k,) if draw(st.booleans()) else (*batch_a, n, k)
    b = (k,) if draw(st.booleans()) else (*batch_b, k, m)
    return [a, b], {}


@st.composite
def reshape_case(draw):
    shape = draw(shapes())
    return [shape], {"shape": draw(reshape_targets(shape))}


@st.composite
def transpose_case(draw):
    shape = draw(shapes())
    n = len(shape)
    # each axis written as itself or as its negative alias
    axes = tuple(a - n if draw(st.booleans()) else a for a in draw(st.permutations(range(n))))
    return [shape], {"axes": axes}


@st.composite
def basic_index_case(draw):
    shape = draw(shapes(min_dims=1))
    return [shape], {"index": draw(hnp.basic_indices(shape, allow_newaxis=True))}


@st.composite
def array_index_case(draw):
    """Integer arrays (repeats likely) on the leading axes, optionally a slice after them."""
    shape = draw(shapes(min_dims=1))
    index = draw(hnp.integer_array_indices(shape, result_shape=shapes(max_dims=2)))
    if len(index) < len(shape) and draw(st.booleans()):
        index = (*index, slice(None, None, -1))
    return [shape], {"index": index}


@st.composite
def mask_index_case(draw):
    """A boolean mask over the leading axes (NumPy selects the True positions, in order)."""
    shape = draw(shapes(min_dims=1))
    k = draw(st.integers(1, len(shape)))
    return [shape], {"index": draw(hnp.arrays(np.bool_, shape[:k]))}


@st.composite
def concat_case(draw):
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    in_shapes = [shape[: axis % len(shape)] + (n,) + shape[axis % len(shape) + 1 :] for n in sizes]
    return in_shapes, {"axis": axis}


@st.composite
def stack_case(draw):
    shape = draw(shapes())
    n = draw(st.integers(1, 3))
    return [shape] * n, {"axis": draw(st.integers(-len(shape) - 1, len(shape)))}


@st.composite
def split_case(draw):
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    length = shape[axis]
    divisors = [n for n in range(1, length + 1) if length % n == 0]
    sizes_or_n = draw(st.sampled_from(divisors) | split_sizes(length))
    return [shape], {"sizes_or_n": sizes_or_n, "axis": axis}


@st.composite
def pow_case(draw):
    return [draw(shapes())], {"p": draw(st.sampled_from([0, 1, 2, 3, 0.5, -1.5, 2.5]))}


def np_split(x, sizes_or_n, axis):
    if isinstance(sizes_or_n, int):
        return tuple(np.split(x, sizes_or_n, axis=axis))
    return tuple(np.split(x, np.cumsum(sizes_or_n)[:-1], axis=axis))


@dataclass(frozen=True)
class Op:
    name: str
    fn: Callable  # minigrad: (*tensors, **params) -> Tensor or tuple of Tensors
    ref: Callable  # NumPy: (*arrays, **params) -> array or tuple of arrays
    case: Callable  # () -> strategy of (input shapes, params)
    domains: tuple = (REAL,)  # one per input; the last one repeats

    def domain(self, k: int) -> Domain:
        return self.domains[min(k, len(self.domains) - 1)]

    def __repr__(self) -> str:  # the test id
        return self.name


OPS = [
    Op("add", lambda a, b: a + b, np.add, binary),
    Op("sub", lambda a, b: a - b, np.subtract, binary),
    Op("mul", lambda a, b: a * b, np.multiply, binary),
    Op("div", lambda a, b: a / b, np.divide, binary, (REAL, NONZERO)),
    Op("neg", lambda x: -x, np.negative, unary),
    Op("mul_reused", lambda x: x * x * x + x, lambda x: x**3 + x, unary),  # 4 uses add up, 0-d too
    Op("pow_number", lambda x, p: x**p, lambda x, p: np.power(x, p), pow_case, (POSITIVE,)),
    Op("pow_tensor", lambda a, b: a**b, np.power, binary, (POSITIVE, REAL)),
    Op("rpow_number", lambda x: 2.5**x, lambda x: np.power(2.5, x), unary),
    Op("exp", mg.exp, np.exp, unary),
    Op("log", mg.log, np.log, unary, (POSITIVE,)),
    Op("tanh", mg.tanh, np.tanh, unary),
    Op("sigmoid", mg.sigmoid, lambda x: 1 / (1 + np.exp(-x)), unary, (Domain(-6, 6),)),
    Op("relu", mg.relu, lambda x: np.maximum(x, 0), unary, (NONZERO,)),
    Op("sum", lambda x, **kw: x.sum(**kw), np.sum, reduction),
    Op("mean", lambda x, **kw: x.mean(**kw), np.mean, reduction),
    Op("max", lambda x, **kw: x.max(**kw), np.max, reduction, (DISTINCT,)),
    Op("matmul", lambda a, b: a @ b, np.matmul, matmul_shapes),
    Op("reshape", lambda x, shape: x.reshape(shape), np.reshape, reshape_case),
    Op("transpose", lambda x, axes: x.transpose(*axes), np.transpose, transpose_case),
    Op(".T", lambda x: x.T, np.transpose, unary),
    Op("getitem_basic", lambda x, index: x[index], lambda x, index: x[index], basic_index_case),
    Op("getitem_array", lambda x, index: x[index], lambda x, index: x[index], array_index_case),
    Op("getitem_mask", lambda x, index: x[index], lambda x, index: x[index], mask_index_case),
    Op("concat", lambda *xs, axis: mg.concat(xs, axis), lambda *xs, axis: np.concatenate(xs, axis),
       concat_case),
    Op("stack", lambda *xs, axis: mg.stack(xs, axis), lambda *xs, axis: np.stack(xs, axis), stack_case),
    Op("stack_reused", lambda x: mg.stack([x, x * 2, x * 3]), lambda x: np.stack([x, 2 * x, 3 * x]), unary),
    Op("split", lambda x, **kw: x.split(**kw), np_split, split_case),
]  # fmt: skip


def as_tuple(out) -> tuple:
    return out if isinstance(out, tuple) else (out,)


def draw_inputs(data, op: Op, dtype=np.float64):
    in_shapes, params = data.draw(op.case(), label="shapes and params")
    arrays = [data.draw(op.domain(k).arrays(s, dtype), label=f"input {k}") for k, s in enumerate(in_shapes)]
    return arrays, params


@pytest.mark.parametrize("op", OPS, ids=repr)
@settings(max_examples=30)
@given(data=st.data())
def test_forward_matches_numpy(op, data):
    arrays, params = draw_inputs(data, op)
    out = as_tuple(op.fn(*(mg.tensor(a, requires_grad=True) for a in arrays), **params))
    expected = as_tuple(op.ref(*arrays, **params))
    assert len(out) == len(expected)
    for o, e in zip(out, expected):
        assert isinstance(o, mg.Tensor)
        assert o.shape == np.shape(e)
        assert o.dtype == np.float64
        assert o.requires_grad
        np.testing.assert_allclose(o.data, e, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("op", OPS, ids=repr)
@settings(max_examples=40)
@given(data=st.data())
def test_gradients_match_central_differences(op, data):
    arrays, params = draw_inputs(data, op)
    expected = as_tuple(op.ref(*arrays, **params))
    # The loss is sum(output * W) with W random, so every element of the output's gradient is tested.
    weights = [data.draw(float_arrays(np.shape(e), -1.0, 1.0), label="W") for e in expected]

    def loss(*xs):
        return sum(np.sum(o * w) for o, w in zip(as_tuple(op.ref(*xs, **params)), weights))

    tensors = [mg.tensor(a, requires_grad=True) for a in arrays]
    outs = as_tuple(op.fn(*tensors, **params))
    grads = mg.grad(outs, tensors, grad_outputs=[mg.tensor(w) for w in weights], allow_unused=True)
    for k, (g, num) in enumerate(zip(grads, numerical_grad(loss, arrays))):
        analytic = np.zeros_like(num) if g is None else g.data
        assert analytic.shape == arrays[k].shape
        np.testing.assert_allclose(analytic, num, rtol=1e-5, atol=1e-6, err_msg=f"input {k}")


@pytest.mark.parametrize("op", OPS, ids=repr)
@settings(max_examples=8)
@given(data=st.data())
def test_float32_stays_float32(op, data):
    arrays, params = draw_inputs(data, op, dtype=np.float32)
    tensors = [mg.tensor(a, requires_grad=True) for a in arrays]
    outs = as_tuple(op.fn(*tensors, **params))
    expected = as_tuple(op.ref(*(a.astype(np.float64) for a in arrays), **params))
    for o, e in zip(outs, expected):
        assert o.dtype == np.float32
        np.testing.assert_allclose(o.data, e, rtol=1e-4, atol=1e-5)
    sum(o.sum() for o in outs).backward()
    for t in tensors:
        assert t.grad is not None
        assert t.grad.dtype == np.float32
        assert t.grad.shape == t.shape


# -- semantics the table does not reach ---
def test_max_ties_share_the_gradient_equally():
    x = mg.tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.5, 0.5, 0.0])

    x = mg.tensor([[1.0, 3.0, 0.0], [4.0, 4.0, 4.0]], requires_grad=True)
    x.max(axis=1).backward(np.array([2.0, 3.0]))
    np.testing.assert_allclose(x.grad.data, [[0.0, 2.0, 0.0], [1.0, 1.0, 1.0]])

    x = mg.tensor([[5.0, 1.0], [5.0, 5.0]], requires_grad=True)
    x.max(axis=0, keepdims=True).sum().backward()
    np.testing.assert_allclose(x.grad.data, [[0.5, 0.0], [0.5, 1.0]])


def test_repeated_indices_accumulate():
    x = mg.tensor([10.0, 20.0, 30.0], requires_grad=True)
    x[np.array([0, 2, 0, 0])].backward(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.data, [8.0, 0.0, 2.0])

    x = mg.tensor(np.zeros((2, 3)), requires_grad=True)
    x[[1, 1, 0], [2, 2, 2]].sum().backward()  # element (1, 2) twice, (0, 2) once
    np.testing.assert_array_equal(x.grad.data, [[0, 0, 1], [0, 0, 2]])


@pytest.mark.parametrize(
    ("a_shape", "b_shape", "out_shape"),
    [((3,), (3,), ()), ((3,), (3, 4), (4,)), ((2, 3), (3,), (2,)), ((5, 2, 3), (3,), (5, 2)),
     ((3,), (5, 3, 2), (5, 2)), ((5, 1, 2, 3), (4, 3, 2), (5, 4, 2, 2))],
)  # fmt: skip
def test_matmul_shapes_follow_numpy(a_shape, b_shape, out_shape):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=a_shape), rng.normal(size=b_shape)
    ta, tb = mg.tensor(a, requires_grad=True), mg.tensor(b, requires_grad=True)
    out = ta @ tb
    assert out.shape == out_shape
    np.testing.assert_allclose(out.data, a @ b)
    out.sum().backward()
    assert ta.grad.shape == a_shape
    assert tb.grad.shape == b_shape


def test_transpose_with_negative_axes():
    rng = np.random.default_rng(3)
    x0, w = rng.normal(size=(2, 2, 2)), rng.normal(size=(2, 2, 2))
    x = mg.tensor(x0, requires_grad=True)
    y = x.transpose(0, -1, 1)  # swaps the last two axes
    np.testing.assert_array_equal(y.data, x0.transpose(0, 2, 1))
    y.backward(w)
    np.testing.assert_array_equal(x.grad.data, w.transpose(0, 2, 1))


def test_split_returns_one_tensor_per_piece():
    x = mg.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    pieces = x.split([1, 3], axis=1)
    assert [p.shape for p in pieces] == [(3, 1), (3, 3)]
    assert len(x.split(2, axis=1)) == 2
    assert len(mg.split(x, 3)) == 3
    # Only one piece used: the other's part of the gradient is zero.
    (pieces[1] * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.tile([0.0, 2.0, 2.0, 2.0], (3, 1)))


def test_pow_zero_has_zero_gradient_at_zero():
    # Polynomial features x**0 + x**1 + x**2 at x = 0: the derivative is 0 + 1 + 0, not NaN.
    x = mg.tensor([0.0, 2.0], requires_grad=True)
    sum(x**k for k in range(3)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 5.0])


def test_mean_over_several_axes_divides_by_their_size():
    x = mg.tensor(np.ones((2, 3, 4)), requires_grad=True)
    x.mean(axis=(0, 2)).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.full((2, 3, 4), 1 / 8))


BINARY_OPERATORS = {
    "+": (lambda a, b: a + b, lambda a, b: (np.ones_like(a), np.ones_like(b))),
    "-": (lambda a, b: a - b, lambda a, b: (np.ones_like(a), -np.ones_like(b))),
    "*": (lambda a, b: a * b, lambda a, b: (b, a)),
    "/": (lambda a, b: a / b, lambda a, b: (1 / b, -a / b**2)),
    "**": (lambda a, b: a**b, lambda a, b: (b * a ** (b - 1), a**b * np.log(a))),
}


@pytest.mark.parametrize("symbol", BINARY_OPERATORS)
@pytest.mark.parametrize("other", [2.5, 3, np.float64(1.5), np.array([1.5, 2.0, 0.5])],
                         ids=["float", "int", "np-scalar", "array"])
def test_numbers_and_arrays_on_either_side(symbol, other):
    operator, derivatives = BINARY_OPERATORS[symbol]
    x_data = np.array([0.5, 1.0, 2.0])
    other_data = np.asarray(other, dtype=np.float64)
    for tensor_first in (True, False):
        x = mg.tensor(x_data, requires_grad=True)
        out = operator(x, other) if tensor_first else operator(other, x)
        a, b = (x_data, other_data) if tensor_first else (other_data, x_data)
        assert isinstance(out, mg.Tensor)
        np.testing.assert_allclose(out.data, operator(a, b))
        out.sum().backward()
        expected = derivatives(a, b)[0 if tensor_first else 1]
        np.testing.assert_allclose(x.grad.data, np.broadcast_to(expected, x_data.shape))


def test_matmul_with_an_array_on_either_side():
    rng = np.random.default_rng(1)
    w, v = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    x = mg.tensor(rng.normal(size=(4, 4)), requires_grad=True)
    np.testing.assert_allclose((w @ x).data, w @ x.data)
    np.testing.assert_allclose((x @ v).data, x.data @ v)
    (w @ x @ v).sum().backward()
    np.testing.assert_allclose(x.grad.data, w.T @ np.ones((3, 2)) @ v.T)


@pytest.mark.parametrize("other", [2.5, np.float64(2.5), 2])
def test_numbers_do_not_promote_float32(other):
    x = mg.tensor(np.array([0.5, 1.0, 2.0], dtype=np.float32), requires_grad=True)
    outs = [x + other, other - x, x * other, other / x, x**other, other**x]
    for out in outs:
        assert out.dtype == np.float32, out
    sum(o.sum() for o in outs).backward()
    assert x.grad.dtype == np.float32
