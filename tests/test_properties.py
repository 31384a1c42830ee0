"""Property-based checks of the contract every op keeps, whatever it is thrown:

    either it raises a `mg.MinigradError` whose message starts with the op's name,
    or its output and gradients are finite and correct,

and never a hang (each example has a deadline) nor a bare NumPy exception from inside the engine.

Hypothesis draws random shapes (0-d, size-1 axes, pairs that broadcast and pairs that do not), parameters
that may be invalid (axes out of range, wrong reshape targets, repeated transpose axes, indices out of
bounds, split sizes that do not add up) and extreme values (±0, subnormals, ±1e-300, ±1e300, ±1e4, the
points where sigmoid and tanh saturate, exp's overflow threshold, log near and at 0). Everything runs under
`mg.detect_anomaly()`, which is what turns a NaN or an inf into a MinigradError naming the op.

"Correct" is checked against central differences for smooth functions of moderate values (the valid cases
of every op are covered in depth by tests/test_ops.py; here they come mixed with invalid ones), and against
the derivative's closed form evaluated in extended precision (``np.longdouble``) at extreme values, where a
finite difference cannot resolve anything.
"""

from __future__ import annotations

import operator
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import broadcastable_shapes, float_arrays, numerical_grad, shapes

import minigrad as mg

# A generous deadline: it is there to turn a hang into a failure, not to time anything.
PROPERTY = settings(max_examples=100, deadline=timedelta(seconds=10),
                    suppress_health_check=[HealthCheck.too_slow])


def outcome(fn, arrays, dtype=np.float64):
    """Run ``sum(fn(*tensors) * W)`` forward and backward under detect_anomaly.

    Returns ``(error, None, None)`` for a MinigradError, else ``(None, output array, [gradients])``. Any
    other exception propagates and fails the test: that is the "no bare NumPy exception" property.
    """
    xs = [mg.tensor(np.asarray(a, dtype=dtype), requires_grad=True) for a in arrays]
    with mg.detect_anomaly(), np.errstate(all="ignore"):
        try:
            y = fn(*xs)
            y.backward(weights(y.shape, y.dtype))
        except mg.MinigradError as e:
            return e, None, None
    return None, y.data, [x.grad.data for x in xs]


def weights(shape, dtype=np.float64) -> np.ndarray:
    """The output gradient W: fixed for a shape, never 0, so every output element counts."""
    return np.random.default_rng(len(shape)).uniform(0.5, 1.5, size=shape).astype(dtype)


def assert_names(error: Exception, op: str) -> None:
    """The message starts with the op: ``log: ...``, ``log in scope: ...`` or ``log.backward: ...``."""
    text = str(error)
    assert any(text.startswith(op + sep) for sep in (":", " in ", ".backward:")), text


def numpy_valid(fn, *shapes_) -> bool:
    """Whether NumPy accepts the same operation on arrays of these shapes."""
    try:
        with np.errstate(all="ignore"):
            fn(*[np.ones(s) for s in shapes_])
    except (ValueError, IndexError, TypeError):
        return False
    return True


def check_gradients(fn, arrays, grads, rtol=1e-6, atol=1e-8) -> None:
    """Gradients of sum(fn(*arrays) * W) against central differences (fn on plain arrays)."""
    def loss(*a):
        y = np.asarray(fn(*a))
        return float((y * weights(y.shape)).sum())

    for got, expected in zip(grads, numerical_grad(loss, arrays)):
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


def any_pair_of_shapes():
    """Two shapes that broadcast together, or two drawn apart (sides 2 and 3, so they often do not)."""
    apart = shapes(min_dims=1, min_side=2, max_side=3)
    return broadcastable_shapes(2, max_side=3) | st.tuples(apart, apart)


# -- binary operators and matmul on any pair of shapes ---
BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}


@PROPERTY
@given(data=st.data(), op=st.sampled_from(sorted(BINARY)))
def test_binary_ops_on_any_pair_of_shapes(data, op):
    a_shape, b_shape = data.draw(any_pair_of_shapes())
    a = data.draw(float_arrays(a_shape))
    b = data.draw(float_arrays(b_shape, high=2.0, min_abs=0.5))  # a divisor away from 0
    error, y, grads = outcome(BINARY[op], [a, b])
    event(f"{op}: {'valid' if error is None else 'error'}")
    if not numpy_valid(np.broadcast, a_shape, b_shape):
        assert isinstance(error, mg.ShapeError)
        assert_names(error, op)
        assert f"{a_shape}" in str(error) and f"{b_shape}" in str(error)  # both shapes named
        return
    assert error is None, error
    np.testing.assert_allclose(y, BINARY[op](a, b), rtol=1e-15)
    check_gradients(BINARY[op], [a, b], grads)


