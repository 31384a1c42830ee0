"""Hardening of the engine: promotion without truncation, powers with array exponents, gradients
accumulated atomically across threads, derived arrays refused under create_graph, state dicts validated
before anything changes, context managers that can be re-entered, empty reductions refused, writes that
bypass the version counter caught under detect_anomaly, and one minigrad error (naming the op) for every
wrong argument. Messages are asserted by their text.
"""

import re
import threading

import numpy as np
import pytest
from strategies import numerical_grad

import minigrad as mg
from minigrad import functional as F
from minigrad.errors import GraphError


def raises(cls, text: str):
    """pytest.raises for a message that starts with ``text`` (literally)."""
    return pytest.raises(cls, match="^" + re.escape(text))


# -- item 11: NumPy's promotion, never a silent truncation ---
def test_an_integer_tensor_plus_a_float_is_promoted_as_numpy_does():
    t = mg.tensor([1, 2], dtype=np.int64)
    cases = ((t + 0.5, [1.5, 2.5]), (0.5 + t, [1.5, 2.5]), (t * 1.5, [1.5, 3.0]), (t - 0.25, [0.75, 1.75]))
    for y, want in cases:
        assert y.dtype == np.float64
        np.testing.assert_array_equal(y.data, want)


def test_integer_operands_keep_integer_results_and_floats_stay_float32():
    t = mg.tensor([1, 2], dtype=np.int32)
    assert (t + 1).dtype == np.int32  # NumPy: a Python int does not widen the array
    x = mg.tensor(np.ones(2, np.float32))
    assert (x + 0.5).dtype == np.float32 and (x * np.int64(3)).dtype == np.float32


def test_an_integer_array_operand_is_never_cast_down_to_a_narrower_integer_tensor():
    t = mg.tensor([1, 2], dtype=np.int8)
    y = t + np.array([1000, 2000])
    np.testing.assert_array_equal(y.data, [1001, 2002])  # was [-23, -46]: cast to int8 first


def test_a_number_that_does_not_fit_an_integer_tensor_is_one_clear_error():
    with raises(mg.OpError, "mul: the number 1000 does not fit the tensor's dtype int8; convert the tensor"):
        mg.tensor([1, 2], dtype=np.int8) * 1000


# -- item 12: x ** p for array and Tensor exponents, computed directly ---
def test_a_negative_base_with_an_array_exponent_is_numpys_power():
    x = mg.tensor([-2.0, -3.0, 0.0])
    np.testing.assert_array_equal((x ** np.array(2.0)).data, [4.0, 9.0, 0.0])
    np.testing.assert_array_equal((x ** np.array([2.0, 3.0, 2.0])).data, [4.0, -27.0, 0.0])
    np.testing.assert_array_equal((x ** mg.tensor([2.0, 3.0, 2.0])).data, [4.0, -27.0, 0.0])


def test_gradients_of_a_tensor_exponent_against_finite_differences_and_the_formulas():
    xa = np.array([[0.5, 1.5, 2.0]])
    pa = np.array([[1.5], [-0.5]])
    x = mg.tensor(xa, requires_grad=True)
    p = mg.tensor(pa, requires_grad=True)
    (x**p).sum().backward()
    num_x, num_p = numerical_grad(lambda u, v: (u**v).sum(), [xa, pa])
    np.testing.assert_allclose(x.grad.data, num_x, rtol=1e-6)
    np.testing.assert_allclose(p.grad.data, num_p, rtol=1e-6)
    # hand-derived: d/dx = p x^(p-1), d/dp = x^p log x, summed over the broadcast axes
    np.testing.assert_allclose(x.grad.data, (pa * xa ** (pa - 1)).sum(0, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(p.grad.data, (xa**pa * np.log(xa)).sum(1, keepdims=True), rtol=1e-12)


def test_gradients_of_a_power_at_zero_and_below_follow_the_conventions():
    # x = 0: d/dx of x**2 is 0, of x**0 is 0 (not 0 * inf), d/dp is 0 for p >= 0 (PyTorch's convention);
    # x < 0 with an integer-valued p: d/dx is NumPy's p x^(p-1), d/dp is NaN (log of a negative number).
    x = mg.tensor([0.0, 0.0, -2.0], requires_grad=True)
    p = mg.tensor([2.0, 0.0, 3.0], requires_grad=True)
    with np.errstate(invalid="ignore"):
        (x**p).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 12.0])
    assert p.grad.data[0] == 0.0 and p.grad.data[1] == 0.0 and np.isnan(p.grad.data[2])


