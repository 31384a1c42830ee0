"""lstm.exercises: each check prints PASS and its per-gate table for a correct function, FAIL and the gate to
look at for a wrong one, and one NOT DONE YET line (returning None, raising nothing) for an exercise whose
body is still ``raise NotImplementedError``, so that a notebook of unsolved exercises runs to the end."""

import functools
import re

import numpy as np
import pytest

from lstm import exercises, reference
from lstm.reference import PARAM_NAMES


def step_forward_todo(x, h_prev, c_prev, params):
    raise NotImplementedError


def step_backward_todo(dh, dc, cache):
    raise NotImplementedError("exercise 1: the backward of one step")


def bptt_backward_todo(dout, cache, dh_T, dc_T):
    raise NotImplementedError


def step_backward_forget_uses_c(dh, dc, cache):
    """The reference's step backward with one planted mistake: dL/df = dc * c instead of dc * c_prev.

    So da_f = dc * c * f (1 - f) instead of dc * c_prev * f (1 - f), with dc the total gradient reaching c;
    dc_prev = dc * f and the other gates are unaffected. Written as the reference's gradients plus the
    difference, extra = da_f(wrong) - da_f(right), pushed through the forget gate's rows."""
    dx, dh_prev, dc_prev, grads = reference.lstm_step_backward(dh, dc, cache)
    f, tanh_c = cache.f, cache.tanh_c
    dc_total = dc + dh * cache.o * (1 - tanh_c**2)
    extra = dc_total * (cache.c - cache.c_prev) * f * (1 - f)  # (B, H): the wrong da_f minus the right one
    H = f.shape[1]
    rows = slice(H, 2 * H)
    grads = {name: g.copy() for name, g in grads.items()}
    grads["weight_ih"][rows] += extra.T @ cache.x
    grads["weight_hh"][rows] += extra.T @ cache.h_prev
    grads["bias_ih"][rows] += extra.sum(axis=0)
    grads["bias_hh"][rows] += extra.sum(axis=0)
    return dx + extra @ cache.weight_ih[rows], dh_prev + extra @ cache.weight_hh[rows], dc_prev, grads


def bptt_backward_drop_dc(dout, cache, dh_T, dc_T):
    """Backpropagation through time that forgets to carry dc_prev back (the step math is the reference's)."""
    B, T, H = dout.shape
    dh, dc = dh_T, dc_T
    dx = np.empty((B, T, cache[0].x.shape[1]))
    grads = {"weight_ih": np.zeros_like(cache[0].weight_ih), "weight_hh": np.zeros_like(cache[0].weight_hh),
             "bias_ih": np.zeros(4 * H), "bias_hh": np.zeros(4 * H)}  # fmt: skip
    for t in reversed(range(T)):
        dx[:, t], dh, dc_prev, step_grads = reference.lstm_step_backward(dh + dout[:, t], dc, cache[t])
        dc = np.zeros((B, H))  # the mistake: dc_prev is not carried back to step t - 1
        for name in PARAM_NAMES:
            grads[name] += step_grads[name]
    return dx, dh, dc_prev, grads


# ----------------------------------------------------------------------------- not done yet


@pytest.mark.parametrize(
    "check, todo",
    [
        (exercises.check_step_forward, step_forward_todo),
        (exercises.check_step_backward, step_backward_todo),
        (exercises.check_bptt_backward, bptt_backward_todo),
    ],
    ids=["step_forward", "step_backward", "bptt_backward"],
)
def test_an_unsolved_exercise_prints_not_done_yet_and_returns_none(capsys, check, todo):
    assert check(todo) is None
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out  # one line, no table
    assert out.startswith(f"{check.__name__}: NOT DONE YET — {todo.__name__} raises NotImplementedError")
    assert out.rstrip().endswith("write its body, then run this check again")
    assert "PASS" not in out and "FAIL" not in out


def test_not_done_yet_repeats_the_exercise_message_and_names_any_callable(capsys):
    exercises.check_step_backward(step_backward_todo)
    assert capsys.readouterr().out.startswith(
        "check_step_backward: NOT DONE YET — step_backward_todo raises NotImplementedError "
        "(exercise 1: the backward of one step); write its body"
    )
    # a callable without a __name__ is "your function"
    exercises.check_bptt_backward(functools.partial(bptt_backward_todo))
    assert capsys.readouterr().out.startswith(
        "check_bptt_backward: NOT DONE YET — your function raises NotImplementedError; write its body"
    )


