"""lstm.compare and lstm.exercises: a correct hand-derived backward passes everywhere, and a backward with
one planted mistake is blamed on exactly the gate (or the time step) where the mistake was planted.

The planted backwards below repeat the reference's math (lstm/reference.py) with one deliberate change
each, selected by name, so that every mistake sits in one visible line.
"""

import re

import numpy as np
import pytest

import minigrad as mg
from lstm import compare, exercises, reference
from lstm.reference import PARAM_NAMES, gate_slices

# ----------------------------------------------------------------------------- planted mistakes

STEP_MISTAKES = {
    # mistake -> the gates it must be blamed on
    "forget uses c": ["forget"],  # dL/df = dc * c instead of dc * c_prev
    "input without sigmoid'": ["input"],  # da_i = di instead of di * i * (1 - i)
    "output uses tanh(c)^2": ["output"],  # dL/do = dh * tanh(c)**2 instead of dh * tanh(c)
    "candidate without tanh'": ["candidate"],  # da_g = dg instead of dg * (1 - g**2)
}


def step_backward(dh, dc, cache, mistake=None):
    """The reference's one-step backward, with the named mistake planted (None: none)."""
    i, f, g, o, tanh_c = cache.i, cache.f, cache.g, cache.o, cache.tanh_c
    do = dh * tanh_c * tanh_c if mistake == "output uses tanh(c)^2" else dh * tanh_c
    dc_via_h = dh * o if mistake == "dc without tanh'" else dh * o * (1 - tanh_c * tanh_c)
    dc = dc_via_h if dc is None else dc + dc_via_h
    df = dc * cache.c if mistake == "forget uses c" else dc * cache.c_prev
    dc_prev = dc * f
    di = dc * g
    dg = dc * i
    s = gate_slices(i.shape[1])
    da = np.empty((i.shape[0], 4 * i.shape[1]))
    da[:, s["i"]] = di if mistake == "input without sigmoid'" else di * i * (1 - i)
    da[:, s["f"]] = df * f * (1 - f)
    da[:, s["g"]] = dg if mistake == "candidate without tanh'" else dg * (1 - g * g)
    da[:, s["o"]] = do * o * (1 - o)
    if mistake == "dx misses the forget rows":
        dx = np.delete(da, s["f"], axis=1) @ np.delete(cache.weight_ih, s["f"], axis=0)
    else:
        dx = da @ cache.weight_ih
    dh_prev = da @ cache.weight_hh
    db = da.sum(axis=0)
    grads = {"weight_ih": da.T @ cache.x, "weight_hh": da.T @ cache.h_prev, "bias_ih": db,
             "bias_hh": db.copy()}  # fmt: skip
    if mistake == "bias_hh of the output gate doubled":
        grads["bias_hh"][s["o"]] *= 2
    return dx, dh_prev, dc_prev, grads


def planted(mistake):
    def backward(dh, dc, cache):
        return step_backward(dh, dc, cache, mistake)

    backward.__name__ = f"step_backward_{mistake}"
    return backward


def bptt_backward(dout, cache, dh_T=None, dc_T=None, mistake=None, chunk=None):
    """The reference's backward through time, with one mistake planted in what crosses steps:
    'drop dc' forgets to carry dc_prev back; 'drop dh' forgets to carry dh_prev back; 'ignore dc_T' starts
    from dc = 0; 'truncate' resets the carried gradients at the start of every chunk of `chunk` steps; a
    mistake of `step_backward` is made at every step."""
    B, T, H = dout.shape
    dh = np.zeros((B, H)) if dh_T is None else dh_T
    dc = np.zeros((B, H)) if dc_T is None or mistake == "ignore dc_T" else dc_T
    dx = np.empty((B, T, cache[0].x.shape[1]))
    grads = {"weight_ih": np.zeros_like(cache[0].weight_ih), "weight_hh": np.zeros_like(cache[0].weight_hh),
             "bias_ih": np.zeros(4 * H), "bias_hh": np.zeros(4 * H)}  # fmt: skip
    for t in reversed(range(T)):
        dh = dh + dout[:, t]
        dx[:, t], dh_prev, dc_prev, step_grads = step_backward(dh, dc, cache[t], mistake)
        for name in PARAM_NAMES:
            grads[name] += step_grads[name]
        dh, dc = dh_prev, dc_prev
        if t > 0:  # what is carried back into step t - 1 (dh0 and dc0 are returned as they are)
            if mistake == "drop dh" or (mistake == "truncate" and t % chunk == 0):
                dh = np.zeros_like(dh)
            if mistake == "drop dc" or (mistake == "truncate" and t % chunk == 0):
                dc = np.zeros_like(dc)
    return dx, dh, dc, grads