def test_second_derivatives_of_a_tensor_power():
    x = mg.tensor(1.5, requires_grad=True)
    p = mg.tensor(2.5, requires_grad=True)
    gx, gp = mg.grad(x**p, [x, p], create_graph=True)
    (dxx,) = mg.grad(gx, x)
    (dpp,) = mg.grad(gp, p)
    np.testing.assert_allclose(dxx.data, 2.5 * 1.5 * 1.5**0.5, rtol=1e-12)  # p (p-1) x^(p-2)
    np.testing.assert_allclose(dpp.data, 1.5**2.5 * np.log(1.5) ** 2, rtol=1e-12)  # x^p log(x)^2


@pytest.mark.oracle
def test_power_gradients_match_pytorch_including_zero_and_negative_bases():
    torch = pytest.importorskip("torch")
    xa = np.array([0.0, 0.0, 0.0, -2.0, -2.0, 1.5, 3.0])
    pa = np.array([2.0, 0.0, 0.5, 3.0, 2.0, -1.5, 0.0])
    x, p = mg.tensor(xa, requires_grad=True), mg.tensor(pa, requires_grad=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        y = x**p
        y.sum().backward()
    tx, tp = torch.tensor(xa, requires_grad=True), torch.tensor(pa, requires_grad=True)
    ty = tx**tp
    ty.sum().backward()
    np.testing.assert_array_equal(y.data, ty.detach().numpy())
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-15, equal_nan=True)
    np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-15, equal_nan=True)


# -- item 13: accumulation into .grad is atomic ---
def test_backward_in_four_threads_on_a_shared_parameter_loses_no_update():
    # 20,000 elements: NumPy releases the GIL while adding arrays this large, so without the lock the
    # threads interleave between reading .grad and writing it back (every trial lost updates before)
    p = mg.tensor(np.zeros(20_000), requires_grad=True)

    def work():
        for _ in range(300):
            (p * 1.0).sum().backward()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(p.grad.data, np.full(20_000, 1200.0))


# -- item 14: a derived array saved by a user Function, under create_graph ---
class SigmoidSavingOneMinusY(mg.Function):  # also the example of row E46
    @staticmethod
    def forward(ctx, x):
        y = 1 / (1 + np.exp(-x))
        ctx.save_for_backward(y, 1 - y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, one_minus_y = ctx.saved_tensors
        return g * y * one_minus_y


def test_a_saved_derived_array_is_refused_under_create_graph_with_what_to_save_instead():
    for shape in ((), (2,)):
        x = mg.tensor(np.full(shape, 0.3), requires_grad=True)
        text = ("SigmoidSavingOneMinusY: create_graph=True needs the values backward computes with as "
                f"Tensors, but forward saved an array of shape {shape} that is neither an input nor the")
        with raises(GraphError, text):
            mg.grad(SigmoidSavingOneMinusY.apply(x).sum(), x, create_graph=True)
    # first derivatives, without create_graph, are unaffected
    x = mg.tensor(0.3, requires_grad=True)
    SigmoidSavingOneMinusY.apply(x).backward()
    s = 1 / (1 + np.exp(-0.3))
    np.testing.assert_allclose(x.grad.data, s * (1 - s), rtol=1e-15)


def test_saving_the_output_instead_gives_the_right_second_derivative():
    # minigrad's own Sigmoid is a Function that saves only its output y and computes 1 - y in backward
    x = mg.tensor(0.3, requires_grad=True)
    (d,) = mg.grad(mg.ops.Sigmoid.apply(x), x, create_graph=True)
    (dd,) = mg.grad(d, x)
    s = 1 / (1 + np.exp(-0.3))
    np.testing.assert_allclose(dd.data, s * (1 - s) * (1 - 2 * s), rtol=1e-12)  # -0.0364, not 0.104
    assert abs(dd.item() + 0.0364) < 1e-4


def test_relu_and_max_masks_are_still_allowed_under_create_graph():
    x = mg.tensor([[-1.0, 2.0], [3.0, 0.5]], requires_grad=True)
    (g,) = mg.grad((x.relu() ** 2).sum() + (x.max(axis=1) ** 2).sum(), x, create_graph=True)
    g.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0.0, 4.0], [4.0, 2.0]])  # 2 per relu'd square, 2 per max