@PROPERTY
@given(data=st.data())
def test_matmul_on_any_pair_of_shapes(data):
    a_shape = data.draw(shapes(min_dims=0, max_dims=3, max_side=3))
    b_shape = data.draw(st.one_of(
        shapes(min_dims=0, max_dims=3, max_side=3),
        st.just(a_shape[-1:] + (2,)),  # aligned with a more often than by chance
    ))
    a, b = data.draw(float_arrays(a_shape)), data.draw(float_arrays(b_shape))
    error, y, grads = outcome(operator.matmul, [a, b])
    event(f"matmul: {'valid' if error is None else 'error'}")
    if not numpy_valid(np.matmul, a_shape, b_shape):
        assert isinstance(error, mg.ShapeError)
        assert_names(error, "matmul")
        return
    assert error is None, error
    np.testing.assert_allclose(y, a @ b, rtol=1e-13, atol=1e-13)
    check_gradients(np.matmul, [a, b], grads)


# -- structural ops and reductions with parameters that may be invalid ---
def axes_for(ndim: int):
    """An axis, valid or not (one beyond each end), or None."""
    return st.none() | st.integers(-ndim - 1, ndim)


STRUCTURAL = {
    # name: (draw parameters for a shape, minigrad call, NumPy call)
    "sum": (lambda s: st.tuples(axes_for(len(s)), st.booleans()),
            lambda x, p: x.sum(axis=p[0], keepdims=p[1]), lambda a, p: a.sum(axis=p[0], keepdims=p[1])),
    "mean": (lambda s: st.tuples(axes_for(len(s)), st.booleans()),
             lambda x, p: x.mean(axis=p[0], keepdims=p[1]), lambda a, p: a.mean(axis=p[0], keepdims=p[1])),
    "max": (lambda s: st.tuples(axes_for(len(s)), st.booleans()),
            lambda x, p: x.max(axis=p[0], keepdims=p[1]), lambda a, p: a.max(axis=p[0], keepdims=p[1])),
    "reshape": (lambda s: st.lists(st.integers(1, 4), max_size=3).map(tuple) | st.just((-1,)),
                lambda x, p: x.reshape(p), lambda a, p: a.reshape(p)),
    "transpose": (lambda s: st.lists(st.integers(-len(s) - 1, len(s)), min_size=len(s), max_size=len(s))
                  .map(tuple) | st.permutations(range(len(s))).map(tuple),
                  lambda x, p: x.transpose(p), lambda a, p: a.transpose(p)),
    "getitem": (lambda s: st.tuples(*[st.integers(-n - 1, n) | st.slices(n) for n in s]).filter(bool)
                if s else st.just(()),
                lambda x, p: x[p], lambda a, p: a[p]),
    "broadcast_to": (lambda s: shapes(min_dims=0, max_dims=3, max_side=3),
                     lambda x, p: mg.broadcast_to(x, p), lambda a, p: np.broadcast_to(a, p)),
    "split": (lambda s: st.tuples(st.integers(1, 4) | st.lists(st.integers(-1, 3), min_size=1, max_size=3),
                                  st.integers(-len(s) - 1, len(s))),
              lambda x, p: mg.concat(list(x.split(p[0], axis=p[1])), axis=p[1]),
              lambda a, p: np.concatenate(np.split(a, p[0] if isinstance(p[0], int) else
                                                   np.cumsum(p[0])[:-1], axis=p[1]), axis=p[1])),
}


def structural_valid(name, shape, params) -> bool:
    if name == "split":  # NumPy cuts anywhere (even past the end); minigrad wants pieces that fit exactly
        sizes, axis = params
        if not -len(shape) <= axis < len(shape):
            return False
        n = shape[axis]
        return n % sizes == 0 if isinstance(sizes, int) else sum(sizes) == n and min(sizes) >= 0
    if name in ("sum", "max") and shape == () and params[0] is not None:
        return False  # NumPy accepts axis 0 and -1 of a 0-d array; minigrad refuses, as mean does
    return numpy_valid(lambda a: STRUCTURAL[name][2](a, params), shape)