def planted_bptt(mistake, chunk=None):
    return lambda dout, cache, dh_T=None, dc_T=None: bptt_backward(dout, cache, dh_T, dc_T, mistake, chunk)


# ----------------------------------------------------------------------------- one step


@pytest.mark.parametrize("sizes", [(3, 4, 2), (1, 1, 1), (5, 2, 3)])
def test_reference_step_backward_passes_everywhere(sizes):
    I, H, B = sizes
    report = compare.compare_gradients(reference.lstm_step_backward, I, H, B, seed=I + H + B)
    assert report.ok and report.autograd_ok
    assert report.wrong_gates == []
    assert all(r.ok and r.numeric_ok is not False for r in report.rows)
    assert report.verdict[-1].startswith("every gradient agrees with autograd")
    # every parameter and input is there, whole and per gate (c_prev whole only)
    for name in PARAM_NAMES + ("x", "h_prev"):
        assert [r.gate for r in report.rows if r.quantity == name] == [None, *compare.GATES]
    assert [r.gate for r in report.rows if r.quantity == "c_prev"] == [None]
    # the third opinion ran: central differences are close to autograd but not bit-identical
    whole = [r for r in report.rows if r.gate is None]
    assert all(r.numeric_ok for r in whole)
    assert 0 < max(r.numeric_rel for r in whole) < 1e-5


def test_the_planted_backward_without_a_mistake_is_the_reference():
    report = compare.compare_gradients(planted(None))
    assert report.ok


@pytest.mark.parametrize("mistake", list(STEP_MISTAKES))
def test_a_planted_mistake_is_blamed_on_exactly_its_gate(mistake):
    gate = STEP_MISTAKES[mistake][0]
    report = compare.compare_gradients(planted(mistake))
    assert not report.ok
    assert report.wrong_gates == STEP_MISTAKES[mistake]
    assert report.autograd_ok  # autograd itself still agrees with central differences
    # every parameter block of that gate, and its terms of dx and dh_prev, depart; nothing else does
    for row in report.rows:
        blamed = row.gate == gate or (row.gate is None and row.quantity in PARAM_NAMES + ("x", "h_prev"))
        assert row.ok != blamed, (mistake, row)
    # the verdict names the gate, its rows, and the first-principles hint for that gate
    rows = gate_slices(4)[compare.LETTER[gate]]
    line = next(v for v in report.verdict if v.startswith(f"{gate} gate:"))
    assert f"weight_ih rows {rows.start}:{rows.stop}" in line
    assert compare.GATE_HINTS[gate] in line
    assert len([v for v in report.verdict if " gate:" in v]) == 1


def test_forget_gate_verdict_reads_as_intended():
    report = compare.compare_gradients(planted("forget uses c"))
    line = report.verdict[0]
    assert re.match(
        r"forget gate: weight_ih rows 4:8, weight_hh rows 4:8, bias_ih rows 4:8, bias_hh rows 4:8, "
        r"x term da_f @ weight_ih\[4:8\], h_prev term da_f @ weight_hh\[4:8\] wrong "
        r"\(max rel error [0-9.]+\); "
        r"check the derivative of f: it multiplies c_prev",
        line,
    ), line


