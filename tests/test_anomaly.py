"""`mg.detect_anomaly()`: the first op whose forward output or backward gradient holds a NaN or an inf raises
`AnomalyError` naming the op, its scope and a summary of its inputs; off by default.

Messages are asserted by their full text. The first tests of this mode (log in a scope, pow's gradient at
0, NaN flowing silently when off) are in tests/test_engine.py.
"""

import re
import threading

import numpy as np
import pytest

import lstm
import minigrad as mg


def raises(text: str):
    return pytest.raises(mg.AnomalyError, match="^" + re.escape(text) + "$")


def sequence(T: int = 30, B: int = 1, I: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.1, 0.9, size=(B, T, I))


# -- forward ---
def test_a_nan_in_the_input_at_step_17_is_reported_in_that_step():
    layer = lstm.LSTM(2, 3, rng=0)
    x = sequence()
    x[0, 17, 1] = np.nan
    W_i = layer.weight_ih_l0.data[:3].T  # the input gate's block, (I, H)
    expected = (
        f"matmul in lstm/l0/t17/input_gate: forward output contains NaN; inputs: 'x_17' float64 (1, 2) "
        f"min {x[0, 17, 0]:.4g} max {x[0, 17, 0]:.4g} and 1 NaN; 'W_i' float64 (2, 3) min {W_i.min():.4g} "
        f"max {W_i.max():.4g}; input 0 ('x_17') already held NaN or inf"
    )
    with mg.detect_anomaly(), raises(expected):
        layer(x)
    # Without the mode the NaN flows to the output silently.
    assert np.isnan(layer(x).data).all()


def test_an_overflow_at_step_17_is_reported_where_it_happens():
    # Finite but huge inputs: the input gate's product overflows; sigmoid would then hide it (sigmoid(inf)
    # is 1), which is exactly why the first op that made an inf is the one to report.
    layer = lstm.LSTM(2, 3, rng=0, return_sequences=True)
    layer.weight_ih_l0.data = np.full((12, 2), 0.75)
    x = sequence()
    x[0, 17] = 1.5e308  # x @ W_i = 2 * 0.75 * 1.5e308 > 1.8e308, the largest float64
    with mg.detect_anomaly(), np.errstate(over="ignore"), raises(
        "matmul in lstm/l0/t17/input_gate: forward output contains inf; inputs: 'x_17' float64 (1, 2) "
        "min 1.5e+308 max 1.5e+308; 'W_i' float64 (2, 3) min 0.75 max 0.75; every input is finite"
    ):
        layer(x)
    with np.errstate(over="ignore", invalid="ignore"):
        out = layer(x).data
    assert np.isfinite(out[:, 17]).all()  # the gates saturate: nothing visible in the output


def test_the_log_of_a_negative_number():
    x = mg.tensor([4.0, -2.0, 1.0], requires_grad=True, name="x")
    expected = "log in loss: forward output contains NaN; inputs: 'x' float64 (3,) min -2 max 4; every " \
               "input is finite"
    with mg.detect_anomaly(), mg.scope("loss"), raises(expected), np.errstate(invalid="ignore"):
        mg.log(x)


def test_the_log_of_zero_is_an_inf():
    with mg.detect_anomaly(), raises(
        "log: forward output contains inf; inputs: float64 (2,) min 0 max 1; every input is finite"
    ), np.errstate(divide="ignore"):
        mg.log(mg.tensor([0.0, 1.0]))


def test_ops_that_only_move_values_pass_a_nan_on_to_the_op_that_computes():
    x = mg.tensor([[1.0, np.nan], [np.inf, 2.0]], requires_grad=True, name="x")
    with mg.detect_anomaly():
        # [inf] and [1, nan] joined, then cut: [inf, 1]. No error: nothing was computed yet.
        moved = mg.concat([x.T.reshape(4)[1:2], x[0]]).split([2, 1])[0]
        np.testing.assert_array_equal(moved.data, [np.inf, 1.0])
        with raises("mul: forward output contains inf; inputs: float64 (2,) min 1 max 1 and 1 inf; "
                    "float64 () min 2 max 2; input 0 (a tensor of shape (2,)) already held NaN or inf"):
            moved * 2.0


# -- backward ---
class Sqrt(mg.Function):
    """y = sqrt(x);  dx = g / (2 y): infinite at x = 0, where the forward is finite."""

    op = "sqrt"

    @staticmethod
    def forward(ctx, x):
        y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g / (2 * y)


