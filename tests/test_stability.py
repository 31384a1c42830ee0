"""Numerical stability: sigmoid, tanh, log_softmax and cross_entropy stay finite and accurate for inputs up
to |x| = 1e4, in float32 and float64, forward and gradient.

References are computed in extended precision (``np.longdouble``: a 64-bit significand on x86, 11 more
bits than float64, and an exponent range that holds exp(1e4)), from the defining formulas, so the tests
always run. Accuracy is asserted as the contract in docs/errors.md states it:

- tanh, log_softmax, cross_entropy: a few units in the last place, relative to the value;
- sigmoid: ABSOLUTE error of about one unit in the last place of 1.0 (1.1e-16 in float64). It is computed
  as (1 + tanh(x/2)) / 2, which cannot overflow but loses relative accuracy where sigmoid(x) is tiny
  (x < -30 in float64: sigmoid ~ 1e-13, relative error up to 100%). A gate does not need more: its value
  multiplies a state, where 1e-16 is below everything else's rounding. Losses that need log(sigmoid(x))
  use `binary_cross_entropy_with_logits`, which stays finite and absolutely accurate there (tested below)
  where -log(sigmoid(x)) is inf.
"""

import numpy as np
import pytest

import lstm
import minigrad as mg
import minigrad.functional as F

L = np.longdouble
DTYPES = [np.float64, np.float32]
# Every scale from 1e-8 to 1e4, both signs, 0, and the points where tanh(x) and sigmoid(x) reach 1.
GRID = np.concatenate([[0.0], *[s * np.geomspace(1e-8, 1e4, 97) for s in (1, -1)],
                       [15.0, 19.0, 20.0, 30.0, 37.0, 40.0, -15.0, -19.0, -20.0, -30.0, -37.0, -40.0]])


def eps(dtype) -> float:
    return float(np.finfo(dtype).eps)


def value_and_grad(fn, x: np.ndarray):
    t = mg.tensor(x, requires_grad=True)
    y = fn(t)
    y.backward(np.ones(y.shape, y.dtype))
    return y.data, t.grad.data