def test_a_wrong_dc_blames_the_cell_state_not_each_gate():
    report = compare.compare_gradients(planted("dc without tanh'"))
    assert report.wrong_gates == ["input", "forget", "candidate"]
    assert report.verdict[0].startswith("cell state: the input, forget and candidate gates depart while the "
                                        "output gate agrees")  # fmt: skip
    assert "dc = dc_next + dh * o * (1 - tanh(c)**2)" in report.verdict[0]
    # the gates are listed without a derivative hint, which would point at the wrong line
    assert not any(hint in line for line in report.verdict for hint in compare.GATE_HINTS.values())
    c_prev = next(r for r in report.rows if r.quantity == "c_prev")
    assert not c_prev.ok
    assert report.wrong_scopes == ["input_gate", "forget_gate", "cell_candidate", "cell_state"]


def test_a_mistake_only_in_dx_is_found_in_the_gate_term_of_dx():
    report = compare.compare_gradients(planted("dx misses the forget rows"))
    assert report.wrong_gates == ["forget"]
    failing = [(r.quantity, r.gate) for r in report.rows if not r.ok]
    assert failing == [("x", None), ("x", "forget")]
    assert "x term da_f @ weight_ih[4:8] wrong" in report.verdict[0]
    assert compare.GATE_HINTS["forget"] in report.verdict[0]  # only the term departs: da_f is suspect


def test_a_mistake_in_one_bias_keeps_the_gate_derivative_out_of_it():
    report = compare.compare_gradients(planted("bias_hh of the output gate doubled"))
    assert report.wrong_gates == ["output"]
    failing = [(r.quantity, r.gate) for r in report.rows if not r.ok]
    assert failing == [("bias_hh", None), ("bias_hh", "output")]
    assert report.verdict == [
        "output gate: bias_hh rows 12:16 wrong (max rel error 0.5); the other blocks agree, so da_o is "
        "right: the rows 12:16 of both biases are da_o.sum(axis=0)"
    ]


def test_a_dx_that_is_not_a_sum_of_gate_terms_is_not_split():
    def backward(dh, dc, cache):
        dx, dh_prev, dc_prev, grads = reference.lstm_step_backward(dh, dc, cache)
        return dx + 1.0, dh_prev, dc_prev, grads  # a constant: the same in every masked call

    report = compare.compare_gradients(backward)
    assert report.wrong_gates == []
    x_rows = [r for r in report.rows if r.quantity == "x"]
    assert len(x_rows) == 1 and not x_rows[0].ok
    assert len(report.verdict) == 1
    assert re.fullmatch(r"x: wrong \(max rel error [0-9.]+\); not split per gate: your dx is not a sum of "
                        r"da_k @ weight_ih\[rows of k\]", report.verdict[0]), report.verdict[0]


def test_float32_problem_passes_with_float32_tolerances():
    report = compare.compare_gradients(reference.lstm_step_backward, dtype=np.float32)
    assert report.ok
    assert report.problem["x"].dtype == np.float32
    report = compare.compare_gradients(planted("forget uses c"), dtype=np.float32)
    assert report.wrong_gates == ["forget"]
    assert compare.compare_sequence_gradients(reference.lstm_backward, T=3, dtype=np.float32).ok
    report = compare.compare_sequence_gradients(planted_bptt("drop dc"), T=3, dtype=np.float32)
    assert report.first_bad_step == 1


def test_an_autograd_that_disagrees_with_central_differences_is_reported(monkeypatch):
    real = compare._autograd_step

    def broken(problem):  # as if LSTMCell's forget gate had a wrong backward
        grads, da = real(problem)
        grads["weight_hh"] = grads["weight_hh"].copy()
        grads["weight_hh"][4:8] *= 1.5
        return grads, da

    monkeypatch.setattr(compare, "_autograd_step", broken)
    report = compare.compare_gradients(reference.lstm_step_backward)
    assert not report.autograd_ok and not report.ok
    assert report.verdict[0].startswith("WARNING: autograd and central differences disagree (weight_hh, "
                                        "weight_hh rows 4:8)")  # fmt: skip
    assert "not in your code" in report.verdict[0]


