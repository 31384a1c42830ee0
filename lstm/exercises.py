"""Coursework checks for a notebook: write the LSTM's step forward, step backward and backward through time
in NumPy, then check each against the project's `lstm.LSTMCell` and minigrad's autograd.

    from lstm import exercises
    exercises.check_step_forward(my_step_forward)      # (x, h_prev, c_prev, params) -> (h, c, cache)
    exercises.check_step_backward(my_step_backward)    # (dh, dc, cache) -> (dx, dh_prev, dc_prev, grads)
    exercises.check_bptt_backward(my_backward)         # (dout, cache, dh_T, dc_T) -> (dx, dh0, dc0, grads)
    exercises.check_truncated_backward(my_truncated)   # (dout, cache, k) -> (dx, grads), cut every k steps
    exercises.check_cell_path_gradient(my_cell_path)   # (f, dc_last) -> dc, along the cell state alone

Each prints PASS or FAIL, the verdict (which gate, and what to check) and the per-gate table (in Jupyter,
folded under one click), and returns the report (`lstm.compare.Report`), which a notebook also shows as a
colour-coded table; `collapsed(report)` shows it short, the tables folded. The signatures
and the cache are those of `lstm.reference`; the backward checks hand your function the cache of
`lstm.reference.lstm_step_forward` (or `lstm_forward`), so each exercise can be checked on its own.

An exercise not written yet is a function whose body is ``raise NotImplementedError``: its check prints
``<check>: NOT DONE YET — ...`` and returns None instead of raising, so a notebook with unsolved exercises
still runs from top to bottom. Any other exception your function raises propagates as it is.

An autograder asks for the conclusion alone, without the printing:

    exercises.verdict(exercises.check_step_backward, my_step_backward, seed=3)   # 'PASS', 'NOT DONE YET'
                                                                                 # or 'FAIL: forget gate: ...'
"""

from __future__ import annotations

import contextlib
import functools
import html
import io
import sys
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

import minigrad as mg
from lstm import compare, reference
from lstm.compare import problems
from lstm.lstm_cell import LSTMCell
from lstm.reference import GATE_ORDER, PARAM_NAMES, gate_slices

__all__ = ["check_block_step", "check_bptt_backward", "check_cell_path_gradient", "check_step_backward",
           "check_step_forward", "check_truncated_backward", "collapsed", "verdict"]

ACTIVATION = {"i": "sigmoid", "f": "sigmoid", "g": "tanh", "o": "sigmoid"}


class _NotDone(Exception):
    """Raised in place of the NotImplementedError of the function under check (and only of it), so that a
    NotImplementedError from anywhere else is not mistaken for an unsolved exercise."""


def _guarded(who: str, my_fn: Callable, signature: str) -> Callable:
    compare._check_callable(who, my_fn, signature)  # before wrapping, which would make anything callable

    @functools.wraps(my_fn)
    def call(*args):
        try:
            return my_fn(*args)
        except NotImplementedError as e:
            raise _NotDone(str(e)) from e

    return call


def _run(who: str, my_fn: Callable, signature: str, check: Callable) -> compare.Report | None:
    """check(guarded my_fn) -> a report, announced; None, after one line saying so, when my_fn raises
    NotImplementedError (an exercise not done yet)."""
    try:
        report = check(_guarded(who, my_fn, signature))
    except _NotDone as e:
        name = getattr(my_fn, "__name__", "your function")
        said = f" ({e})" if str(e) else ""
        print(f"{who}: NOT DONE YET — {name} raises NotImplementedError{said}; write its body, then run this "
              "check again")  # fmt: skip
        return None
    return _announce(who, report)


def _announce(who: str, report: compare.Report) -> compare.Report:
    """PASS or FAIL and the verdict, then the tables: folded, one click away, in Jupyter; printed
    elsewhere."""
    print(f"{who}: {'PASS' if report.ok else 'FAIL'}")
    if _in_jupyter():
        print(*report.verdict, sep="\n")
        from IPython.display import display

        display(Collapsed(report, head=False))
    else:
        print(report)
    return report


