"""The gradient checkers: gradcheck passes correct compositions and names the input of a wrong backward;
check_graph walks a recorded graph op by op and names the first op whose backward is wrong.

A checker is itself checked against known answers: backwards that are wrong on purpose (sin's derivative
taken as sin, a missing factor, one bad entry), values compared with hand-derived derivatives, and the
graded tiers at known relative errors."""

import re
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad.gradcheck import check_graph, gradcheck

# -- Functions written wrong on purpose, and their correct twins ---


class BadSin(mg.Function):
    """y = sin(x), with the classic slip: dx = g * sin(x) instead of g * cos(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * np.sin(x)


class Sin(mg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * np.cos(x)


class BadMul(mg.Function):
    """y = a * b with db forgetting a: da is right, db is wrong."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g * b, g


def scaled_exp(delta):
    """exp whose backward is off by the factor (1 + delta): relative error delta / (1 + delta)."""

    class ScaledExp(mg.Function):
        @staticmethod
        def forward(ctx, x):
            y = np.exp(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y * (1 + delta)

    return ScaledExp


def tensor(rng, *shape, name=None, dtype=np.float64):
    return mg.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True, name=name)


def fn_row(message, label):
    """The cells of the row of input ``label`` (e.g. "0 'x'") in a gradcheck table."""
    for line in message.splitlines():
        if line.startswith(label + " "):
            return re.split(r"\s{2,}", line.strip())
    raise AssertionError(f"no row for {label!r} in:\n{message}")


# -- gradcheck ---

R = np.random.default_rng(7)

CORRECT = {
    "broadcast add/mul/div": (
        lambda a, b, c: (a + b) * c / (1.5 + b * b),
        [tensor(R, 3, 1), tensor(R, 4), tensor(R, 1, 4)],
    ),
    "matmul 2-D": (lambda a, b: a @ b, [tensor(R, 3, 4), tensor(R, 4, 2)]),
    "matmul batched, broadcast batch": (lambda a, b: a @ b, [tensor(R, 2, 3, 4), tensor(R, 4, 5)]),
    "matmul 1-D @ 2-D": (lambda a, b: mg.matmul(a, b), [tensor(R, 4), tensor(R, 4, 3)]),
    "getitem slice": (lambda x: x[1:, ::2] * 3, [tensor(R, 3, 5)]),
    "getitem repeated indices": (lambda x: x[[0, 2, 0, 0]].sum(axis=0), [tensor(R, 3, 2)]),
    "split, tuple of outputs": (lambda x: x.split([1, 3, 2], axis=1), [tensor(R, 2, 6)]),
    "concat and stack": (
        lambda a, b: mg.stack([mg.concat([a, b], axis=0), mg.concat([b, a], axis=0)], axis=1),
        [tensor(R, 2, 3), tensor(R, 2, 3)],
    ),
    "elementwise": (
        lambda x: mg.sigmoid(x) * mg.tanh(x) + mg.exp(x) * mg.log(x * x + 1.0),
        [tensor(R, 2, 3)],
    ),
    "reductions": (lambda x: (x.mean(axis=0), x.max(axis=1), x.sum()), [tensor(R, 3, 4)]),
    "power and non-Tensor argument": (lambda x, p: (x * x + 1.0) ** p, [tensor(R, 4), 1.5]),
    "user Function": (lambda x: Sin.apply(x @ x.T), [tensor(R, 3, 2)]),
    "non-contiguous input": (
        lambda x: x.reshape(8) * 2,
        [mg.tensor(R.standard_normal((4, 2)).T, requires_grad=True)],
    ),
}