def test_wrongly_shaped_returns_are_named():
    def transposed(dh, dc, cache):
        dx, dh_prev, dc_prev, grads = reference.lstm_step_backward(dh, dc, cache)
        return dx, dh_prev, dc_prev, {**grads, "weight_ih": grads["weight_ih"].T}

    with pytest.raises(ValueError, match=re.escape(
        "compare_gradients: your function returned dweight_ih of shape (3, 16) but expected (16, 3) "
        "(4*hidden_size, input_size)"
    )):  # fmt: skip
        compare.compare_gradients(transposed)
    with pytest.raises(ValueError, match=re.escape(
        "compare_gradients: your function must return (x, h_prev, c_prev, grads), got a tuple of length 3"
    )):  # fmt: skip
        compare.compare_gradients(lambda dh, dc, cache: reference.lstm_step_backward(dh, dc, cache)[:3])
    with pytest.raises(ValueError, match="the grads your function returned miss weight_hh, bias_ih, bias_hh; "
                                         "expected keys weight_ih, weight_hh, bias_ih, bias_hh"):
        compare.compare_gradients(
            lambda dh, dc, cache: (*reference.lstm_step_backward(dh, dc, cache)[:3], {"weight_ih": 0})
        )
    with pytest.raises(TypeError, match=r"compare_gradients: expected your function step_backward\(dh, dc"):
        compare.compare_gradients(42)
    with pytest.raises(ValueError, match="compare_gradients: hidden_size must be a positive integer, got 0"):
        compare.compare_gradients(reference.lstm_step_backward, hidden_size=0)


def test_the_student_gets_fresh_arrays_each_call():
    seen = []

    def vandal(dh, dc, cache):  # changes everything it is given, in place
        result = reference.lstm_step_backward(dh, dc, cache)
        seen.append(cache.f.copy())
        for a in (dh, dc, *cache):
            a *= 0
        return result

    assert compare.compare_gradients(vandal).ok
    assert all(np.array_equal(s, seen[0]) for s in seen)


# ----------------------------------------------------------------------------- renderings


def test_text_rendering_is_an_aligned_table_with_the_expected_rows():
    text = str(compare.compare_gradients(planted("forget uses c")))
    lines = text.splitlines()
    assert lines[2] == "FAIL"
    header = next(line for line in lines if line.startswith("quantity"))
    assert header.split() == ["quantity", "gate", "part", "max", "abs", "err", "max", "rel", "err",
                              "autograd", "vs", "numeric", "result"]  # fmt: skip
    start = lines.index(header)
    table = lines[start + 1 : start + 32]
    # the result column lines up on every row
    col = header.index("result")
    assert all(line[col:] in ("pass", "FAIL") for line in table)
    forget = [line for line in table if line.split()[0] in ("forget", "weight_ih") and "4:8" in line]
    assert forget and all(line.endswith("FAIL") for line in forget)
    assert re.search(r"^weight_ih\s+all\s+\S+\s+\S+\s+\S+ ok\s+FAIL$", text, re.M)
    assert re.search(r"^\s+input\s+rows 0:4\s.*pass$", text, re.M)
    assert re.search(r"^c_prev\s+all\s.*pass$", text, re.M)


def test_html_rendering_colours_rows_and_escapes_text():
    report = compare.compare_gradients(planted("forget uses c"))
    page = report._repr_html_()
    assert page.count("<tr style=") == len(report.rows)
    failing = len([r for r in report.rows if not r.ok])
    assert page.count(f'<tr style="background:{compare.report._FAIL}">') == failing
    assert "<td>forget</td><td>rows 4:8</td>" in page
    assert "da_f @ weight_ih[4:8]" in page
    assert "f * c_prev + i * g" in page and "<b>FAIL</b>" in page
    assert "dc * c_prev" in page and "&lt;" not in str(report)  # text stays plain
    assert "<=" not in page  # escaped in the legend
    ok_page = compare.compare_gradients(reference.lstm_step_backward)._repr_html_()
    assert f'<tr style="background:{compare.report._FAIL}">' not in ok_page