def _in_jupyter() -> bool:
    """Whether this runs in a Jupyter kernel (which has imported IPython already)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


class Collapsed:
    """A report shown short: PASS or FAIL and its verdict (``head``), then its full tables folded in an
    HTML ``<details>`` that opens on a click. ``str()`` is the short text."""

    def __init__(self, report: compare.Report, head: bool = True):
        self.report, self.head = report, head

    def _short(self) -> list[str]:
        return ["PASS" if self.report.ok else "FAIL", *self.report.verdict] if self.head else []

    def _repr_html_(self) -> str:
        lines = [f"<p>{html.escape(line)}</p>" for line in self._short()]
        rows = len(self.report.rows)
        lines.append(f"<details><summary>the full report ({rows} rows): click to open</summary>"
                     f"{self.report._repr_html_()}</details>")  # fmt: skip
        return "\n".join(lines)

    def __str__(self) -> str:
        return "\n".join(self._short() or ["PASS" if self.report.ok else "FAIL"])

    __repr__ = __str__


def collapsed(report: compare.Report) -> Collapsed:
    """``report`` shown short in Jupyter: PASS or FAIL, the verdict, and the tables folded (`Collapsed`)."""
    return Collapsed(report)


def _gate_values(cache) -> dict | None:
    """The cache's i, f, g, o, read as attributes (a StepCache, any named tuple) or dict keys; else None."""
    if isinstance(cache, dict):
        found = {k: cache.get(k) for k in GATE_ORDER}
    else:
        found = {k: getattr(cache, k, None) for k in GATE_ORDER}
    return None if any(v is None for v in found.values()) else found


def check_step_forward(my_fn: Callable, input_size: int = 3, hidden_size: int = 4, batch_size: int = 2,
                       seed: int = 0) -> compare.Report | None:
    """Check ``my_fn(x, h_prev, c_prev, params) -> (h, c, cache)``, the signature of
    `lstm.reference.lstm_step_forward`, against one step of `lstm.LSTMCell` with the same weights.

    Compares h and c (B, H), and the gates i, f, g, o (B, H) when the cache has them as attributes or
    dict keys. Prints PASS or FAIL and the table; returns the report (None, after printing NOT DONE YET,
    when my_fn raises NotImplementedError).
    """
    who = "check_step_forward"
    compare._check_sizes(who, input_size=input_size, hidden_size=hidden_size, batch_size=batch_size)
    return _run(who, my_fn, "my_fn(x, h_prev, c_prev, params) -> (h, c, cache)",
                lambda fn: _forward_report(who, fn, input_size, hidden_size, batch_size, seed))  # fmt: skip


def _forward_report(who: str, my_fn: Callable, input_size: int, hidden_size: int, batch_size: int,
                    seed: int) -> compare.Report:  # fmt: skip
    problem = compare.step_problem(input_size, hidden_size, batch_size, seed)
    p = compare._copy(problem)
    result = my_fn(p["x"], p["h_prev"], p["c_prev"], p["params"])
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise ValueError(f"{who}: your function must return (h, c, cache), got {type(result).__name__}"
                         + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""))
    h, c, cache = result

    cell = LSTMCell.from_parameters(problems._gate_params(problem["params"]))
    step = cell.step(problem["x"], (problem["h_prev"], problem["c_prev"]))
    tol = compare._tolerances(np.dtype(np.float64), None, None)
    shape = (batch_size, hidden_size)
    rows = []
    for name, value in (("h", h), ("c", c)):
        rows.append(compare._compare(name, _checked(who, name, value, shape), getattr(step, name).data, tol))
    gates = _gate_values(cache)
    if gates is not None:
        for gate, (k, s) in zip(compare.GATES, gate_slices(hidden_size).items()):
            part = f"{ACTIVATION[k]}(a[:, {s.start}:{s.stop}])"
            value = _checked(who, f"cache.{k}", gates[k], shape)
            rows.append(compare._compare(k, value, getattr(step, k).data, tol, gate=gate, part=part))

    verdict = _forward_verdict(rows, hidden_size)
    if gates is None:
        verdict.append("your cache has no i, f, g, o (as attributes or dict keys), so the gates were not "
                       "compared; return them in the cache to see which gate is off")  # fmt: skip
    title = (f"Your LSTM step forward against lstm.LSTMCell (B={batch_size}, I={input_size}, "
             f"H={hidden_size}, float64, seed {seed})")  # fmt: skip
    legend = [f"max abs err, max rel err: your value against LSTMCell's; pass when abs <= {tol.atol:g} or "
              f"rel <= {tol.rtol:g}"]  # fmt: skip
    return compare.Report(title, rows, verdict, legend)


