"""The errors a student meets (docs/errors.md): the behaviours no other test file covers (in-place changes
seen through views, boolean data, the classes of graph errors), and, at the end, a check that every row
of the table in docs/errors.md is exactly what the code says for the row's example.

Rows already covered elsewhere are listed in docs/errors.md with the tests that cover them (mostly
tests/test_errors_engine.py, tests/test_engine.py, tests/test_lstm_cell.py, tests/test_lstm_layer.py,
tests/test_nn.py). Messages are asserted by their text, since the text is what a student reads.
"""

import gc
import re
import weakref

import errors_doc
import numpy as np
import pytest
from test_engine_hardening import Raises, ReturnsText, SigmoidSavingOneMinusY

import lstm
import minigrad as mg
from minigrad.viz import browser


def raises(cls, text: str):
    """pytest.raises for a message that is exactly ``text``."""
    return pytest.raises(cls, match="^" + re.escape(text) + "$")


AFTER = (
    "after it was saved for backward, so the gradient would be wrong; recompute the forward after changing "
    "it, or change a copy"
)


# -- in-place changes seen through views ---
# reshape, transpose, basic indexing, split, broadcast_to and detach give Tensors whose arrays are views
# of their input's memory: a change made through one of them must be seen by a node that saved the other.
def test_changing_the_base_of_a_saved_reshape_is_caught():
    # The case that used to give [60, 60] silently: mul saved the reshape's view of w's memory.
    w = mg.tensor(np.full(2, 3.0), requires_grad=True, name="w")
    z = (w.reshape(1, 2) * w.reshape(1, 2)).sum()
    w.data *= 10
    with raises(RuntimeError, f"mul: input 0 (of shape (1, 2)) was modified in place through 'w' that "
                              f"shares its memory, {AFTER}"):
        z.backward()
    assert w.grad is None


@pytest.mark.parametrize(("view", "shape"), [
    (lambda w: w.T, (3, 2)),
    (lambda w: w.transpose(1, 0), (3, 2)),
    (lambda w: w[1:], (1, 3)),
    (lambda w: w[0], (3,)),
    (lambda w: w.split(3, axis=1)[2], (2, 1)),
    (lambda w: mg.broadcast_to(w[:1], (4, 3)), (4, 3)),
    (lambda w: w.reshape(6)[::2], (3,)),  # a view of a view
])  # fmt: skip
def test_changing_the_base_of_any_saved_view_is_caught(view, shape):
    w = mg.tensor(np.arange(6.0).reshape(2, 3) + 1, requires_grad=True, name="w")
    v = view(w)
    with mg.scope("head"):
        z = mg.log(v).sum()  # log saves its input, the view
    w.data += 1
    with raises(RuntimeError, f"log in head: input 0 (of shape {shape}) was modified in place through "
                              f"'w' that shares its memory, {AFTER}"):
        z.backward()


def test_linear_saves_a_transposed_weight_and_still_sees_an_optimizer_step():
    lin = mg.nn.Linear(2, 3, rng=0)
    x = mg.tensor(np.ones((4, 2)), requires_grad=True)
    loss = lin(x).sum()
    loss.backward(retain_graph=True)
    mg.optim.SGD(lin.parameters(), lr=0.1).step()  # p.data -= lr * grad: an in-place change
    with raises(RuntimeError, f"matmul in linear: input 1 (of shape (2, 3)) was modified in place through "
                              f"'weight' that shares its memory, {AFTER}"):
        loss.backward()


def test_changing_a_view_is_seen_by_a_node_that_saved_its_base():
    w = mg.tensor(np.full(2, 3.0), requires_grad=True)
    r = w.reshape(1, 2)
    z = (w * w).sum()
    r.data *= 10
    with raises(RuntimeError, "mul: input 0 (of shape (2,)) was modified in place through another tensor (a "
                              f"view of it, or one it is a view of) that shares its memory, {AFTER}"):
        z.backward()


def test_a_view_of_a_constant_is_checked_too():
    # w does not require grad, so its reshape is not recorded; the shared version still is.
    w = mg.tensor([3.0, 4.0])
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    z = (x * w.reshape(1, 2)).sum()
    w.data *= 10
    with raises(RuntimeError, "mul: input 1 (of shape (1, 2)) was modified in place through another tensor "
                              f"(a view of it, or one it is a view of) that shares its memory, {AFTER}"):
        z.backward()


def test_changing_a_detached_copy_is_seen():
    w = mg.tensor([3.0, 4.0], requires_grad=True, name="w")
    z = (w * w).sum()
    w.detach().data *= 10
    with pytest.raises(RuntimeError, match=r"^mul: input 0 \('w'\) was modified in place through another "):
        z.backward()