def test_not_done_yet_also_when_the_function_gives_up_part_way(capsys):
    # The step backward check calls the function once per gate as well: the first call that raises counts.
    calls = []

    def step_backward_half_done(dh, dc, cache):
        calls.append(1)
        if len(calls) > 1:
            raise NotImplementedError
        return reference.lstm_step_backward(dh, dc, cache)

    assert exercises.check_step_backward(step_backward_half_done) is None
    assert "NOT DONE YET" in capsys.readouterr().out and len(calls) == 2


def test_other_errors_of_the_function_propagate_unchanged():
    def step_backward_typo(dh, dc, cache):
        return dh @ cache.weight_ih  # (2, 4) @ (16, 3)

    with pytest.raises(ValueError, match="matmul: Input operand 1 has a mismatch"):
        exercises.check_step_backward(step_backward_typo)

    def raises_key_error(*args):
        raise KeyError("weight_ih")

    for check in (exercises.check_step_forward, exercises.check_step_backward, exercises.check_bptt_backward):
        with pytest.raises(KeyError, match="weight_ih"):
            check(raises_key_error)


def test_a_not_implemented_error_outside_the_function_is_not_taken_for_an_unsolved_exercise(monkeypatch):
    # Only the function under check may declare itself unfinished; the checker's own failures must surface.
    def broken(*args, **kwargs):
        raise NotImplementedError("a missing feature of the checker")

    monkeypatch.setattr(exercises.compare, "compare_gradients", broken)
    with pytest.raises(NotImplementedError, match="a missing feature of the checker"):
        exercises.check_step_backward(reference.lstm_step_backward)


def test_something_not_callable_is_refused_by_name():
    message = "check_step_backward: expected your function my_fn(dh, dc, cache) -> (dx, dh_prev, dc_prev, "
    with pytest.raises(TypeError, match=re.escape(message + "grads), got int")):
        exercises.check_step_backward(3)
    with pytest.raises(TypeError, match=r"check_step_forward: expected your function my_fn\(x, h_prev"):
        exercises.check_step_forward(None)
    with pytest.raises(TypeError, match=r"check_bptt_backward: expected your function my_fn\(dout, cache"):
        exercises.check_bptt_backward("lstm_backward")


# ----------------------------------------------------------------------------- PASS, FAIL and the tables


def gate_row(quantity: str, gate: str, part: str, result: str) -> str:
    """A regex for one row of the printed per-gate table (numbers in between left free)."""
    name = rf"{quantity}\s+" if quantity else r"\s*"
    return rf"^{name}{gate}\s+{re.escape(part)}\s.*\s{result}$"


def test_solved_exercises_print_pass_and_the_per_gate_table(capsys):
    report = exercises.check_step_backward(reference.lstm_step_backward)
    out = capsys.readouterr().out
    assert report.ok and out.startswith("check_step_backward: PASS\n")
    assert "every gradient agrees with autograd" in out
    # every parameter whole and per gate block (H = 4), the input terms per gate, c_prev once
    for quantity in PARAM_NAMES:
        assert re.search(rf"^{quantity}\s+all\s.*\spass$", out, re.M), quantity
    for k, gate in enumerate(("input", "forget", "candidate", "output")):
        rows = f"{4 * k}:{4 * k + 4}"
        assert len(re.findall(gate_row("", gate, f"rows {rows}", "pass"), out, re.M)) == 4, gate
        for weight in ("weight_ih", "weight_hh"):
            term = f"term da_{'ifgo'[k]} @ {weight}[{rows}]"
            assert re.search(gate_row("", gate, term, "pass"), out, re.M), term
    assert re.search(r"^c_prev\s+all\s.*\spass$", out, re.M)
    assert "FAIL" not in out

    report = exercises.check_bptt_backward(reference.lstm_backward, T=3)
    out = capsys.readouterr().out
    assert report.ok and report.first_bad_step is None and out.startswith("check_bptt_backward: PASS\n")
    assert re.search(gate_row("", "forget", "rows 4:8", "pass"), out, re.M)
    for t in range(3):
        assert re.search(rf"^t={t}\s+all \d+ gradients agree", out, re.M)