def _checked(who: str, name: str, value, shape: tuple, layout: str = "(batch, hidden_size)") -> np.ndarray:
    a = np.asarray(value)
    if a.shape != shape:
        raise ValueError(f"{who}: your {name} has shape {a.shape} but expected {shape} {layout}")
    return a


def _forward_verdict(rows: list[compare.Row], H: int) -> list[str]:
    if all(r.ok for r in rows):
        worst = max(r.max_rel for r in rows)
        return [f"every value agrees with lstm.LSTMCell (largest relative error {worst:.1e})"]
    lines = []
    for r in rows:
        if r.ok or r.gate is None:
            continue
        k = r.quantity
        s = gate_slices(H)[k]
        rows_k = f"[{s.start}:{s.stop}]"
        lines.append(
            f"{r.gate} gate: {k} wrong (max rel error {r.max_rel:.2g}); {k} = {ACTIVATION[k]}(x @ "
            f"weight_ih{rows_k}.T + h_prev @ weight_hh{rows_k}.T + bias_ih{rows_k} + bias_hh{rows_k}): "
            f"the 4H axis holds the gates in the order i, f, g, o"
        )
    by_name = {r.quantity: r for r in rows}
    if lines and not (by_name["c"].ok and by_name["h"].ok):
        lines.append("c and h depart too, as they follow from the gates: fix the gates first")
    if not lines:  # the gates agree (or were not compared): the fault is in c or h themselves
        if not by_name["c"].ok:
            lines.append(f"c: wrong (max rel error {by_name['c'].max_rel:.2g}); c = f * c_prev + i * g")
        if not by_name["h"].ok:
            also = " (c departs too: fix c first)" if not by_name["c"].ok else ""
            lines.append(f"h: wrong (max rel error {by_name['h'].max_rel:.2g}); h = o * tanh(c), with the "
                         f"new c{also}")  # fmt: skip
    return lines


def check_step_backward(my_fn: Callable, **options) -> compare.GradientReport | None:
    """Check ``my_fn(dh, dc, cache) -> (dx, dh_prev, dc_prev, grads)``, the signature of
    `lstm.reference.lstm_step_backward`, with `lstm.compare.compare_gradients` (options go to it).
    Prints PASS or FAIL, the verdict and the per-gate table; returns the report (None, after printing
    NOT DONE YET, when my_fn raises NotImplementedError)."""
    return _run("check_step_backward", my_fn, "my_fn(dh, dc, cache) -> (dx, dh_prev, dc_prev, grads)",
                lambda fn: compare.compare_gradients(fn, **options))  # fmt: skip


def check_bptt_backward(my_fn: Callable, **options) -> compare.GradientReport | None:
    """Check ``my_fn(dout, cache, dh_T, dc_T) -> (dx, dh0, dc0, grads)``, the signature of
    `lstm.reference.lstm_backward`, with `lstm.compare.compare_sequence_gradients` (options go to it).
    Prints PASS or FAIL, the verdict and the per-gate, per-step tables; returns the report (None, after
    printing NOT DONE YET, when my_fn raises NotImplementedError)."""
    return _run("check_bptt_backward", my_fn, "my_fn(dout, cache, dh_T, dc_T) -> (dx, dh0, dc0, grads)",
                lambda fn: compare.compare_sequence_gradients(fn, **options))  # fmt: skip


class BlockStepReport(NamedTuple):
    """What `check_block_step` found: ``ok``, and one line per departure (true when ok)."""

    ok: bool
    lines: list

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return "\n".join("  " + line for line in self.lines)