def test_an_infinite_gradient_in_a_user_function_at_0():
    x = mg.tensor([0.0, 4.0], requires_grad=True, name="x")
    with mg.detect_anomaly():
        with mg.scope("norm"):
            y = Sqrt.apply(x).sum()  # forward finite: no error yet
        with raises("sqrt in norm: the gradient it returned for input 0 contains inf; inputs: 'x' float64 "
                    "(2,) min 0 max 4; every input is finite"), np.errstate(divide="ignore"):
            y.backward()
    assert x.grad is None  # nothing was accumulated


def test_the_same_gradient_without_the_mode_is_inf_silently():
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        Sqrt.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [np.inf, 0.25])  # d sqrt(x)/dx = 1 / (2 sqrt(x))


def test_a_nan_in_the_gradient_given_to_backward():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    with mg.detect_anomaly(), raises("mul: the gradient arriving at its output contains NaN; inputs: float64 "
                                     "(2,) min 1 max 2; float64 () min 3 max 3; every input is finite"):
        y.backward(np.array([1.0, np.nan]))


def test_gradients_that_overflow_when_added_up():
    # Each use of h sends back 1e308; their sum is inf, which arrives at the node that made h.
    x = mg.tensor([1e-300], requires_grad=True)
    with mg.scope("shared"):
        h = x * 1.0
    y = (h * 1e308).sum() + (h * 1e308).sum()
    assert np.isfinite(y.item())
    expected = "mul in shared: the gradient arriving at its output contains inf; inputs: float64 (1,) " \
               "min 1e-300 max 1e-300; float64 () min 1 max 1; every input is finite"
    with mg.detect_anomaly(), raises(expected), np.errstate(over="ignore"):
        y.backward()


# -- the mode itself ---
def test_a_finite_lstm_training_step_runs_unchanged_under_the_mode():
    x = sequence(T=5, B=2)
    grads = []
    for anomaly in (False, True):
        layer = lstm.LSTM(2, 3, rng=0)
        if anomaly:
            with mg.detect_anomaly():
                (layer(x) ** 2).sum().backward()
        else:
            (layer(x) ** 2).sum().backward()
        grads.append([p.grad.data for p in layer.parameters()])
    # Under the mode the layer computes x_t W + b step by step (so a NaN is reported in its step) instead of
    # in one product over all steps: the same sums, added in another order.
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-16)


def test_second_derivatives_are_checked_too():
    # d/dx x^1.5 = 1.5 x^0.5 is finite at 0 and recorded (in the scope "backward"); its derivative
    # 0.75 x^-0.5 is not.
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    with mg.detect_anomaly():
        (g,) = mg.grad((x**1.5).sum(), x, create_graph=True)
        np.testing.assert_allclose(g.data, [0.0, 3.0])
        with raises("pow in backward: the gradient it returned for input 0 contains inf; inputs: float64 "
                    "(2,) min 0 max 4; 0.5; every input is finite"), np.errstate(divide="ignore"):
            mg.grad(g.sum(), x)


def test_as_a_decorator_and_restored_after_an_error():
    @mg.detect_anomaly()
    def step(v):
        return mg.log(mg.tensor(v)).sum()

    with pytest.raises(mg.AnomalyError), np.errstate(invalid="ignore"):
        step([-1.0])
    with np.errstate(invalid="ignore"):
        assert np.isnan(mg.log(mg.tensor(-1.0)).item())  # off again, after the error
    assert step([1.0]).item() == 0.0
    assert step.__name__ == "step"


def test_nested_blocks_restore_the_outer_setting():
    with mg.detect_anomaly():
        with mg.detect_anomaly():
            pass
        with pytest.raises(mg.AnomalyError), np.errstate(divide="ignore"):
            mg.log(mg.tensor(0.0))


def test_the_mode_is_per_thread():
    seen = []

    def other():
        with np.errstate(divide="ignore"):
            seen.append(mg.log(mg.tensor(0.0)).item())  # not under the mode: no error

    with mg.detect_anomaly():
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert seen == [-np.inf]


def test_anomaly_errors_are_minigrad_errors():
    assert issubclass(mg.AnomalyError, mg.MinigradError)
    assert issubclass(mg.AnomalyError, FloatingPointError)