def test_a_planted_mistake_prints_fail_and_the_gate_in_the_table(capsys):
    report = exercises.check_step_backward(step_backward_forget_uses_c)
    out = capsys.readouterr().out
    assert out.startswith("check_step_backward: FAIL\n") and report.wrong_gates == ["forget"]
    assert "dL/df = dc * c_prev (the previous cell state, not the new c)" in out
    assert len(re.findall(gate_row("", "forget", "rows 4:8", "FAIL"), out, re.M)) == 4
    for k, gate in ((0, "input"), (2, "candidate"), (3, "output")):
        assert len(re.findall(gate_row("", gate, f"rows {4 * k}:{4 * k + 4}", "pass"), out, re.M)) == 4
    assert re.search(r"^c_prev\s+all\s.*\spass$", out, re.M)  # dc_prev = dc * f does not involve the mistake

    report = exercises.check_bptt_backward(bptt_backward_drop_dc, T=3)
    out = capsys.readouterr().out
    assert out.startswith("check_bptt_backward: FAIL\n") and report.first_bad_step == 1
    assert "the error starts at step 1" in out
    assert re.search(r"^t=0\s+all \d+ gradients agree\s.*pass$", out, re.M)
    assert re.search(r"^t=1\s+weight_ih\s.*\sFAIL$", out, re.M)


# -- notebook 06: one step of a layer of memory blocks ---
def _block_step(a, s_prev, forget, S=2, wrong=None):
    """Written from the equations of notebook 06, independently of lstm.online."""
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    H = s_prev.shape[1]
    n = H // S
    gates = sig(a[:, : a.shape[1] - H])
    i = np.repeat(gates[:, :n], S, axis=1)
    f = np.repeat(gates[:, n : 2 * n], S, axis=1) if forget else 1.0
    o = np.repeat(gates[:, -n:], S, axis=1)
    g = 4 * sig(a[:, -H:]) - 2
    s = f * (s_prev + i * g) if wrong == "forget on the new state" else f * s_prev + i * g
    y_c = o * (2 * sig(s_prev if wrong == "old state" else s) - 1)
    return s, y_c


def test_block_step_check_passes_a_right_step(capsys):
    assert exercises.check_block_step(_block_step).ok
    out = capsys.readouterr().out
    assert out.startswith("check_block_step: PASS\n")


@pytest.mark.parametrize("wrong, says", [
    ("forget on the new state", "forget=True: s wrong"),
    ("old state", "forget=False: y_c wrong"),
])
def test_block_step_check_names_what_departs(capsys, wrong, says):
    assert not exercises.check_block_step(functools.partial(_block_step, wrong=wrong))
    out = capsys.readouterr().out
    assert out.startswith("check_block_step: FAIL\n") and says in out
    if wrong == "forget on the new state":  # without forget gates the two agree
        assert "forget=False: s wrong" not in out


def test_block_step_check_says_not_done_yet(capsys):
    def my_block_step(a, s_prev, forget):
        raise NotImplementedError

    assert exercises.check_block_step(my_block_step) is None
    assert capsys.readouterr().out.startswith("check_block_step: NOT DONE YET")


# -- verdict: the autograder's one line ---


def test_verdict_is_one_line_and_prints_nothing(capsys):
    assert exercises.verdict(exercises.check_step_backward, reference.lstm_step_backward, seed=3) == "PASS"
    assert exercises.verdict(exercises.check_step_backward, step_backward_todo) == "NOT DONE YET"
    found = exercises.verdict(exercises.check_step_backward, step_backward_forget_uses_c, hidden_size=3)
    assert found.startswith("FAIL: forget gate: weight_ih rows 3:6") and "\n" not in found
    assert "dL/df = dc * c_prev" in found
    assert capsys.readouterr().out == ""


# -- truncated backpropagation through time ---


def truncated_by_hand(dout, cache, k):
    """Truncated BPTT written out: each chunk [s, s + k) is a full BPTT of its own from zero upstream
    state, with reference.lstm_backward."""
    B, T, H = dout.shape
    zero = np.zeros((B, H))
    dx = np.empty((B, T, cache[0].x.shape[1]))
    grads = dict.fromkeys(PARAM_NAMES, 0.0)
    for s in range(0, T, k):
        chunk_dx, _, _, chunk = reference.lstm_backward(dout[:, s : s + k], cache[s : s + k], zero, zero)
        dx[:, s : s + k] = chunk_dx
        for name in grads:
            grads[name] = grads[name] + chunk[name]
    return dx, grads