@PROPERTY
@given(data=st.data(), name=st.sampled_from(sorted(STRUCTURAL)))
def test_structural_ops_and_reductions_with_any_parameters(data, name):
    draw_params, call, reference = STRUCTURAL[name]
    shape = data.draw(shapes(min_dims=0 if name != "split" else 1, max_side=3))
    params = data.draw(draw_params(shape))
    a = data.draw(float_arrays(shape, distinct=name == "max"))  # no ties at a maximum
    error, y, grads = outcome(lambda x: call(x, params), [a])
    event(f"{name}: {'valid' if error is None else 'error'}")
    if not structural_valid(name, shape, params):
        assert isinstance(error, mg.MinigradError), f"no error for {name}{params} on {shape}"
        assert_names(error, "concat" if name == "split" and "concat" in str(error)[:6] else name)
        return
    assert error is None, error
    np.testing.assert_allclose(y, reference(a, params), rtol=1e-14)
    check_gradients(lambda v: reference(v, params), [a], grads)


@PROPERTY
@given(data=st.data(), join=st.sampled_from(["concat", "stack"]))
def test_joining_tensors_of_any_shapes(data, join):
    n = data.draw(st.integers(1, 3))
    first = data.draw(shapes(min_dims=0, max_side=3))
    shapes_ = [first] + [data.draw(st.just(first) | shapes(min_dims=0, max_side=3)) for _ in range(n - 1)]
    axis = data.draw(st.integers(-len(first) - 2, len(first) + 1))
    arrays = [data.draw(float_arrays(s)) for s in shapes_]
    fn = {"concat": mg.concat, "stack": mg.stack}[join]
    ref = {"concat": np.concatenate, "stack": np.stack}[join]
    error, y, grads = outcome(lambda *xs: fn(list(xs), axis=axis), arrays)
    event(f"{join}: {'valid' if error is None else 'error'}")
    if not numpy_valid(lambda *xs: ref(xs, axis=axis), *shapes_):
        assert isinstance(error, mg.MinigradError), f"no error for {join} of {shapes_} on axis {axis}"
        assert_names(error, join)
        return
    assert error is None, error
    np.testing.assert_array_equal(y, ref(arrays, axis=axis))
    check_gradients(lambda *xs: ref(xs, axis=axis), arrays, grads)


# -- element-wise functions at extreme values ---
EXTREMES = [0.0, -0.0, 5e-324, -5e-324, 1e-300, -1e-300, 1e-8, -1e-8, 0.5, -0.5, 1.0, -1.0, 15.0, -15.0,
            19.0, -19.0, 30.0, -30.0, 40.0, -40.0, 88.0, 89.0, -104.0, 709.0, 710.0, -745.0, -746.0,
            1e4, -1e4, 1e300, -1e300]


def extreme_arrays(dtype):
    elements = st.sampled_from(EXTREMES) | st.floats(-800.0, 800.0) | st.floats(-1e-3, 1e-3)
    big = np.finfo(dtype).max  # 1e300 becomes float32's largest value, not inf
    return hnp.arrays(np.float64, shapes(min_dims=0, max_dims=2, max_side=3), elements=elements).map(
        lambda a: np.clip(a, -big, big).astype(dtype))


L = np.longdouble


def _sigmoid_ref(x):
    return 1 / (1 + np.exp(-x))


ELEMENTWISE = {
    # name: (minigrad function, f and f' in extended precision)
    "exp": (mg.exp, np.exp, np.exp),
    "log": (mg.log, np.log, lambda x: 1 / x),
    "tanh": (mg.tanh, np.tanh, lambda x: 1 / np.cosh(x) ** 2),
    "sigmoid": (mg.sigmoid, _sigmoid_ref, lambda x: 1 / (4 * np.cosh(x / 2) ** 2)),
    "relu": (mg.relu, lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(L)),
    "neg": (operator.neg, operator.neg, lambda x: -np.ones_like(x)),
    "pow": (lambda x: x**3, lambda x: x**3, lambda x: 3 * x**2),
    "sqrt": (lambda x: x**0.5, np.sqrt, lambda x: 0.5 / np.sqrt(x)),
    "reciprocal": (lambda x: x**-1, lambda x: 1 / x, lambda x: -1 / x**2),
}


@PROPERTY
@given(data=st.data(), name=st.sampled_from(sorted(ELEMENTWISE)), dtype=st.sampled_from([np.float64,
                                                                                         np.float32]))