# -- item 15: load_state_dict validates everything, then assigns ---
def test_load_state_dict_refuses_bad_values_and_changes_nothing():
    lin = mg.nn.Linear(2, 2, rng=0)
    before = {k: v.copy() for k, v in lin.state_dict().items()}
    bad_states = [
        ({"weight": 7, "bias": ["a", "b"]},
         "wrong shapes: weight: expected (2, 2), got () | unusable values: bias: dtype <U1 is not real"),
        ({"weight": np.ones((2, 2)) + 1j, "bias": np.zeros(2)}, "weight: dtype complex128 is not real"),
        ({"weight": np.ones((2, 2), bool), "bias": np.zeros(2)}, "weight: dtype bool is not real numbers"),
        ({"weight": np.ones((2, 2)), "bias": np.zeros(2, "M8[s]")}, "bias: dtype datetime64[s] is not real"),
        ({"weight": np.zeros((2, 2), [("a", "f8")]), "bias": np.zeros(2)}, "weight: dtype [('a', '<f8')] is"),
        ({"weight": np.full((2, 2), np.nan), "bias": np.zeros(2)}, "weight: 4 of 4 values are NaN or inf"),
        ({"weight": np.ones((2, 2)), "bias": [1.0, np.inf]}, "bias: 1 of 2 values are NaN or inf (in"),
    ]  # fmt: skip
    for state, text in bad_states:
        with pytest.raises(mg.OpError, match=re.escape(text)):
            lin.load_state_dict(state)
        for k, v in lin.state_dict().items():
            np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_refuses_values_that_overflow_the_parameters_dtype():
    lin = mg.nn.Linear(1, 1, rng=0, dtype=np.float32)
    with raises(mg.OpError, "load_state_dict for Linear: unusable values: weight: 1 of 1 values are NaN or "
                            "inf (in float32)"):
        lin.load_state_dict({"weight": np.array([[1e300]]), "bias": np.zeros(1)})


def test_load_state_dict_still_loads_integers_and_floats():
    lin = mg.nn.Linear(2, 1, rng=0)
    lin.load_state_dict({"weight": np.array([[1, 2]]), "bias": [0.5]})
    np.testing.assert_array_equal(lin.weight.data, [[1.0, 2.0]])
    assert lin.weight.dtype == np.float64 and lin.bias.data[0] == 0.5


# -- item 16: re-entered context managers, empty reductions ---
def test_one_no_grad_instance_entered_twice_restores_grad_mode():
    ng = mg.no_grad()
    with ng:
        with ng:
            assert not mg.is_grad_enabled()
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()


def test_one_scope_instance_entered_twice_restores_the_scope():
    s = mg.scope("a")
    with s:
        with s:
            assert mg.state.current_scope() == "a/a"
        assert mg.state.current_scope() == "a"
    assert mg.state.current_scope() == ""
    with raises(GraphError, "scope: exited more often than it was entered"):
        s.__exit__(None, None, None)


def test_one_detect_anomaly_instance_entered_twice_restores_the_mode():
    da = mg.detect_anomaly()
    with da:
        with da:
            pass
        assert mg.state.STATE.anomaly
    assert not mg.state.STATE.anomaly


def test_the_mean_of_no_elements_is_refused():
    with raises(mg.OpError, "mean: the mean of no elements is undefined (shape (0,), axis None); check that "
                            "the tensor is not empty"):
        mg.tensor(np.zeros(0)).mean()
    with mg.scope("loss"), raises(mg.OpError, "mean in loss: the mean of no elements is undefined (shape "
                                              "(2, 0), axis 1)"):
        mg.tensor(np.zeros((2, 0))).mean(axis=1)
    assert mg.tensor(np.zeros((0, 2))).mean(axis=1).shape == (0,)  # nothing reduced over an empty axis


def test_cross_entropy_of_an_empty_batch_is_refused_but_its_sum_is_zero():
    logits = mg.tensor(np.zeros((0, 3)), requires_grad=True)
    with raises(mg.OpError, "cross_entropy: the mean loss of an empty batch (targets of shape (0,)) is "
                            "undefined; check the batch, or use reduction='sum'"):
        F.cross_entropy(logits, np.zeros(0, int))
    assert F.cross_entropy(logits, np.zeros(0, int), reduction="sum").item() == 0.0


# -- item 17: writes that bypass the version counter, under detect_anomaly ---
def _write_index(x):
    x.data[0] = 5.0


def _write_through_asarray(x):
    np.asarray(x)[1] = 7.0


def _write_with_out(x):
    np.multiply(x.data, 2, out=x.data)


@pytest.mark.parametrize("write", [_write_index, _write_through_asarray, _write_with_out])
def test_a_write_into_a_saved_array_is_caught_under_detect_anomaly(write):
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    with mg.detect_anomaly(), mg.scope("head"):
        y = mg.log(x).sum()
    write(x)
    with raises(GraphError, "log in head: saved value 0 (input 0 'x') was changed after it was saved for "
                            "backward by a write the version counter does not see"):
        y.backward()
    assert x.grad is None