def check_block_step(my_fn: Callable, n_blocks: int = 2, cells_per_block: int = 2, batch_size: int = 3,
                     seed: int = 0) -> BlockStepReport | None:
    """Check ``my_fn(a, s_prev, forget) -> (s, y_c)``: one step of a layer of memory blocks (notebook 06),
    against `lstm.online.Network` with and without forget gates.

    ``a`` (B, G * n_blocks + H) holds the net inputs: the blocks' input gates, their forget gates (only when
    ``forget``), their output gates, then the H = n_blocks * cells_per_block cells' inputs; ``s_prev`` (B, H)
    is the previous cell state. Prints PASS or FAIL (with which output departs and the equation to check)
    and returns the report, true when it passed; None, after printing NOT DONE YET, when my_fn raises
    NotImplementedError.
    """
    who = "check_block_step"
    sizes = {"n_blocks": n_blocks, "cells_per_block": cells_per_block, "batch_size": batch_size}
    for name, size in sizes.items():
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"{who}: {name} must be a positive integer, got {size!r}")
    return _run(who, my_fn, "my_fn(a, s_prev, forget) -> (s, y_c)",
                lambda fn: _block_report(who, fn, n_blocks, cells_per_block, batch_size, seed))


def _block_report(who: str, fn: Callable, n_blocks: int, cells_per_block: int, batch_size: int,
                  seed: int) -> BlockStepReport:
    from lstm.online import Network, Shape

    rng = np.random.default_rng(seed)
    H = n_blocks * cells_per_block
    problems = []
    for forget in (False, True):
        n_a = (3 if forget else 2) * n_blocks + H
        a, s_prev = rng.normal(0, 2, (batch_size, n_a)), rng.normal(0, 2, (batch_size, H))
        # a network whose gates and cells read a directly: net input = x @ identity, no bias
        shape = Shape(n_in=n_a, n_blocks=n_blocks, cells=cells_per_block, n_out=1, forget=forget,
                      gate_recurrence=False)
        rows = np.hstack([np.eye(n_a), np.zeros((n_a, shape.Z - n_a))])
        weights = {"W_y": np.zeros((1, shape.Zy))}
        start = 0
        for gate in (*shape.gates, "g"):
            n = H if gate == "g" else n_blocks
            weights[f"W_{gate}"] = rows[start : start + n]
            start += n
        zeros = np.zeros((batch_size, H))
        out = Network(shape, weights).forward(a[:, None], (s_prev, zeros, zeros[:, :0]))
        o = np.repeat(out["o"][:, 0], cells_per_block, axis=1)
        expected = {"s": out["s"][:, 0], "y_c": o * out["hs"][:, 0]}
        result = fn(a.copy(), s_prev.copy(), forget)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise ValueError(f"{who}: your function must return (s, y_c), got {type(result).__name__}")
        for name, value in zip(("s", "y_c"), result):
            value = np.asarray(value, dtype=float)
            if value.shape != (batch_size, H):
                problems.append(f"forget={forget}: {name} has shape {value.shape}, "
                                f"expected {(batch_size, H)}")
            elif not np.allclose(value, expected[name], rtol=1e-10, atol=1e-12):
                err = np.max(np.abs(value - expected[name]))
                problems.append(f"forget={forget}: {name} wrong (max abs error {err:.2g}); "
                                + _BLOCK_HINT[name])
    agree = (f"s and y_c agree with lstm.online for {n_blocks} blocks of {cells_per_block} cells, without "
             "and with forget gates")
    return BlockStepReport(not problems, problems or [agree])


_BLOCK_HINT = {
    "s": "s = f * s_prev + i * g, with each block's gate repeated for its cells (f = 1 without forget "
         "gates) and g = 4 sigmoid(a_g) - 2",
    "y_c": "y_c = o * (2 sigmoid(s) - 1), with the new s and each block's output gate repeated for its cells",
}


def verdict(check: Callable, my_fn: Callable, **options) -> str:
    """What ``check(my_fn, **options)`` concludes, in one line, printing nothing: ``'PASS'``,
    ``'NOT DONE YET'`` (my_fn raises NotImplementedError), or ``'FAIL: '`` and the check's verdict (the
    gate, or the time step, to look at). The autograder's tests assert it is ``'PASS'``, so a failing
    test names what the check names."""
    with contextlib.redirect_stdout(io.StringIO()):
        report = check(my_fn, **options)
    if report is None:
        return "NOT DONE YET"
    return "PASS" if report.ok else "FAIL: " + " ".join(report.verdict)