# ----------------------------------------------------------------------------- sequences


def test_reference_bptt_passes_everywhere():
    report = compare.compare_sequence_gradients(reference.lstm_backward)
    assert report.ok and report.first_bad_step is None and report.wrong_gates == []
    assert {r.step for r in report.rows} == {None, 0, 1, 2, 3, 4}
    # per probe: each parameter whole and per gate, x per step, h0, c0
    probe = [r for r in report.rows if r.step == 2]
    assert [r.quantity for r in probe if r.gate is None] == [*PARAM_NAMES, *(f"x[:, {s}]" for s in range(5)),
                                                             "h0", "c0"]  # fmt: skip
    assert all(r.numeric_ok for r in report.rows if r.step is None)
    assert compare.compare_sequence_gradients(planted_bptt(None), T=3).ok


def test_dropping_the_carried_dc_is_reported_as_starting_at_step_1():
    report = compare.compare_sequence_gradients(planted_bptt("drop dc"))
    assert report.first_bad_step == 1
    probe = {r.quantity: r for r in report.rows if r.step == 1 and r.gate is None}
    assert not probe["x[:, 0]"].ok and probe["x[:, 1]"].ok  # step 1's own dx is right, step 0's is not
    assert not probe["c0"].ok
    # at the first failing probe the output gate, which sees only dh, agrees
    wrong = {r.gate for r in report.rows if r.step == 1 and not r.ok and r.gate}
    assert wrong == {"input", "forget", "candidate"}
    assert report.verdict[0] == (
        "the error starts at step 1: every probe before it agrees; with dout non-zero only at step 1, "
        "dx[:, s] departs at steps s = 0"
    )
    assert report.verdict[1].startswith("step 1's own dx agrees, so the fault is in what is carried from "
                                        "step 1 back to step 0")  # fmt: skip
    assert report.verdict[1].endswith("; the dc carried back is wrong: the output gate, which sees only dh, "
                                      "agrees")  # fmt: skip
    text = str(report)
    assert re.search(r"^t=0\s+all 11 gradients agree", text, re.M)
    assert re.search(r"^t=1\s+weight_ih\s+\S+\s+\S+\s+input, forget, candidate\s+FAIL$", text, re.M)


def test_dropping_the_carried_dh_blames_every_gate_at_step_1():
    report = compare.compare_sequence_gradients(planted_bptt("drop dh"))
    assert report.first_bad_step == 1
    assert {r.gate for r in report.rows if r.step == 1 and not r.ok and r.gate} == set(compare.GATES)
    assert "the dh carried back (or both dh and dc) is wrong" in report.verdict[1]


@pytest.mark.parametrize("chunk, first", [(3, 3), (2, 2), (4, 4)])
def test_a_truncated_backward_is_reported_at_the_chunk_boundary(chunk, first):
    report = compare.compare_sequence_gradients(planted_bptt("truncate", chunk), T=6)
    assert report.first_bad_step == first
    assert report.verdict[0].startswith(f"the error starts at step {first}: ")


def test_a_gate_mistake_inside_bptt_starts_at_step_0_and_names_the_gate():
    report = compare.compare_sequence_gradients(planted_bptt("candidate without tanh'"))
    assert report.first_bad_step == 0
    assert report.wrong_gates == ["candidate"]
    assert report.verdict[0].startswith("the error is in one step's own math")
    assert report.verdict[1].startswith("probe t=0: candidate gate: weight_ih rows 8:12")
    assert compare.GATE_HINTS["candidate"] in report.verdict[1]