def test_a_write_into_a_saved_output_is_caught_and_named():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with mg.detect_anomaly():
        y = mg.exp(x)  # exp saves its output
        loss = y.sum()
    y.data[0] = 0.0
    with raises(GraphError, "exp: saved value 0 (the output) was changed"):
        loss.backward()


def test_without_detect_anomaly_such_a_write_goes_unseen_as_documented():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = mg.log(x).sum()
    x.data[0] = 4.0
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [0.25, 0.5])  # 1/x of the changed x: the documented gap


# -- items 20 and 21: every wrong argument is one minigrad error naming the op ---
@pytest.mark.parametrize(("make", "cls", "text"), [
    (lambda x: x + "a", mg.OpTypeError, "add: cannot combine a Tensor with str data of dtype <U1"),
    (lambda x: x * 1j, mg.OpTypeError, "mul: cannot combine a Tensor with complex data of dtype complex128"),
    (lambda x: x * np.complex128(1j), mg.OpTypeError, "mul: cannot combine a Tensor with complex128 data"),
    (lambda x: None + x, mg.OpTypeError, "add: cannot combine a Tensor with NoneType data of dtype object"),
    (lambda x: x @ "ab", mg.OpTypeError, "matmul: cannot combine a Tensor with str data"),
    (lambda x: x.swapaxes(0, 3), mg.OpIndexError, "swapaxes: axis 3 is out of bounds for array"),
    (lambda x: mg.scope(""), mg.OpError, "scope: name must be a non-empty string without '/', got ''"),
    (lambda x: mg.set_default_dtype(np.int32), mg.OpTypeError, "set_default_dtype: expected a floating"),
    (lambda x: mg.nn.Linear(0, 2), mg.OpError, "Linear: in_features must be a positive integer, got 0"),
])  # fmt: skip
def test_wrong_arguments_raise_one_minigrad_error(make, cls, text):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with raises(cls, text):
        make(x)


def test_a_grad_argument_of_strings_is_refused_by_backward():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with raises(mg.OpTypeError, "backward: grad is ndarray of dtype <U1; a gradient is an array of real "
                                "numbers, a Tensor, a number or None"):
        (x * 2).backward(np.array(["a", "b"]))
    with raises(mg.OpTypeError, "backward: grad is complex of dtype complex128"):
        (x * 2).sum().backward(1j)


class ReturnsText(mg.Function):  # also the example of row E44 of docs/errors.md
    op = "text"

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        return "abc"


class ReturnsGenerator(mg.Function):
    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        return (v for v in [g])


class Raises(mg.Function):  # also the example of row E45
    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        raise ValueError("not written yet")


@pytest.mark.parametrize("create_graph", [False, True])
def test_a_backward_returning_text_or_a_generator_is_named(create_graph):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with mg.scope("head"), raises(mg.OpTypeError, "text in head.backward returned str of dtype <U3 for input "
                                                  "0; a gradient is an array of real numbers"):
        ReturnsText.apply(x).sum().backward(create_graph=create_graph)
    with raises(mg.OpTypeError, "ReturnsGenerator.backward returned generator for input 0; a gradient is"):
        ReturnsGenerator.apply(x).sum().backward(create_graph=create_graph)


def test_retrying_after_a_backward_raised_says_why_the_values_are_gone():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    loss = (Raises.apply(x) * x).sum()  # mul runs (and frees what it saved) before Raises fails
    with raises(mg.ShapeError, "Raises.backward: not written yet"):
        loss.backward()
    with raises(GraphError, "mul: its saved values were freed by an earlier backward() that stopped at an "
                            "error (Raises.backward: not written yet (inputs: float64 (2,))); recompute the "
                            "forward, then call backward() again"):
        loss.backward()
    # a plain second backward still says what it always said
    y = (x * x).sum()
    y.backward()
    with raises(GraphError, "mul: trying to backward through the graph a second time"):
        y.backward()


def test_one_no_grad_instance_shared_by_threads_restores_each_threads_mode():
    ng = mg.no_grad()
    inside, entered, results = threading.Event(), threading.Event(), []

    def first():
        with ng:
            entered.set()
            inside.wait(5)
        results.append(mg.is_grad_enabled())

    t = threading.Thread(target=first)
    t.start()
    entered.wait(5)
    with mg.no_grad():
        with ng:  # entered here, with grad mode off, while the other thread is still inside
            inside.set()
            t.join()
        results.append(mg.is_grad_enabled())
    assert results == [True, False]  # each thread got its own previous mode back