def test_a_user_function_that_saves_a_view_of_its_input_is_checked():
    class RowSums(mg.Function):
        """y = sum(x @ x^T);  dx = 2 g ones @ x. Saves x.T, a view of the input's array, not the array."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x.T)
            return (x @ x.T).sum()

        @staticmethod
        def backward(ctx, g):
            (xt,) = ctx.saved_tensors
            return g * 2 * (np.ones((xt.shape[1], xt.shape[1])) @ xt.T)

    x = mg.tensor(np.ones((2, 3)), requires_grad=True, name="x")
    y = RowSums.apply(x)
    x.data += 1
    with raises(RuntimeError, f"RowSums: input 0 ('x') was modified in place {AFTER}"):
        y.backward()


def test_without_a_change_views_give_the_right_gradient():
    # d/dw sum((w reshaped) * (w reshaped)) = 2 w; with a replaced (not changed) base, the gradient is
    # that of the recorded forward.
    w = mg.tensor(np.full(2, 3.0), requires_grad=True)
    z = (w.reshape(1, 2) * w.reshape(1, 2)).sum()
    z.backward()
    np.testing.assert_array_equal(w.grad.data, [6.0, 6.0])
    w.grad = None
    z = (w.reshape(1, 2) * w.reshape(1, 2)).sum()
    w.data = w.data * 10  # a new array: what mul saved is untouched
    z.backward()
    np.testing.assert_array_equal(w.grad.data, [6.0, 6.0])


def test_a_view_does_not_keep_its_base_graph_alive():
    # Views share a version cell, not a reference to their base: a detached state (truncated BPTT) must
    # not hold the graph that produced it.
    gc.disable()
    try:
        x = mg.tensor(np.ones((2, 2)), requires_grad=True)
        h = mg.tanh(x @ x)
        node = weakref.ref(h.grad_fn)
        state = h.detach()
        view = state.reshape(4)
        del h
        assert node() is None
        assert state.data.sum() == view.data.sum()
    finally:
        gc.enable()


# -- data that is not real numbers ---
# object, string and complex data: tests/test_errors_engine.py::test_data_that_is_not_real_numbers.
BOOL = (
    "Tensor: got boolean data; minigrad does not turn True/False into numbers silently: convert it with "
    ".astype(float) (or pass dtype=float) if 1.0/0.0 is what you mean"
)


@pytest.mark.parametrize("data", [np.array([True, False]), [[True], [False]], True, np.bool_(False)],
                         ids=["array", "list", "python-bool", "numpy-bool"])
def test_boolean_data_is_refused_with_the_fix_in_the_message(data):
    with raises(mg.OpTypeError, BOOL):
        mg.tensor(data)
    with raises(mg.OpTypeError, BOOL):
        mg.tensor(data, dtype=bool)  # a boolean Tensor would be no use: no op is defined on it


def test_the_fix_the_boolean_message_suggests_works():
    mask = np.array([True, False, True])
    for t in (mg.tensor(mask.astype(float)), mg.tensor(mask, dtype=float)):
        assert t.dtype == np.float64
        np.testing.assert_array_equal(t.data, [1.0, 0.0, 1.0])


def test_a_boolean_mask_may_still_multiply_a_tensor():
    # As an operand, a mask's meaning is clear (keep or zero): it takes the tensor's dtype.
    x = mg.tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
    y = x * np.array([True, False, True])
    assert y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 0.0, 1.0])


def test_dtype_errors_are_minigrad_errors_and_type_errors():
    for data in (np.array([object()]), "abc", [1j], [True]):
        with pytest.raises(mg.OpTypeError) as info:
            mg.tensor(data)
        assert isinstance(info.value, mg.MinigradError) and isinstance(info.value, TypeError)


def test_integer_tensors_asked_to_require_grad_say_what_to_do():
    with raises(mg.OpTypeError, "Tensor: only floating-point tensors can require gradients, got dtype int64; "
                                "leave out dtype= (integers become floating point) or pass a floating dtype"):
        mg.tensor([1, 2], dtype=np.int64, requires_grad=True)
    assert mg.tensor([1, 2], requires_grad=True).dtype == np.float64  # the first way out
    t = mg.tensor([1, 2], dtype=np.int32)
    with raises(mg.OpTypeError, "requires_grad_: only floating-point tensors can require gradients, got "
                                "dtype int32; make a floating copy first, e.g. mg.tensor(t.data, "
                                "dtype=float)"):
        t.requires_grad_()
    assert mg.tensor(t.data, dtype=float).requires_grad_().requires_grad  # the way out it names


# -- the graph cannot be differentiated as asked ---
def _twice():
    y = (mg.tensor([1.0], requires_grad=True) * 2).sum()
    y.backward()
    y.backward()


def _changed():
    x = mg.tensor([1.0], requires_grad=True)
    y = (x * x).sum()
    x.data += 1
    y.backward()


@pytest.mark.parametrize("situation", [
    _twice,
    _changed,
    lambda: (mg.tensor([1.0, 2.0], requires_grad=True) * 2).backward(),
    lambda: mg.tensor([1.0]).sum().backward(),
    lambda: mg.grad(mg.tensor([1.0], requires_grad=True).sum(), mg.tensor([2.0], requires_grad=True)),
    lambda: mg.grad(mg.tensor([1.0], requires_grad=True).sum(), mg.tensor([2.0])),
], ids=["backward-twice", "changed-in-place", "non-scalar", "no-grad", "grad-unused", "grad-input-no-grad"])
def test_graph_errors_are_minigrad_errors_and_runtime_errors(situation):
    # RuntimeError as in PyTorch, and a MinigradError so that one except clause catches every mistake.
    with pytest.raises(mg.errors.GraphError) as info:
        situation()
    assert isinstance(info.value, mg.MinigradError) and isinstance(info.value, RuntimeError)


# -- the table in docs/errors.md is what the code says ---
# Each row's example, by row number; the test runs it and compares the error's class and full message with
# the row's "Error" and "Message" cells.


def ones(*shape, requires_grad=False):
    return mg.tensor(np.ones(shape), requires_grad=requires_grad)



def _binary():
    with mg.scope("decoder"):
        ones(3, 4, requires_grad=True) + ones(2, 4)


def _matmul():
    with mg.scope("lstm"), mg.scope("forget_gate"):
        ones(3, 4, requires_grad=True) @ ones(5, 2)


def _backward_twice():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()


def _grad_unused():
    a = mg.tensor([1.0], requires_grad=True, name="a")
    b = mg.tensor([2.0], requires_grad=True, name="b")
    mg.grad((a * 3).sum(), [a, b])


def _in_place():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    y = (x * x).sum()
    x.data += 1
    y.backward()


def _in_place_view():
    w = mg.tensor(np.full(2, 3.0), requires_grad=True, name="w")
    z = (w.reshape(1, 2) * w.reshape(1, 2)).sum()
    w.data *= 10
    z.backward()


def _state_dict():
    layer = lstm.LSTM(2, 3)
    state = layer.state_dict()
    del state["bias_hh_l0"]
    state["bias_l0"] = np.zeros(12)
    state["weight_ih_l0"] = np.zeros((12, 3))
    layer.load_state_dict(state)


class TwoInOneOut(mg.Function):
    @staticmethod
    def forward(ctx, a, b):
        return a * b

    @staticmethod
    def backward(ctx, g):
        return g


class Double(mg.Function):
    op = "double"

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        return np.ones(3)


class Broken(mg.Function):
    op = "broken"

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        return g @ np.ones((5, 5))


def _function_count():
    a, b = mg.tensor([1.0], requires_grad=True), mg.tensor([2.0], requires_grad=True)
    TwoInOneOut.apply(a, b).sum().backward()


def _function_shape():
    with mg.scope("head"):
        y = Double.apply(mg.tensor([1.0, 2.0], requires_grad=True))
    y.sum().backward()


def _function_raises():
    with mg.scope("head"):
        y = Broken.apply(mg.tensor(np.ones(3), requires_grad=True))
    y.sum().backward()


SITUATIONS = {
    "E1": _binary,
    "E2": _matmul,
    "E3": lambda: lstm.LSTMCell(3, 4, rng=0)(np.zeros((2, 5))),
    "E4": lambda: lstm.LSTMCell(3, 4, rng=0)(np.zeros((2, 3)), (np.zeros((2, 5)), np.zeros((2, 4)))),
    "E5": lambda: lstm.LSTM(3, 4, rng=0)(np.zeros((2, 7, 5))),
    "E6": lambda: lstm.LSTM(3, 4, num_layers=2, rng=0)(np.zeros((2, 7, 3)), (np.zeros((1, 2, 4)),) * 2),
    "E7": lambda: mg.tensor(np.array([object()])),
    "E8": lambda: mg.tensor("abc"),
    "E9": lambda: mg.tensor([1 + 2j]),
    "E10": lambda: mg.tensor(np.array([1.0, -2.0]) > 0),
    "E11": lambda: mg.tensor([1, 2], dtype=np.int64, requires_grad=True),
    "E12": lambda: mg.tensor([1, 2], dtype=np.int32).requires_grad_(),
    "E13": _backward_twice,
    "E14": lambda: (mg.tensor([1.0, 2.0], requires_grad=True) * 2).backward(),
    "E15": lambda: mg.tensor([1.0, 2.0]).sum().backward(),
    "E16": lambda: (mg.tensor([1.0, 2.0], requires_grad=True) * 2).backward(np.ones(3)),
    "E17": _grad_unused,
    "E18": _in_place,
    "E19": _in_place_view,
    "E20": _state_dict,
    "E21": _function_count,
    "E22": _function_shape,
    "E23": _function_raises,
    "E24": lambda: lstm.LSTMCell(3, 4, variant="vanilla1997", cells_per_block=3),
    "E25": lambda: browser.render_svg("digraph { a -> b }"),
    "E60": lambda: mg.check_graph(3.0),
    "E61": lambda: mg.gradcheck(lambda e: e.sum(), mg.tensor(np.zeros((0, 3)), requires_grad=True)),
    "E62": lambda: mg.optim.SGD([mg.tensor([1.0], requires_grad=True)], lr=-0.1),
}


def _backward_text():
    with mg.scope("head"):
        y = ReturnsText.apply(mg.tensor([1.0, 2.0], requires_grad=True))
    y.sum().backward()


def _retry_after_failure():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    loss = (Raises.apply(x) * x).sum()
    with pytest.raises(mg.ShapeError):  # the first attempt: Raises.backward raises
        loss.backward()
    loss.backward()


def _derived_saved():
    x = mg.tensor([0.3], requires_grad=True)
    mg.grad(SigmoidSavingOneMinusY.apply(x).sum(), x, create_graph=True)


def _bad_state_values():
    lin = mg.nn.Linear(2, 2, rng=0)
    lin.load_state_dict({"weight": np.full((2, 2), np.nan), "bias": ["a", "b"]})


def _write_past_the_version():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    with mg.detect_anomaly(), mg.scope("loss"):
        y = mg.log(x).sum()
    x.data[0] = 5.0
    y.backward()


# Rows E40-E51: the engine's hardening (bad operands, gradients and saved values, empty means).
SITUATIONS |= {
    "E40": lambda: mg.tensor([1.0, 2.0]) + "a",
    "E41": lambda: mg.tensor([1, 2], dtype=np.int8) * 1000,
    "E42": lambda: mg.tensor(np.ones((2, 3))).swapaxes(0, 3),
    "E43": lambda: (mg.tensor([1.0, 2.0], requires_grad=True) * 2).backward(np.array(["a", "b"])),
    "E44": _backward_text,
    "E45": _retry_after_failure,
    "E46": _derived_saved,
    "E47": _bad_state_values,
    "E48": lambda: mg.tensor(np.zeros((2, 0))).mean(axis=1),
    "E49": lambda: mg.functional.cross_entropy(mg.tensor(np.zeros((0, 3))), np.zeros(0, int)),
    "E50": _write_past_the_version,
    "E51": lambda: mg.scope("a/b"),
    "E52": lambda: mg.scope("a").__exit__(None, None, None),
}

# Row E63: the stored runs that notebook 06 reads.
SITUATIONS["E63"] = lambda: lstm.paper1997.load_run("reber1997.json")
# Row E64: the weight-update schedule of a 1997 Reber trial.
SITUATIONS["E64"] = lambda: lstm.paper1997.reber_trial(0, update="word")
# Rows E65-E67: the row of the paper's Table 1 and the gradient of a 1997 Reber trial.
SITUATIONS["E65"] = lambda: lstm.paper1997.reber_trial(0, network="2x3")
SITUATIONS["E66"] = lambda: lstm.paper1997.reber_trial(0, lr=0)
SITUATIONS["E67"] = lambda: lstm.paper1997.reber_trial(0, full_gradient=True)



def table_rows() -> dict:
    return errors_doc.table_rows("E")


def test_every_row_of_the_table_has_an_example_and_every_example_a_row():
    assert sorted(table_rows()) == sorted(SITUATIONS)


@pytest.mark.parametrize("row", sorted(SITUATIONS, key=lambda r: int(r[1:])))
def test_the_table_is_what_the_code_says(row):
    cls, message = table_rows()[row]
    with pytest.raises(Exception) as info:  # noqa: B017 - the class is checked by name below
        SITUATIONS[row]()
    assert type(info.value).__name__ == cls
    assert str(info.value) == message
    if cls != "ValueError":  # the layers' own argument checks are plain ValueErrors
        assert isinstance(info.value, mg.MinigradError)