def test_elementwise_functions_at_extreme_values(data, name, dtype):
    fn, f, df = ELEMENTWISE[name]
    x = data.draw(extreme_arrays(dtype))
    xl = x.astype(L)
    with np.errstate(all="ignore"):
        ref_y, ref_g = f(xl), df(xl) * weights(x.shape).astype(dtype).astype(L)
    info = np.finfo(dtype)
    # Too close to where the result leaves the dtype's range to say which side rounding falls on.
    for r in (ref_y, ref_g):
        with np.errstate(all="ignore"):
            assume(not np.any(np.isfinite(r) & (np.abs(np.abs(r) / L(info.max) - 1) < 1e-3)))
    fits = all(np.all(np.isfinite(r) & (np.abs(r) <= L(info.max))) for r in (ref_y, ref_g))
    error, y, grads = outcome(fn, [x], dtype=dtype)
    event(f"{name}: {'finite' if error is None else 'error'}")
    op = {"neg": "neg", "sqrt": "pow", "reciprocal": "pow"}.get(name, name)
    if not fits:
        assert isinstance(error, mg.AnomalyError), f"{name} at {x}: no error, got {y} and {grads}"
        assert_names(error, op)
        return
    assert error is None, error
    assert y.dtype == dtype and grads[0].dtype == dtype
    # Accuracy in the dtype's terms: a few units in the last place of the value, or of 1 near 0 (the
    # absolute accuracy that (1 + tanh(x/2)) / 2 gives sigmoid; see docs/errors.md).
    tol = {"rtol": 8 * info.eps, "atol": 4 * info.eps if name in ("sigmoid", "tanh") else info.tiny}
    np.testing.assert_allclose(y.astype(L), ref_y, **tol)
    np.testing.assert_allclose(grads[0].astype(L), ref_g, rtol=16 * info.eps, atol=tol["atol"])


# -- no bare NumPy exception, even when NumPy is asked to raise on floating-point trouble ---
@PROPERTY
@given(data=st.data(), name=st.sampled_from(sorted(ELEMENTWISE)))
def test_with_numpy_raising_on_floating_point_trouble_errors_still_name_the_op(data, name):
    # np.seterr(all="raise") is a common debugging step: NumPy's FloatingPointError from a forward or a
    # backward formula must come out as a MinigradError naming the op, not bare.
    fn = ELEMENTWISE[name][0]
    x = mg.tensor(data.draw(extreme_arrays(np.float64)), requires_grad=True)
    op = {"sqrt": "pow", "reciprocal": "pow"}.get(name, name)
    with np.errstate(all="raise"):
        try:
            y = fn(x)
            y.backward(np.ones(y.shape))
        except mg.MinigradError as e:
            assert_names(e, op)
            return
    assert np.isfinite(x.grad.data).all()


def test_a_backward_that_raises_is_reported_with_its_op():
    # The property above in one example: a user Function whose backward hits a NumPy error.
    class Broken(mg.Function):
        op = "broken"

        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g @ np.ones((5, 5))  # (3,) @ (5, 5): NumPy raises

    with mg.scope("head"):
        y = Broken.apply(mg.tensor(np.ones(3), requires_grad=True))
    expected = r"^broken in head\.backward: matmul: Input operand 1 has a mismatch .* " \
               r"\(inputs: float64 \(3,\)\)$"
    with pytest.raises(mg.ShapeError, match=expected):
        y.sum().backward()


def test_an_unwritten_backward_passes_its_not_implemented_error_through():
    # Exercises leave backward as `raise NotImplementedError`; notebooks catch exactly that.
    class Todo(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            raise NotImplementedError("write Todo.backward")

    with pytest.raises(NotImplementedError, match="^write Todo.backward$"):
        Todo.apply(mg.tensor([1.0], requires_grad=True)).sum().backward()


def test_reductions_refuse_axis_0_of_a_0d_tensor_like_mean():
    # NumPy lets x.sum(axis=0) through on a 0-d array (and minigrad's sum then failed with "integer modulo
    # by zero"); every reduction now says the same thing.
    for reduce in ("sum", "max", "mean"):
        expected = f"^{reduce}: axis -1 is out of bounds for array of dimension 0"
        with pytest.raises(mg.OpIndexError, match=expected):
            getattr(mg.tensor(2.0), reduce)(axis=-1)