def test_ignoring_dc_T_passes_every_probe_but_not_the_full_problem():
    report = compare.compare_sequence_gradients(planted_bptt("ignore dc_T"))
    assert report.first_bad_step is None and not report.ok
    assert report.verdict[0].startswith("every probe (dout at one step, dh_T = dc_T = 0) agrees, but the "
                                        "full problem")  # fmt: skip
    assert all(r.ok for r in report.rows if r.step is not None)


def test_sequence_html_shows_the_per_step_table():
    page = compare.compare_sequence_gradients(planted_bptt("drop dc"))._repr_html_()
    assert "<td>t=0</td><td>all 11 gradients agree</td>" in page
    assert "<td>t=1</td><td>weight_ih</td>" in page
    assert "input, forget, candidate" in page


# ----------------------------------------------------------------------------- the reference itself


def test_the_lstm_layer_agrees_with_the_reference_to_1e_10():
    report = compare.compare_with_reference(seed=3)
    assert report.ok, str(report)
    assert max(r.max_abs for r in report.rows) < 1e-10
    names = {r.quantity for r in report.rows}
    assert {"out (forward)", "h_T (forward)", "c_T (forward)", "gates (forward)", "h0", "c0"} <= names
    assert [r.gate for r in report.rows if r.quantity == "gates (forward)"] == list(compare.GATES)
    assert "lstm.LSTM (autograd) against lstm.reference" in str(report)


def test_compare_with_reference_catches_a_wrong_reference(monkeypatch):
    monkeypatch.setattr(reference, "lstm_backward", planted_bptt("drop dc"))
    report = compare.compare_with_reference()
    assert not report.ok and report.first_bad_step == 1
    with pytest.raises(ValueError, match=r"compare_with_reference: sizes must be \(batch, time, input_size"):
        compare.compare_with_reference(sizes=(2, 3))


# ----------------------------------------------------------------------------- exercises


def step_forward_with(mistake):
    """The reference's step forward with one planted mistake: 'forget from the input rows' reads f off
    rows 0:H (the input gate's) instead of H:2H; 'h from the old c' uses tanh(c_prev)."""

    def forward(x, h_prev, c_prev, params):
        h, c, cache = reference.lstm_step_forward(x, h_prev, c_prev, params)
        if mistake == "forget from the input rows":
            f = cache.i
            c = f * c_prev + cache.i * cache.g
            h = cache.o * np.tanh(c)
            cache = cache._replace(f=f, c=c, h=h)
        elif mistake == "h from the old c":
            h = cache.o * np.tanh(c_prev)
        return h, c, cache

    return forward


def test_exercises_pass_the_reference_functions(capsys):
    report = exercises.check_step_forward(reference.lstm_step_forward)
    out = capsys.readouterr().out
    assert report.ok and out.startswith("check_step_forward: PASS\n")
    assert [r.quantity for r in report.rows] == ["h", "c", "i", "f", "g", "o"]
    assert "every value agrees with lstm.LSTMCell" in out
    assert re.search(r"^f\s+forget\s+sigmoid\(a\[:, 4:8\]\)\s+\S+\s+\S+\s+pass$", out, re.M)
    assert "autograd vs numeric" not in out  # nothing numeric in a forward check

    assert exercises.check_step_backward(reference.lstm_step_backward).ok
    out = capsys.readouterr().out
    assert out.startswith("check_step_backward: PASS\n") and "weight_ih" in out

    assert exercises.check_bptt_backward(reference.lstm_backward, T=3).ok
    out = capsys.readouterr().out
    assert out.startswith("check_bptt_backward: PASS\n")
    assert re.search(r"^t=2\s+all 9 gradients agree", out, re.M)