def check_truncated_backward(my_fn: Callable, k: int = 3, T: int = 7, input_size: int = 3,
                             hidden_size: int = 4, batch_size: int = 2,
                             seed: int = 0) -> compare.Report | None:  # fmt: skip
    """Check ``my_fn(dout, cache, k) -> (dx, grads)``: backpropagation through time truncated every ``k``
    steps. The sequence is cut into chunks of steps [0, k), [k, 2k), ...; each chunk starts from the state
    the previous one left, detached, so no gradient crosses a chunk boundary. ``dout`` (B, T, H) is the
    loss's gradient w.r.t. every output h_t, ``cache`` the per-step caches of `lstm.reference.lstm_forward`;
    return dx (B, T, I) and grads (keyed like the params, summed over all steps).

    Compared with autograd through `lstm.LSTMCell` run chunk by chunk with the state detached between
    chunks. Prints PASS or FAIL and the table; returns the report (None, after printing NOT DONE YET, when
    my_fn raises NotImplementedError)."""
    who = "check_truncated_backward"
    compare._check_sizes(who, k=k, T=T, input_size=input_size, hidden_size=hidden_size, batch_size=batch_size)
    return _run(who, my_fn, "my_fn(dout, cache, k) -> (dx, grads)",
                lambda fn: _truncated_report(who, fn, k, T, input_size, hidden_size, batch_size,
                                             seed))  # fmt: skip


def _truncated_autograd(problem: dict, k: int) -> dict:
    """Autograd's dx and parameter gradients of sum_t <dout_t, h_t>, the state detached every k steps."""
    params = {n: mg.nn.Parameter(problem["params"][n].copy(), name=n) for n in PARAM_NAMES}
    cell = LSTMCell.from_parameters(params)
    x = mg.tensor(problem["x"], requires_grad=True, name="x")
    h, c = mg.tensor(problem["h0"]), mg.tensor(problem["c0"])
    loss = 0.0
    for t in range(x.shape[1]):
        if t and t % k == 0:
            h, c = h.detach(), c.detach()
        step = cell.step(x[:, t], (h, c))
        h, c = step.h, step.c
        loss = loss + (h * problem["dout"][:, t]).sum()
    got = mg.grad(loss, [params[n] for n in PARAM_NAMES] + [x])
    return {**{n: g.data for n, g in zip(PARAM_NAMES, got)}, "x": got[-1].data}


def _truncated_report(who: str, my_fn: Callable, k: int, T: int, I: int, H: int, B: int,
                      seed: int) -> compare.Report:  # fmt: skip
    problem = compare.sequence_problem(T, I, H, B, seed)
    p = compare._copy(problem)
    _, _, _, cache = reference.lstm_forward(p["x"], p["h0"], p["c0"], p["params"])
    result = my_fn(p["dout"], cache, k)
    if not isinstance(result, (tuple, list)) or len(result) != 2 or not isinstance(result[1], dict):
        raise ValueError(f"{who}: your function must return (dx, grads), grads a dict keyed like the params, "
                         f"got {type(result).__name__}")  # fmt: skip
    dx, grads = result
    dx = _checked(who, "dx", dx, (B, T, I), "(batch, time, input_size)")
    for name, shape in compare._param_shapes(I, H).items():
        if name not in grads:
            raise ValueError(f"{who}: your grads have no {name!r}; expected the keys {list(PARAM_NAMES)}")
        grads[name] = _checked(who, f"grads[{name!r}]", grads[name], shape, compare._PARAM_LAYOUTS[name])
    auto = _truncated_autograd(problem, k)
    tol = compare._tolerances(np.dtype(np.float64), None, None)
    rows = [compare._compare(f"x[:, {t}]", dx[:, t], auto["x"][:, t], tol) for t in range(T)]
    rows += compare._param_rows(grads, auto, None, tol, H)
    bad_steps = [t for t, r in enumerate(rows[:T]) if not r.ok]
    verdict = []
    if bad_steps:
        chunks = ", ".join(f"[{s}, {min(s + k, T)})" for s in range(0, T, k))
        verdict.append(f"dx departs at steps {bad_steps}: the chunks are steps {chunks}; going back, delta_h "
                       "and delta_c start from zero at each chunk's last step (the state entering the next "
                       "chunk was detached), and dout[:, t] reaches every step t")  # fmt: skip
    if not all(r.ok for r in rows[T:]):
        verdict.append("the parameter gradients depart: add every step's gradients, in every chunk")
    if not verdict:
        verdict.append(f"every gradient agrees with autograd (largest relative error "
                       f"{max(r.max_rel for r in rows):.1e})")  # fmt: skip
    title = f"Your truncated BPTT against autograd (k={k}, T={T}, B={B}, I={I}, H={H}, float64, seed {seed})"
    legend = [f"max abs err, max rel err: yours against autograd's; pass when abs <= {tol.atol:g} or "
              f"rel <= {tol.rtol:g}"]  # fmt: skip
    return compare.Report(title, rows, verdict, legend)