def full_bptt(dout, cache, k):
    B, _, H = dout.shape
    dx, _, _, grads = reference.lstm_backward(dout, cache, np.zeros((B, H)), np.zeros((B, H)))
    return dx, grads


@pytest.mark.parametrize(("k", "T"), [(3, 7), (1, 4), (2, 6), (5, 5)])
def test_truncated_bptt_by_hand_passes(k, T, capsys):
    report = exercises.check_truncated_backward(truncated_by_hand, k=k, T=T, seed=k + T)
    assert report.ok, str(report)
    assert capsys.readouterr().out.startswith("check_truncated_backward: PASS\n")


def test_full_bptt_passes_only_when_the_chunk_holds_the_whole_sequence(capsys):
    assert exercises.check_truncated_backward(full_bptt, k=7, T=7).ok
    report = exercises.check_truncated_backward(full_bptt, k=3, T=7)
    assert not report.ok
    # dout at steps 3..6 leaks back across the boundaries at 3 and 6 into every earlier step
    assert report.verdict[0].startswith("dx departs at steps [0, 1, 2, 3, 4, 5]: the chunks are steps "
                                        "[0, 3), [3, 6), [6, 7)")  # fmt: skip
    assert "check_truncated_backward: FAIL" in capsys.readouterr().out


def test_truncated_bptt_not_done_and_wrong_shapes():
    def todo(dout, cache, k):
        raise NotImplementedError

    assert exercises.verdict(exercises.check_truncated_backward, todo) == "NOT DONE YET"
    expected = r"^check_truncated_backward: your dx has shape \(2, 3\) but expected \(2, 7, 3\) "
    with pytest.raises(ValueError, match=expected + r"\(batch, time, input_size\)$"):
        exercises.check_truncated_backward(lambda dout, cache, k: (np.zeros((2, 3)), {}))
    with pytest.raises(ValueError, match=r"^check_truncated_backward: k must be a positive integer, got 0$"):
        exercises.check_truncated_backward(truncated_by_hand, k=0)


# -- the gradient along the cell state ---


def cell_path_by_products(f, dc_last):
    """dL/dc_t = dc_last * f[t+1] * ... * f[T-1], the forget gates of the later steps."""
    later = np.cumprod(f[:0:-1], axis=0)[::-1]  # later[t] = f[t+1] * ... * f[T-1]
    return np.concatenate([later * dc_last, dc_last[None]])


def cell_path_off_by_one(f, dc_last):
    dc = np.empty_like(f)
    dc[-1] = dc_last
    for t in range(len(f) - 1, 0, -1):
        dc[t - 1] = dc[t] * f[t - 1]  # the earlier step's gate: wrong
    return dc


@pytest.mark.parametrize(("T", "seed"), [(1, 0), (6, 1), (25, 2)])
def test_the_cell_path_as_a_product_of_forget_gates_passes(T, seed):
    found = exercises.verdict(exercises.check_cell_path_gradient, cell_path_by_products, T=T, seed=seed)
    assert found == "PASS"


def test_the_cell_path_with_the_wrong_steps_gates_fails_at_every_earlier_step():
    found = exercises.verdict(exercises.check_cell_path_gradient, cell_path_off_by_one, T=5)
    assert found.startswith("FAIL: dL/dc_t departs at steps [0, 1, 2, 3] (the last step is 4)")


def test_the_cell_path_not_done_yet(capsys):
    def todo(f, dc_last):
        raise NotImplementedError("the cell path")

    assert exercises.check_cell_path_gradient(todo) is None
    assert capsys.readouterr().out.startswith("check_cell_path_gradient: NOT DONE YET — todo raises "
                                              "NotImplementedError (the cell path)")  # fmt: skip


def test_collapsed_shows_the_verdict_and_folds_the_tables():
    report = exercises.check_step_backward(step_backward_forget_uses_c)
    page = exercises.collapsed(report)._repr_html_()
    before, folded = page.split("<details>")
    assert "<p>FAIL</p>" in before and "forget gate: weight_ih rows 4:8" in before
    assert folded.startswith(f"<summary>the full report ({len(report.rows)} rows): click to open</summary>")
    assert "<table" in folded and "<table" not in before
    assert str(exercises.collapsed(report)) == "\n".join(["FAIL", *report.verdict])
    assert "<p>FAIL</p>" not in exercises.Collapsed(report, head=False)._repr_html_()