def test_exercises_fail_a_broken_function_and_name_the_gate(capsys):
    report = exercises.check_step_forward(step_forward_with("forget from the input rows"))
    out = capsys.readouterr().out
    assert out.startswith("check_step_forward: FAIL\n")
    assert report.wrong_gates == ["forget"]
    assert "forget gate: f wrong" in out and "f = sigmoid(x @ weight_ih[4:8].T" in out
    assert "c and h depart too, as they follow from the gates: fix the gates first" in out

    report = exercises.check_step_forward(step_forward_with("h from the old c"))
    out = capsys.readouterr().out
    assert out.startswith("check_step_forward: FAIL\n") and report.wrong_gates == []
    assert "h: wrong" in out and "h = o * tanh(c), with the new c" in out

    report = exercises.check_step_backward(planted("output uses tanh(c)^2"))
    out = capsys.readouterr().out
    assert out.startswith("check_step_backward: FAIL\n") and report.wrong_gates == ["output"]
    assert "output gate: weight_ih rows 12:16" in out

    report = exercises.check_bptt_backward(planted_bptt("drop dc"), T=3)
    out = capsys.readouterr().out
    assert out.startswith("check_bptt_backward: FAIL\n") and report.first_bad_step == 1
    assert "the error starts at step 1" in out


def test_check_step_forward_without_gates_in_the_cache(capsys):
    def forward(x, h_prev, c_prev, params):
        h, c, _ = reference.lstm_step_forward(x, h_prev, c_prev, params)
        return h, c, (x, h_prev)

    report = exercises.check_step_forward(forward)
    assert report.ok and [r.quantity for r in report.rows] == ["h", "c"]
    assert "your cache has no i, f, g, o" in capsys.readouterr().out
    with pytest.raises(ValueError, match=re.escape("check_step_forward: your h has shape (4, 2) but expected "
                                                   "(2, 4) (batch, hidden_size)")):  # fmt: skip
        exercises.check_step_forward(lambda *args: (forward(*args)[0].T, *forward(*args)[1:]))
    with pytest.raises(ValueError, match=r"check_step_forward: your function must return \(h, c, cache\), "
                                         r"got tuple of length 2"):  # fmt: skip
        exercises.check_step_forward(lambda *args: forward(*args)[:2])


# ----------------------------------------------------------------------------- the drawing


def test_disagreement_colours_follow_the_scopes():
    report = compare.compare_gradients(planted("forget uses c"))
    colour = compare.disagreement_colours(report)
    x, w = mg.tensor(np.ones((1, 2)), requires_grad=True), mg.tensor(np.ones((2, 2)))
    with mg.scope("lstm"), mg.scope("t0"):
        with mg.scope("forget_gate"):
            f = mg.sigmoid(x @ w)
        with mg.scope("input_gate"):
            i = mg.sigmoid(x @ w)
        with mg.scope("cell_state"):
            c = f * i
        with mg.scope("hidden_state"):
            h = mg.tanh(c)
    assert colour(f) == colour(f.parents[0]) == compare.WRONG_COLOUR
    assert colour(i) == colour(c) == compare.RIGHT_COLOUR
    assert colour(h) is None and colour(x) is None


def test_draw_disagreement_colours_the_wrong_gate_red():
    viz = pytest.importorskip("minigrad.viz", reason="minigrad.viz (the drawing module) is not in this tree")
    report = compare.compare_gradients(planted("forget uses c"))
    drawn = compare.draw_disagreement(report, legend=False)
    assert isinstance(drawn, viz.Drawing)
    # every op node carries its scope in its tooltip ("matmul in forget_gate"): read its fill colour
    fills = {}
    for fill, scope in re.findall(r'fillcolor="([^"]+)".*tooltip="\w+ in ([\w/]+)"', drawn.source):
        fills.setdefault(scope, set()).add(fill)
    assert fills["forget_gate"] == {compare.WRONG_COLOUR}
    for scope in ("input_gate", "cell_candidate", "output_gate"):
        assert fills[scope] == {compare.RIGHT_COLOUR}, scope
    assert compare.WRONG_COLOUR not in fills["weights"] | fills["hidden_state"]
    # a wrong dc turns the cell state red as well
    drawn = compare.draw_disagreement(compare.compare_gradients(planted("dc without tanh'")))
    assert re.search(rf'fillcolor="{compare.WRONG_COLOUR}".*tooltip="mul in cell_state"', drawn.source)
