"""Coursework checks for a notebook: write the LSTM's step forward, step backward and backward through time
in NumPy, then check each against the project's `lstm.LSTMCell` and minigrad's autograd.

    from lstm import exercises
    exercises.check_step_forward(my_step_forward)      # (x, h_prev, c_prev, params) -> (h, c, cache)
    exercises.check_step_backward(my_step_backward)    # (dh, dc, cache) -> (dx, dh_prev, dc_prev, grads)
    exercises.check_bptt_backward(my_backward)         # (dout, cache, dh_T, dc_T) -> (dx, dh0, dc0, grads)

Each prints PASS or FAIL, the verdict (which gate, and what to check) and the per-gate table, and returns
the report (`lstm.compare.Report`), which a notebook also shows as a colour-coded table. The signatures
and the cache are those of `lstm.reference`; the backward checks hand your function the cache of
`lstm.reference.lstm_step_forward` (or `lstm_forward`), so each exercise can be checked on its own.

An exercise not written yet is a function whose body is ``raise NotImplementedError``: its check prints
``<check>: NOT DONE YET — ...`` and returns None instead of raising, so a notebook with unsolved exercises
still runs from top to bottom. Any other exception your function raises propagates as it is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from lstm import compare
from lstm.compare import problems
from lstm.lstm_cell import LSTMCell
from lstm.reference import GATE_ORDER, gate_slices

__all__ = ["check_block_step", "check_bptt_backward", "check_step_backward", "check_step_forward"]

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
    print(f"{who}: {'PASS' if report.ok else 'FAIL'}")
    print(report)
    return report


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


def _checked(who: str, name: str, value, shape: tuple) -> np.ndarray:
    a = np.asarray(value)
    if a.shape != shape:
        raise ValueError(f"{who}: your {name} has shape {a.shape} but expected {shape} (batch, hidden_size)")
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
