"""minigrad.functional: values against hand formulas, gradients against central differences in float64 and
against the hand-derived gradients (softmax - onehot for cross-entropy, sigmoid - t for the binary one),
extreme logits (|x| = 1e4) in float32 and float64 against analytic limits, dtypes, scopes and errors."""

import math

import numpy as np
import pytest
from strategies import numerical_grad_of

import minigrad as mg
from minigrad import functional as F

RNG = np.random.default_rng(20240601)


def autograd(fn, x: np.ndarray) -> np.ndarray:
    t = mg.tensor(x, requires_grad=True)
    fn(t).backward()
    return t.grad.data


def hand_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# -- softmax and log_softmax ---
@pytest.mark.parametrize(("shape", "axis"), [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1)])
def test_softmax_and_log_softmax_values(shape, axis):
    x = RNG.normal(scale=3.0, size=shape)
    s = F.softmax(mg.tensor(x), axis=axis).data
    np.testing.assert_allclose(s, np.exp(x) / np.exp(x).sum(axis=axis, keepdims=True), rtol=1e-13)
    np.testing.assert_allclose(s.sum(axis=axis), 1.0, rtol=1e-14)
    ls = F.log_softmax(mg.tensor(x), axis=axis).data
    hand = x - np.log(np.exp(x).sum(axis=axis, keepdims=True))
    # atol: both sides lose digits to cancellation where x is close to the log-sum-exp
    np.testing.assert_allclose(ls, hand, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
@pytest.mark.parametrize(("shape", "axis"), [((4,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1)])
def test_softmax_gradients_match_central_differences(fn, shape, axis):
    x = RNG.normal(scale=2.0, size=shape)
    w = RNG.normal(size=shape)  # a random weighting, so every output's gradient matters

    def loss(t):
        return (fn(t, axis=axis) * w).sum()

    expected = numerical_grad_of(lambda: loss(x).item(), x)
    np.testing.assert_allclose(autograd(loss, x), expected, rtol=1e-6, atol=1e-8)


def test_log_softmax_gradient_matches_hand_formula():
    # d/dx_j sum_i w_i log_softmax(x)_i = w_j - softmax(x)_j * sum_i w_i
    x = RNG.normal(size=(3, 5))
    w = RNG.normal(size=(3, 5))
    got = autograd(lambda t: (F.log_softmax(t) * w).sum(), x)
    hand = w - hand_softmax(x, -1) * w.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(got, hand, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_at_extreme_logits_matches_analytic_limits(dtype):
    x = np.array([[1e4, -1e4, 0.0], [1e4, 1e4, -1e4], [-1e4, -1e4, -1e4], [1e4, 1e4 - 1, 1e4 - 2]], dtype)
    s = F.softmax(mg.tensor(x)).data
    ls = F.log_softmax(mg.tensor(x)).data
    assert s.dtype == dtype and ls.dtype == dtype
    assert np.isfinite(s).all() and np.isfinite(ls).all()
    z = 1 + math.exp(-1) + math.exp(-2)
    soft = [[1, 0, 0], [0.5, 0.5, 0], [1 / 3] * 3, [1 / z, math.exp(-1) / z, math.exp(-2) / z]]
    log2, log3 = math.log(2), math.log(3)
    logs = [
        [0, -2e4, -1e4],
        [-log2, -log2, -2e4 - log2],
        [-log3] * 3,
        [-math.log(z), -1 - math.log(z), -2 - math.log(z)],
    ]
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(s, soft, rtol=tol, atol=tol)
    np.testing.assert_allclose(ls, logs, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_gradient_at_extreme_logits_is_finite_and_correct(dtype):
    x = mg.tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype), requires_grad=True)
    w = np.array([[1.0, 2.0, 3.0], [3.0, -1.0, 2.0]], dtype)
    (F.log_softmax(x) * w).sum().backward()
    g = x.grad.data
    assert g.dtype == dtype
    s = np.array([[1, 0, 0], [0, 0.5, 0.5]])
    np.testing.assert_allclose(g, w - s * w.sum(axis=-1, keepdims=True), rtol=1e-6, atol=1e-6)


def test_softmax_accepts_arrays_and_keeps_float32():
    out = F.softmax(np.array([1.0, 2.0], np.float32))
    assert isinstance(out, mg.Tensor) and out.dtype == np.float32
    assert F.log_softmax([1, 2, 3]).dtype == np.float64  # integers take the default dtype


def test_softmax_ops_are_recorded_in_named_scopes():
    x = mg.tensor(RNG.normal(size=(2, 3)), requires_grad=True)
    assert F.softmax(x).grad_fn.scope == "softmax"
    with mg.scope("head"):
        loss = F.cross_entropy(x, [0, 1])
        assert F.log_softmax(x).grad_fn.scope == "head/log_softmax"
    assert loss.grad_fn.scope == "head/cross_entropy"
    nodes, stack = [], [loss.grad_fn]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(t.grad_fn for t in node.inputs if isinstance(t, mg.Tensor) and t.grad_fn is not None)
    assert {n.scope for n in nodes} == {"head/cross_entropy", "head/cross_entropy/log_softmax"}
    assert "Max" not in {type(n).__name__ for n in nodes}  # the max is a constant, not an op


def test_softmax_of_a_0d_tensor_is_an_error():
    with pytest.raises(mg.ShapeError, match=r"^log_softmax: needs at least one axis, got a 0-d tensor"):
        F.log_softmax(mg.tensor(1.0))


# -- cross_entropy ---
def hand_cross_entropy(x, t):
    """(mean loss, gradient) by the textbook formulas for rows x (M, C) and classes t (M,)."""
    s = hand_softmax(x, -1)
    loss = -np.mean(np.log(s[np.arange(len(t)), t]))
    onehot = np.eye(x.shape[-1])[t]
    return loss, (s - onehot) / len(t)


def test_cross_entropy_value_and_gradient_match_hand_formulas():
    x = RNG.normal(scale=2.0, size=(6, 4))
    t = np.array([0, 3, 1, 1, 2, 3])
    loss, grad = hand_cross_entropy(x, t)
    xt = mg.tensor(x, requires_grad=True)
    out = F.cross_entropy(xt, t)
    assert out.shape == ()
    out.backward()
    np.testing.assert_allclose(out.item(), loss, rtol=1e-13)
    np.testing.assert_allclose(xt.grad.data, grad, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        xt.grad.data, numerical_grad_of(lambda: F.cross_entropy(x, t).item(), x), rtol=1e-6, atol=1e-9
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_over_sequences_matches_flattened_rows(reduction):
    x = RNG.normal(size=(2, 3, 5))  # (N, T, C)
    t = RNG.integers(0, 5, size=(2, 3))
    w = RNG.normal(size=(2, 3))
    per_row = -np.log(hand_softmax(x, -1))[np.arange(2)[:, None], np.arange(3), t]
    expected = {"mean": per_row.mean(), "sum": per_row.sum(), "none": per_row}[reduction]
    out = F.cross_entropy(mg.tensor(x), t, reduction=reduction)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-13)

    def loss(v):
        out = F.cross_entropy(v, t, reduction=reduction)
        return (out * w).sum() if reduction == "none" else out

    expected_grad = numerical_grad_of(lambda: loss(x).item(), x)
    np.testing.assert_allclose(autograd(loss, x), expected_grad, rtol=1e-6, atol=1e-9)


def test_cross_entropy_of_one_sample_with_a_scalar_target():
    x = RNG.normal(size=4)
    loss, grad = hand_cross_entropy(x[None], np.array([2]))
    xt = mg.tensor(x, requires_grad=True)
    out = F.cross_entropy(xt, 2)
    out.backward()
    assert out.shape == ()
    np.testing.assert_allclose(out.item(), loss, rtol=1e-13)
    np.testing.assert_allclose(xt.grad.data, grad[0], rtol=1e-12, atol=1e-15)


def test_cross_entropy_ignore_index_skips_targets_in_value_and_gradient():
    x = RNG.normal(size=(5, 3))
    t = np.array([2, -100, 0, -100, 1])
    kept = t != -100
    loss, grad = hand_cross_entropy(x[kept], t[kept])  # the mean is over the 3 kept rows
    xt = mg.tensor(x, requires_grad=True)
    out = F.cross_entropy(xt, t, ignore_index=-100)
    out.backward()
    np.testing.assert_allclose(out.item(), loss, rtol=1e-13)
    np.testing.assert_allclose(xt.grad.data[kept], grad, rtol=1e-12, atol=1e-15)
    assert (xt.grad.data[~kept] == 0).all()
    numeric = numerical_grad_of(lambda: F.cross_entropy(x, t, ignore_index=-100).item(), x)
    np.testing.assert_allclose(xt.grad.data, numeric, rtol=1e-6, atol=1e-9)
    # a valid class can be the ignored one too
    np.testing.assert_allclose(
        F.cross_entropy(x, np.array([2, 1, 0, 1, 1]), ignore_index=1).item(),
        hand_cross_entropy(x[[0, 2]], np.array([2, 0]))[0],
        rtol=1e-13,
    )


def test_cross_entropy_with_every_target_ignored_is_zero_with_zero_gradient():
    xt = mg.tensor(RNG.normal(size=(2, 3)), requires_grad=True)
    out = F.cross_entropy(xt, [-1, -1], ignore_index=-1)
    out.backward()
    assert out.item() == 0.0
    assert (xt.grad.data == 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_at_extreme_logits_matches_analytic_limits(dtype):
    x = np.array([[1e4, -1e4, 0.0], [1e4, 1e4, -1e4], [-1e4, -1e4, -1e4], [1e4, -1e4, 0.0]], dtype)
    t = np.array([1, 0, 2, 0])
    xt = mg.tensor(x, requires_grad=True)
    out = F.cross_entropy(xt, t, reduction="none")
    out.sum().backward()
    assert out.dtype == dtype and xt.grad.dtype == dtype
    expected = [2e4, math.log(2), math.log(3), 0.0]
    np.testing.assert_allclose(out.data, expected, rtol=1e-6 if dtype == np.float32 else 1e-14)
    s = np.array([[1, 0, 0], [0.5, 0.5, 0], [1 / 3] * 3, [1, 0, 0]])
    np.testing.assert_allclose(xt.grad.data, s - np.eye(3)[t], rtol=1e-6, atol=1e-6)


def test_cross_entropy_accepts_float_class_indices_and_keeps_float32():
    x = mg.tensor(RNG.normal(size=(3, 4)).astype(np.float32), requires_grad=True)
    out = F.cross_entropy(x, mg.tensor([3, 0, 2]))  # mg.tensor stores the integers as floats
    out.backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_allclose(out.item(), hand_cross_entropy(x.data.astype(np.float64), [3, 0, 2])[0],
                               rtol=1e-6)


@pytest.mark.parametrize(
    ("targets", "error", "message"),
    [
        ([0, 1], mg.ShapeError, r"^cross_entropy: targets have shape \(2,\) but logits have shape \(3, 4\); "
                                r"expected targets of shape \(3,\)"),
        ([[0], [1], [2]], mg.ShapeError, r"targets have shape \(3, 1\)"),
        ([0, 4, 9], mg.OpIndexError, r"^cross_entropy: target 4 at position \(1,\) is out of range for 4 "
                                     r"classes \(valid: 0\.\.3\); 2 out of range in all"),
        ([0, -1, 2], mg.OpIndexError, r"target -1 at position \(1,\) is out of range"),
        ([0, 1.5, 2], mg.OpTypeError, r"^cross_entropy: targets must be integer indices, got 1\.5 at "
                                      r"position \(1,\)"),
        ([True, False, True], mg.OpTypeError, r"targets must be integer indices, got dtype bool"),
    ],
)
def test_cross_entropy_rejects_bad_targets(targets, error, message):
    with pytest.raises(error, match=message):
        F.cross_entropy(mg.tensor(np.zeros((3, 4))), targets)


def test_cross_entropy_errors_name_the_scope_and_check_the_reduction():
    with mg.scope("decoder"), pytest.raises(mg.OpIndexError, match=r"^cross_entropy in decoder: target 7"):
        F.cross_entropy(np.zeros((1, 3)), [7])
    message = r"^cross_entropy: reduction must be 'mean', 'sum' or 'none', got 'avg'"
    with pytest.raises(ValueError, match=message):
        F.cross_entropy(np.zeros((1, 3)), [0], reduction="avg")
    with pytest.raises(mg.ShapeError, match=r"^cross_entropy: needs at least one axis"):
        F.cross_entropy(1.0, 0)


# -- mse_loss ---
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_value_and_gradient(reduction):
    p, y = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    expected = {"mean": np.mean((p - y) ** 2), "sum": np.sum((p - y) ** 2), "none": (p - y) ** 2}
    out = F.mse_loss(mg.tensor(p), y, reduction=reduction)
    np.testing.assert_allclose(out.data, expected[reduction], rtol=1e-14)
    if reduction == "mean":
        np.testing.assert_allclose(autograd(lambda t: F.mse_loss(t, y), p), 2 * (p - y) / p.size, rtol=1e-14)
    w = RNG.normal(size=(4, 3))

    def loss(t):
        out = F.mse_loss(t, y, reduction=reduction)
        return (out * w).sum() if reduction == "none" else out

    numeric = numerical_grad_of(lambda: loss(p).item(), p)
    np.testing.assert_allclose(autograd(loss, p), numeric, rtol=1e-6, atol=1e-9)


def test_mse_loss_keeps_float32_and_rejects_mismatched_shapes():
    p = mg.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    assert F.mse_loss(p, np.zeros((2, 3))).dtype == np.float32  # an array target takes pred's dtype
    message = r"^mse_loss: input has shape \(2, 3\) but target has shape \(3,\)"
    with pytest.raises(mg.ShapeError, match=message):
        F.mse_loss(p, np.zeros(3))


# -- binary_cross_entropy_with_logits ---
def test_binary_cross_entropy_with_logits_value_and_gradient():
    x = np.concatenate([RNG.normal(scale=3.0, size=7), [0.0]])  # x = 0 exactly: gradient 0.5 - t there
    t = np.array([0, 1, 0.3, 1, 0, 1, 0.5, 1.0])
    s = 1 / (1 + np.exp(-x))
    hand = -(t * np.log(s) + (1 - t) * np.log(1 - s))
    out = F.binary_cross_entropy_with_logits(mg.tensor(x), t, reduction="none")
    np.testing.assert_allclose(out.data, hand, rtol=1e-13)
    got = autograd(lambda v: F.binary_cross_entropy_with_logits(v, t), x)
    np.testing.assert_allclose(got, (s - t) / len(x), rtol=1e-12, atol=1e-16)
    numeric = numerical_grad_of(lambda: F.binary_cross_entropy_with_logits(x, t).item(), x)
    np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_with_logits_at_extreme_logits(dtype):
    x = mg.tensor(np.array([1e4, -1e4, 1e4, -1e4], dtype), requires_grad=True)
    t = np.array([0, 1, 1, 0], dtype)
    out = F.binary_cross_entropy_with_logits(x, t, reduction="sum")
    out.backward()
    assert out.dtype == dtype and x.grad.dtype == dtype
    assert out.item() == 2e4  # 1e4 + 1e4 + 0 + 0 exactly
    np.testing.assert_array_equal(x.grad.data, [1, -1, 0, 0])


def test_binary_cross_entropy_with_logits_errors():
    with pytest.raises(ValueError, match=r"^binary_cross_entropy_with_logits: targets must lie in \[0, 1\], "
                                         r"got values from -1\.0 to 1\.0"):
        F.binary_cross_entropy_with_logits(np.zeros(2), np.array([-1.0, 1.0]))
    with pytest.raises(mg.ShapeError, match=r"^binary_cross_entropy_with_logits: input has shape \(2,\)"):
        F.binary_cross_entropy_with_logits(np.zeros(2), np.zeros((2, 1)))