@pytest.mark.parametrize("case", list(CORRECT))
def test_gradcheck_passes_correct_compositions(case):
    fn, inputs = CORRECT[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no kink, no float32: nothing to warn about
        assert gradcheck(fn, inputs) is True


def test_gradcheck_leaves_grad_untouched():
    x = tensor(np.random.default_rng(0), 3)
    gradcheck(lambda x: (x * x).sum(), x)
    assert x.grad is None


def test_gradcheck_second_derivative():
    # d/dx of (the engine's d/dx sum(x**3)) = 6x: checks the recorded backward of pow and sum
    x = tensor(np.random.default_rng(1), 4)
    assert gradcheck(lambda x: mg.grad((x**3).sum(), x, create_graph=True)[0], x)


def test_wrong_backward_fails_with_a_table_naming_the_input():
    x = mg.tensor([0.3, 2.5, -1.0], requires_grad=True, name="x")
    with pytest.raises(mg.GradcheckError) as info:
        gradcheck(lambda x: BadSin.apply(x).sum(), x)
    msg = str(info.value)
    assert msg.startswith("gradcheck: the analytic gradient disagrees with central differences for "
                          "input 0 'x' (WRONG)")  # fmt: skip
    assert "max abs err" in msg and "worst index" in msg and "verdict" in msg
    label, shape, dtype, max_abs, max_rel, index, analytic, numeric, verdict = fn_row(msg, "0 'x'")
    assert (shape, dtype, verdict) == ("(3,)", "float64", "WRONG")
    # x = 2.5 is furthest off relative to its size: |sin - cos| / max(|sin|, |cos|) = 1.75 there
    assert index == "(1,)"
    assert float(analytic) == pytest.approx(np.sin(2.5), abs=1e-5)  # what BadSin returned
    assert float(numeric) == pytest.approx(np.cos(2.5), abs=1e-5)  # the true derivative, by hand
    assert float(max_abs) == pytest.approx(abs(np.sin(2.5) - np.cos(2.5)), rel=1e-2)
    assert float(max_rel) == pytest.approx(abs(np.sin(2.5) - np.cos(2.5)) / abs(np.cos(2.5)), rel=1e-2)
    assert "rel = |a - n| / max(|a|, |n|, tiny)" in msg


def test_raise_exception_false_returns_false():
    x = mg.tensor([0.3, 2.5, -1.0], requires_grad=True)
    assert gradcheck(lambda x: BadSin.apply(x), x, raise_exception=False) is False


def test_only_the_wrong_input_is_flagged():
    rng = np.random.default_rng(2)
    a, b = tensor(rng, 2, 3, name="a"), tensor(rng, 2, 3, name="b")
    with pytest.raises(mg.GradcheckError) as info:
        gradcheck(lambda a, b: BadMul.apply(a, b), [a, b])
    msg = str(info.value)
    assert "for input 1 'b' (WRONG)" in msg
    assert fn_row(msg, "0 'a'")[-1] == "OK"
    assert fn_row(msg, "1 'b'")[-1] == "WRONG"
    assert "dotted with random vectors (seed 0)" in msg  # a (2, 3) output is projected


@pytest.mark.parametrize("delta, verdict", [(2e-4, "OK"), (5e-3, "WARNING"), (0.5, "WRONG")])
def test_verdict_tiers(delta, verdict):
    # exp(x) for x in [0, 1] is between 1 and e, so atol never applies and rel ~ delta decides
    x = mg.tensor(np.linspace(0, 1, 5), requires_grad=True, name="x")
    fn = scaled_exp(delta).apply
    if verdict == "OK":
        assert gradcheck(fn, x)
        return
    with pytest.raises(mg.GradcheckError) as info:
        gradcheck(fn, x)
    assert fn_row(str(info.value), "0 'x'")[-1] == verdict


class Reversed(mg.Function):
    """y = x, with a backward that reverses g: right only when g is the same everywhere (as after .sum())."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return g[::-1]


def test_outputs_are_projected_on_a_random_vector():
    # With all-ones output gradients this backward would look right; a random projection exposes it.
    x = tensor(np.random.default_rng(6), 4, name="x")
    assert gradcheck(lambda x: Reversed.apply(x).sum(), x)  # honestly correct for a summed output
    with pytest.raises(mg.GradcheckError, match="input 0 'x' \\(WRONG\\)"):
        gradcheck(Reversed.apply, x)
    report = check_graph(Reversed.apply(x).sum())
    assert report.first_failure.op == "Reversed"


def test_graph_broken_with_data_is_caught():
    # Going through .data leaves the graph: the engine sees only the second term, the function both.
    x = tensor(np.random.default_rng(3), 3, name="x")
    with pytest.raises(mg.GradcheckError, match="input 0 'x' \\(WRONG\\)"):
        gradcheck(lambda x: mg.tensor(x.data**2) + x, x)


def test_float32_input_warns_and_states_tolerances():
    x = tensor(np.random.default_rng(4), 5, name="x", dtype=np.float32)
    with pytest.warns(UserWarning, match="input 0 'x' \\(float32\\) is below float64") as record:
        assert gradcheck(lambda x: mg.tanh(x).sum(), x)
    text = str(record[0].message)
    assert "computed at that precision" in text and "atol=1e-05, rtol=0.001" in text


class ToFloat32(mg.Function):
    @staticmethod
    def forward(ctx, x):
        return x.astype(np.float32)

    @staticmethod
    def backward(ctx, g):
        return g


def test_float32_inside_fn_warns():
    x = tensor(np.random.default_rng(5), 3)
    with pytest.warns(UserWarning, match="fn returned a tensor below float64 even on float64 copies"):
        gradcheck(lambda x: ToFloat32.apply(x) * 2, x, raise_exception=False)


def test_relu_at_zero_warns():
    x = mg.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="non-differentiable point") as record:
        # at 0 the central difference is 1/2 and the engine says 0: a mismatch the warning explains
        assert gradcheck(lambda x: mg.relu(x).sum(), x, raise_exception=False) is False
    text = str(record[0].message)
    assert "relu: 1 entry of input 0 within eps=1e-06 of 0" in text
    assert "(first at index (1,))" in text and "not meaningful" in text


def test_max_tie_warns():
    x = mg.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], requires_grad=True)
    with pytest.warns(UserWarning, match="max: 2 entries of input 0 tied for the maximum"):
        gradcheck(lambda x: x.max(axis=1), x, raise_exception=False)


def test_gradcheck_bad_arguments():
    x = mg.tensor([1.0, 2.0])
    with pytest.raises(mg.errors.ArgumentError, match="gradcheck: no input requires grad"):
        gradcheck(lambda x: x * 2, x)
    x.requires_grad_()
    with pytest.raises(mg.errors.ArgumentTypeError,
                       match="gradcheck: fn must return a Tensor .* returned a ndarray"):  # fmt: skip
        gradcheck(lambda x: x.data * 2, x)
    with pytest.raises(mg.errors.ArgumentError, match="gradcheck: inputs 0 and 1 are the same Tensor"):
        gradcheck(lambda a, b: a * b, [x, x])


def test_gradcheck_on_an_empty_input_says_there_is_nothing_to_compare():
    # It used to fail with "disagrees with central differences for input 1 'e' (SKIPPED)".
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    e = mg.tensor(np.zeros((0, 3)), requires_grad=True, name="e")
    message = (
        "gradcheck: input 1 'e' has no entries (shape (0, 3)), so there is nothing to compare; check it at "
        "a non-empty value, or pass it with requires_grad=False"
    )
    with pytest.raises(mg.errors.ArgumentError, match="^" + re.escape(message) + "$"):
        gradcheck(lambda x, e: x.sum() + e.sum(), [x, e])
    e.requires_grad = False
    assert gradcheck(lambda x, e: x.sum() + e.sum(), [x, e])


def test_gradcheck_is_silent_when_it_passes_unless_verbose(capsys):
    x = mg.tensor([0.3, 2.5, -1.0], requires_grad=True, name="x")
    assert gradcheck(lambda x: Sin.apply(x).sum(), x) is True
    assert capsys.readouterr().out == ""
    assert gradcheck(lambda x: Sin.apply(x).sum(), x, verbose=True) is True
    out = capsys.readouterr().out
    assert out.startswith("gradcheck: the analytic gradient agrees with central differences for every "
                          "input\n")  # fmt: skip
    label, shape, dtype, max_abs, max_rel, index, analytic, numeric, verdict = fn_row(out, "0 'x'")
    assert (shape, dtype, verdict) == ("(3,)", "float64", "OK")
    at = int(index.strip("(,)"))
    assert float(analytic) == pytest.approx(np.cos([0.3, 2.5, -1.0][at]), abs=1e-5)  # sin' by hand
    assert float(numeric) == pytest.approx(np.cos([0.3, 2.5, -1.0][at]), abs=1e-5)
    assert "OK: |a - n| <= atol or rel <= rtol (atol=1e-05, rtol=0.001)" in out
    # a failing check raises with the same table, verbose or not, and prints nothing
    with pytest.raises(mg.GradcheckError) as info:
        gradcheck(lambda x: BadSin.apply(x).sum(), x, verbose=True)
    assert capsys.readouterr().out == ""
    # unless it returns False instead: then verbose prints what the error would have said
    assert gradcheck(lambda x: BadSin.apply(x).sum(), x, raise_exception=False) is False
    assert capsys.readouterr().out == ""
    assert gradcheck(lambda x: BadSin.apply(x).sum(), x, raise_exception=False, verbose=True) is False
    assert capsys.readouterr().out == str(info.value) + "\n"


# -- check_graph ---


def model_with_one_bad_function(rng):
    x = tensor(rng, 4, 3, name="x")
    W1, W2, W3 = tensor(rng, 3, 5, name="W1"), tensor(rng, 5, 5, name="W2"), tensor(rng, 5, 2, name="W3")
    with mg.scope("layer1"):
        h1 = mg.tanh(x @ W1)
    with mg.scope("layer2"):
        h2 = BadSin.apply(h1 @ W2)
    with mg.scope("layer3"):
        y = mg.sigmoid(h2 @ W3)
    return (y * y).mean()


def test_check_graph_names_the_wrong_function():
    loss = model_with_one_bad_function(np.random.default_rng(10))
    report = check_graph(loss)
    assert not report.ok
    first = report.first_failure
    assert (first.op, first.scope, first.input, first.verdict) == ("BadSin", "layer2", 0, "WRONG")
    assert report.failures == [first]  # one wrong op, and its error does not spread to later ops
    k = report.rows.index(first)
    ops_before = [(r.op, r.scope) for r in report.rows[:k]]
    assert ("tanh", "layer1") in ops_before and ("matmul", "layer2") in ops_before
    assert all(r.verdict == "OK" for r in report.rows[:k])
    text = str(report)
    assert "FIRST FAILURE: op 'BadSin' in scope 'layer2'" in text
    # the table row for the failure: position, op, scope, input, shape ... verdict
    line = next(line for line in text.splitlines() if re.match(rf"{first.position}\s+BadSin\s", line))
    assert re.split(r"\s{2,}", line.strip())[1:4] == ["BadSin", "layer2", "0"]
    assert line.endswith("WRONG")


def test_check_graph_raise_exception():
    loss = model_with_one_bad_function(np.random.default_rng(11))
    with pytest.raises(mg.GradcheckError, match="FIRST FAILURE: op 'BadSin' in scope 'layer2'"):
        check_graph(loss, raise_exception=True)


def tanh_rnn(rng, steps=20, batch=3, n_in=4, hidden=8):
    xs = tensor(rng, batch, steps, n_in, name="xs")
    Wx, Wh, b = tensor(rng, n_in, hidden, name="Wx"), tensor(rng, hidden, hidden, name="Wh"), tensor(
        rng, hidden, name="b")
    Wx.data *= 0.5
    Wh.data *= 0.3
    h = mg.tensor(np.zeros((batch, hidden)))
    outs = []
    for t in range(steps):
        with mg.scope("rnn"), mg.scope(f"t{t}"):
            h = mg.tanh(xs[:, t] @ Wx + h @ Wh + b)
            outs.append(h)
    return (mg.stack(outs, axis=1) ** 2).mean()


def test_check_graph_tanh_rnn_all_ok_in_forward_order():
    loss = tanh_rnn(np.random.default_rng(12))
    report = check_graph(loss)
    assert report.ok and report.first_failure is None
    assert "all OK" in str(report)
    assert {r.op for r in report.rows} >= {"getitem", "matmul", "add", "tanh", "concat", "pow"}
    assert sum(r.op == "tanh" for r in report.rows) == 20
    # forward order: every op comes after the ops that made its inputs
    position = {}
    for r in report.rows:
        position[r.node] = r.position
    for r in report.rows:
        for a in r.node.inputs:
            if isinstance(a, mg.Tensor) and a.grad_fn is not None:
                assert position[a.grad_fn] < r.position
    # the (8, 8) recurrent weight is sampled and also checked along a random direction
    wh = next(r for r in report.rows if r.name == "Wh")
    assert (wh.probed, wh.size, wh.directional) == (16, 64, True)


def test_check_graph_non_contiguous_inputs():
    # a transposed view fed to reshape: the float64 copy must be one the probes can change in place
    w = tensor(np.random.default_rng(20), 3, 4)
    report = check_graph((w.T.reshape(2, 6) * w.T.reshape(6, 2).T).sum())
    assert report.ok and [r.op for r in report.rows][:3] == ["transpose", "reshape", "transpose"]


def test_check_graph_leaves_the_graph_usable():
    rng = np.random.default_rng(13)
    x = tensor(rng, 3, name="x")
    y = (mg.tanh(x) * x).sum()
    assert check_graph(y).ok
    y.backward()  # what the ops saved was neither consumed nor freed by the check
    t = np.tanh(x.data)
    np.testing.assert_allclose(x.grad.data, (1 - t**2) * x.data + t, rtol=1e-12)
    assert check_graph(y).ok  # and after backward() freed the saved values, the check still runs


def test_check_graph_is_iterative_on_deep_graphs():
    x = mg.tensor(0.5, requires_grad=True)
    y = x
    for _ in range(1500):  # 3000 ops, well past Python's recursion limit
        y = y * 0.999 + 0.001
    report = check_graph(y)
    assert report.ok and report.n_ops == 3000


class TwoWay(mg.Function):
    """(y1, y2) = (2x, x**2): one op, two outputs; ``right`` picks the correct backward or a wrong one."""

    right = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 2 * x, x * x

    @classmethod
    def backward(cls, ctx, g1, g2):
        (x,) = ctx.saved_tensors
        return 2 * g1 + (2 * x if cls.right else x) * g2


class BadTwoWay(TwoWay):
    right = False


@pytest.mark.parametrize("fn, ok", [(TwoWay, True), (BadTwoWay, False)])
def test_check_graph_multi_output_function(fn, ok):
    x = tensor(np.random.default_rng(14), 2, 3)
    y1, y2 = fn.apply(x)
    y1s, y2s = mg.split(y2, 3, axis=1)[:2]  # the built-in multi-output op, partly used
    report = check_graph((y1 * y2s).sum() + y1s.sum())
    assert report.ok is ok
    if not ok:
        assert report.first_failure.op == "BadTwoWay"
    split = next(r for r in report.rows if r.op == "split")
    assert split.verdict == "OK"


class OneBadEntry(mg.Function):
    """y = 3x with a backward wrong at the single entry [7, 7]: easy to miss by sampling."""

    @staticmethod
    def forward(ctx, x):
        return 3 * x

    @staticmethod
    def backward(ctx, g):
        gx = 3 * g
        gx[7, 7] = 0.0
        return gx


def test_check_graph_random_direction_finds_an_unsampled_bad_entry():
    x = tensor(np.random.default_rng(15), 10, 10)
    report = check_graph(OneBadEntry.apply(x).sum(), max_probes=4)
    row = report.first_failure
    assert row is not None and row.op == "OneBadEntry" and row.verdict == "WRONG"
    assert (row.probed, row.directional) == (4, True)
    if row.worst_index != (7, 7):  # the entry was not among the four sampled: the direction caught it
        assert row.worst_index is None
        assert "a random direction over all 100 entries is graded WRONG" in row.note
        assert re.search(r"\s4/100\+dir\s.*\sdir\s.*WRONG", str(report))


def test_check_graph_backward_errors_are_reported():
    class WrongCount(mg.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g

    class WrongShape(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, g):
            return np.ones(7)

    a, b = tensor(np.random.default_rng(16), 3), tensor(np.random.default_rng(17), 3)
    report = check_graph(WrongShape.apply(WrongCount.apply(a, b)))
    count_rows = [r for r in report.rows if r.op == "WrongCount"]
    assert [r.verdict for r in count_rows] == ["WRONG", "WRONG"]
    assert "backward returned 1 gradient(s) but forward took 2 input(s)" in count_rows[0].note
    assert str(report).split("\n")[1:3] == [
        "FIRST FAILURE: op 'WrongCount' in scope '-' (#0), input 0: WRONG (3 failing input(s) in all)",
        count_rows[0].note,
    ]
    shape_row = next(r for r in report.rows if r.op == "WrongShape")
    assert shape_row.verdict == "WRONG"
    assert "WrongShape.backward returned a gradient of shape (7,) for input 0 of shape (3,)" in shape_row.note


def test_check_graph_relu_at_zero_and_max_tie_warn():
    x = mg.tensor([[-1.0, 0.0, 2.0], [3.0, 3.0, 1.0]], requires_grad=True)
    with mg.scope("act"):
        h = mg.relu(x)
    with pytest.warns(UserWarning, match="check_graph: non-differentiable point") as record:
        report = check_graph(h.max(axis=1).sum())
    text = str(record[0].message)
    assert ("relu in act: 1 entry of input 0 within eps=1e-06 of 0, where relu has a kink "
            "(first at index (0, 1))") in text
    assert "max: 2 entries of input 0 tied for the maximum of their slice" in text
    assert "not meaningful" in text
    # the other entries are still compared, and agree
    assert report.ok
    relu = next(r for r in report.rows if r.op == "relu")
    assert relu.probed == 5 and "1 entry at a non-differentiable point not compared" in relu.note
    assert "relu in act: 1 entry of input 0 within eps" in str(report)


def test_check_graph_float32_warns():
    x = tensor(np.random.default_rng(18), 3, dtype=np.float32)
    with pytest.warns(UserWarning, match="check_graph: the graph holds tensors below float64"):
        report = check_graph((mg.exp(x) * x).sum())
    assert report.ok  # the formulas are checked in float64


def test_check_graph_html_has_a_table():
    report = check_graph(model_with_one_bad_function(np.random.default_rng(19)))
    page = report._repr_html_()
    assert "<table>" in page and "</table>" in page
    assert page.count("<tr") == len(report.rows) + 1  # header and one row per checked input
    assert "<td>BadSin</td><td>layer2</td>" in page
    assert "FIRST FAILURE: op &#x27;BadSin&#x27;" in page  # text is escaped


def test_check_graph_html_keeps_failing_rows_when_long():
    x = tensor(np.random.default_rng(21), 3)
    y = x
    for _ in range(20):
        y = mg.tanh(y)
    y = BadSin.apply(y)
    report = check_graph(y.sum())
    page = report._repr_html_(max_rows=5)
    assert page.count("<tr") == 6 and "<td>BadSin</td>" in page
    assert "17 of 22 rows not shown (failing rows are shown first)" in page


def test_check_graph_bad_root():
    with pytest.raises(mg.errors.ArgumentError, match="check_graph: no recorded graph: the root is a leaf"):
        check_graph(mg.tensor([1.0], requires_grad=True))
    message = "check_graph: root 0 is a ndarray, expected a Tensor"
    with pytest.raises(mg.errors.ArgumentTypeError, match=message):
        check_graph([np.ones(2)])
    # a number used to fail with "'float' object is not iterable"
    message = r"^check_graph: root must be a Tensor or a list of Tensors, got float$"
    with pytest.raises(mg.errors.ArgumentTypeError, match=message):
        check_graph(3.0)
    y = (mg.tensor([1.0], requires_grad=True) * 2).sum()
    with pytest.raises(mg.errors.ArgumentError, match=r"^check_graph: max_probes must be at least 1, got 0$"):
        check_graph(y, max_probes=0)