def longdouble(x: np.ndarray) -> np.ndarray:
    return x.astype(L)  # the very values the dtype holds, not the decimal ones


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_and_its_gradient(dtype):
    x = GRID.astype(dtype)
    y, g = value_and_grad(mg.tanh, x)
    xl = longdouble(x)
    assert y.dtype == dtype and g.dtype == dtype
    assert np.isfinite(y).all() and np.isfinite(g).all()
    np.testing.assert_allclose(y.astype(L), np.tanh(xl), rtol=2 * eps(dtype), atol=0)
    # d tanh = 1 - tanh^2 = 1 / cosh^2: from the saved output, so absolutely accurate to a few ulp of 1.
    with np.errstate(over="ignore"):  # cosh(1e4)^2 is beyond even longdouble: 1 / inf = 0, as it should
        dtanh = 1 / np.cosh(xl) ** 2
    np.testing.assert_allclose(g.astype(L), dtanh, rtol=8 * eps(dtype), atol=4 * eps(dtype))
    assert y[x == 1e4] == 1 and y[x == -1e4] == -1 and (g[np.abs(x) >= 40] == 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_and_its_gradient_to_the_documented_absolute_accuracy(dtype):
    x = GRID.astype(dtype)
    y, g = value_and_grad(mg.sigmoid, x)
    xl = longdouble(x)
    assert y.dtype == dtype and g.dtype == dtype
    assert np.isfinite(y).all() and np.isfinite(g).all()
    assert (y >= 0).all() and (y <= 1).all() and (g >= 0).all() and (g <= 0.25).all()
    exact = 1 / (1 + np.exp(-xl))
    np.testing.assert_allclose(y.astype(L), exact, rtol=2 * eps(dtype), atol=eps(dtype))
    np.testing.assert_allclose(g.astype(L), exact * (1 - exact), rtol=4 * eps(dtype), atol=2 * eps(dtype))
    # Symmetric: sigmoid(-x) = 1 - sigmoid(x) holds to the same absolute accuracy.
    y_neg, _ = value_and_grad(mg.sigmoid, -x)
    np.testing.assert_allclose(y_neg, 1 - y, atol=eps(dtype))


def test_the_sigmoid_contract_is_absolute_not_relative():
    # What the docstring promises, and what it does not: at x = -30 the value is right to 1e-16 absolutely
    # but only to about 2e-4 relatively; at -40 it is 0, against 4e-18.
    x = np.array([-30.0, -40.0])
    y, _ = value_and_grad(mg.sigmoid, x)
    exact = 1 / (1 + np.exp(-longdouble(x)))
    assert np.all(np.abs(y.astype(L) - exact) < 1.2e-16)
    assert y[1] == 0 and exact[1] > 4e-18
    relative = np.abs(y.astype(L) - exact) / exact
    assert relative[0] > 1e-6  # far from float64's 1e-16


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_with_logits_stays_finite_where_log_of_sigmoid_does_not(dtype):
    # -log(sigmoid(x)) for target 1 and -log(1 - sigmoid(x)) for target 0, at logits where sigmoid is 0 or 1:
    # the naive composition gives inf there, the functional form the exact 1e4.
    x = np.array([-1e4, -40.0, -30.0, 0.0, 30.0, 40.0, 1e4]).astype(dtype)
    xl = longdouble(x)
    softplus = np.logaddexp(L(0), xl)  # log(1 + e^x)
    with np.errstate(divide="ignore"):
        naive = -mg.log(mg.sigmoid(mg.tensor(x))).data
    assert np.isinf(naive[0])
    for target, loss_ref in ((1.0, softplus - xl), (0.0, softplus)):
        t = np.full(x.shape, target, dtype)
        logits = mg.tensor(x, requires_grad=True)
        loss = F.binary_cross_entropy_with_logits(logits, t, reduction="none")
        loss.backward(np.ones(x.shape, dtype))
        assert np.isfinite(loss.data).all() and np.isfinite(logits.grad.data).all()
        # Absolute accuracy, on the scale of the logit: softplus(x) - x cancels for large x.
        err = np.abs(loss.data.astype(L) - loss_ref)
        assert np.all(err <= 4 * eps(dtype) * np.maximum(1, np.abs(xl))), err
        grad_ref = 1 / (1 + np.exp(-xl)) - L(target)  # sigmoid(x) - t
        np.testing.assert_allclose(logits.grad.data.astype(L), grad_ref, rtol=8 * eps(dtype), atol=eps(dtype))


def log_softmax_ref(x: np.ndarray) -> np.ndarray:
    xl = longdouble(x)
    m = xl.max(axis=-1, keepdims=True)
    return xl - m - np.log(np.exp(xl - m).sum(axis=-1, keepdims=True))


LOGITS = np.array([
    [1e4, -1e4, 0.0, 5.0],
    [1e4, 1e4 - 1, 1e4 - 2, -1e4],
    [-1e4, -1e4 + 1, -1e4 + 3, -1e4 + 0.5],
    [0.0, 0.0, 0.0, 0.0],
    [-3.0, 2.0, 30.0, -40.0],
])


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_at_logits_up_to_1e4(dtype):
    x = LOGITS.astype(dtype)
    y, g = value_and_grad(F.log_softmax, x)
    ref = log_softmax_ref(x)
    assert y.dtype == dtype and np.isfinite(y).all() and np.isfinite(g).all()
    # Relative to the largest magnitude in a row: log_softmax's outputs are differences of the logits.
    scale = np.abs(longdouble(x)).max(axis=-1, keepdims=True) + 1
    assert np.all(np.abs(y.astype(L) - ref) <= 4 * eps(dtype) * scale)
    # d/dx sum(log_softmax(x)) = 1 - n * softmax(x), n the row length
    softmax = np.exp(ref)
    np.testing.assert_allclose(g.astype(L), 1 - x.shape[-1] * softmax, rtol=0, atol=16 * eps(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_at_logits_up_to_1e4(dtype):
    x = LOGITS.astype(dtype)
    targets = np.array([1, 3, 0, 2, 3])  # several are the least likely class: losses up to 2e4
    logits = mg.tensor(x, requires_grad=True)
    loss = F.cross_entropy(logits, targets, reduction="sum")
    loss.backward()
    ref = log_softmax_ref(x)
    rows = np.arange(len(targets))
    expected = -ref[rows, targets].sum()
    assert loss.dtype == dtype and np.isfinite(loss.item())
    assert abs(L(loss.item()) - expected) <= 8 * eps(dtype) * abs(expected)
    onehot = np.zeros(x.shape, L)
    onehot[rows, targets] = 1
    np.testing.assert_allclose(logits.grad.data.astype(L), np.exp(ref) - onehot, rtol=0, atol=8 * eps(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_of_softmax_is_the_unstable_way_and_log_softmax_the_stable_one(dtype):
    # Why the functional forms exist: softmax underflows to 0 at -2e4 below the maximum, log gives -inf.
    x = np.array([[1e4, -1e4]], dtype)
    with np.errstate(divide="ignore"):
        naive = mg.log(F.softmax(mg.tensor(x))).data
    assert np.isneginf(naive[0, 1])
    np.testing.assert_array_equal(F.log_softmax(mg.tensor(x)).data, [[0.0, -2e4]])


def test_an_lstm_step_with_saturated_gates_stays_finite():
    # Pre-activations of +-1e4 in every gate, float32 and float64: h and c finite, gradients finite.
    for dtype in DTYPES:
        cell = lstm.LSTMCell(3, 4, rng=0, dtype=dtype)
        x = mg.tensor(np.array([[1e4, -1e4, 1e4], [-1e4, 1e4, -1e4]], dtype), requires_grad=True)
        h, c = cell(x)
        (h.sum() + c.sum()).backward()
        assert h.dtype == dtype and np.isfinite(h.data).all() and np.isfinite(c.data).all()
        assert np.isfinite(x.grad.data).all()
        assert all(np.isfinite(p.grad.data).all() for p in cell.parameters())