def check_cell_path_gradient(my_fn: Callable, T: int = 6, hidden_size: int = 4, batch_size: int = 2,
                             seed: int = 0) -> compare.Report | None:  # fmt: skip
    """Check ``my_fn(f, dc_last) -> dc``: the gradient along the cell state alone. With the gates held
    fixed, c_t = f_t * c_{t-1} + i_t * g_t; given every step's forget gate ``f`` (T, B, H) and ``dc_last``
    (B, H), the loss's gradient w.r.t. the last cell state c_{T-1}, return ``dc`` (T, B, H): dL/dc_t for
    every step t.

    Compared with autograd of that recurrence, written with minigrad's ops. Prints PASS or FAIL and the
    table; returns the report (None, after printing NOT DONE YET, when my_fn raises NotImplementedError)."""
    who = "check_cell_path_gradient"
    compare._check_sizes(who, T=T, hidden_size=hidden_size, batch_size=batch_size)
    return _run(who, my_fn, "my_fn(f, dc_last) -> dc",
                lambda fn: _cell_path_report(who, fn, T, hidden_size, batch_size, seed))  # fmt: skip


def _cell_path_report(who: str, my_fn: Callable, T: int, H: int, B: int, seed: int) -> compare.Report:
    rng = np.random.default_rng(seed)
    f = rng.uniform(0.2, 1.0, (T, B, H))  # forget gates spread over (0, 1): each step's factor differs
    ig = rng.standard_normal((T, B, H))  # i_t * g_t
    dc_last = rng.standard_normal((B, H))
    dc = _checked(who, "dc", my_fn(f.copy(), dc_last.copy()), (T, B, H), "(time, batch, hidden_size)")

    c = mg.tensor(rng.standard_normal((B, H)), requires_grad=True)
    cs = []
    for t in range(T):
        c = mg.tensor(f[t]) * c + mg.tensor(ig[t])
        cs.append(c)
    auto = mg.grad([cs[-1]], cs, grad_outputs=[dc_last])
    tol = compare._tolerances(np.dtype(np.float64), None, None)
    rows = [compare._compare(f"dc[{t}]", dc[t], auto[t].data, tol) for t in range(T)]
    bad = [t for t, r in enumerate(rows) if not r.ok]
    if bad:
        verdict = [f"dL/dc_t departs at steps {bad} (the last step is {T - 1}); going back one step "
                   "multiplies by that step's forget gate: dL/dc_(t-1) = dL/dc_t * f[t], and "
                   "dL/dc_(T-1) = dc_last"]
    else:
        verdict = [f"every dL/dc_t agrees with autograd (largest relative error "
                   f"{max(r.max_rel for r in rows):.1e})"]  # fmt: skip
    title = f"Your gradient along the cell state against autograd (T={T}, B={B}, H={H}, seed {seed})"
    legend = [f"max abs err, max rel err: yours against autograd's; pass when abs <= {tol.atol:g} or "
              f"rel <= {tol.rtol:g}"]  # fmt: skip
    return compare.Report(title, rows, verdict, legend)
