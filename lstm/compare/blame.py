"""The verdict lines of `lstm.compare`: which gate, cell state or time step a departing gradient is blamed
on, with a hint from the gate's equation."""

from __future__ import annotations

from lstm.compare.report import GATES, LETTER, Row
from lstm.reference import PARAM_NAMES

CELL_STATE = "cell state"

# What each gate's derivative is, from first principles: shown when a gate's rows depart.

GATE_HINTS = {
    "input": "check the derivative of i: i multiplies g in c = f * c_prev + i * g, so dL/di = dc * g, "
    "and i = sigmoid(a_i) gives da_i = dL/di * i * (1 - i)",
    "forget": "check the derivative of f: it multiplies c_prev in c = f * c_prev + i * g, so "
    "dL/df = dc * c_prev (the previous cell state, not the new c), and f = sigmoid(a_f) gives "
    "da_f = dL/df * f * (1 - f)",
    "candidate": "check the derivative of g: g multiplies i in c = f * c_prev + i * g, so dL/dg = dc * i, "
    "and g = tanh(a_g) gives da_g = dL/dg * (1 - g**2)",
    "output": "check the derivative of o: o multiplies tanh(c) in h = o * tanh(c), so dL/do = dh * tanh(c), "
    "and o = sigmoid(a_o) gives da_o = dL/do * o * (1 - o)",
}

DC_HINT = (
    "the gradient reaching c is the sum of two paths: dc = dc_next + dh * o * (1 - tanh(c)**2) "
    "(c_next's dc_prev, or dc_T, plus the path through h = o * tanh(c)); it feeds i, f, g and c_prev, not o"
)


def _gate_line(gate: str, failing: list[Row], prefix: str = "", hints: bool = True) -> str:
    """'forget gate: weight_ih rows 4:8, ... wrong (max rel error 0.93); check the derivative of f: ...'"""
    worst = max(r.max_rel for r in failing)
    where = ", ".join(f"{r.quantity} {r.part}" for r in failing)
    line = f"{prefix}{gate} gate: {where} wrong (max rel error {worst:.2g})"
    if not hints:
        return line
    params = {r.quantity for r in failing if r.quantity in PARAM_NAMES}
    if params == set(PARAM_NAMES) or not params:
        # Every parameter block departs (or only the input terms do): da, the gradient at the gate's
        # pre-activation, is what is wrong, and every block and term is computed from it.
        return f"{line}; {GATE_HINTS[gate]}"
    # Only some blocks depart: da itself is right (the others agree), the step after it is not.
    k, rows = LETTER[gate], failing[0].part
    hints_by_param = {
        "weight_ih": f"weight_ih {rows} are da_{k}.T @ x",
        "weight_hh": f"weight_hh {rows} are da_{k}.T @ h_prev",
        "bias_ih": f"the {rows} of both biases are da_{k}.sum(axis=0)",
        "bias_hh": f"the {rows} of both biases are da_{k}.sum(axis=0)",
    }
    found = list(dict.fromkeys(hints_by_param[q] for q in PARAM_NAMES if q in params))
    return f"{line}; the other blocks agree, so da_{k} is right: " + "; ".join(found)

def _gate_lines(rows: list[Row], prefix: str = "", hints: bool = True) -> list[str]:
    """One line per departing gate; when i, f and g depart but o agrees, first the line blaming dc (and
    then no per-gate derivative hints, which would send the reader to the wrong place)."""
    wrong = [g for g in GATES if any(r.gate == g and not r.ok for r in rows)]
    lines = []
    if set(wrong) == {"input", "forget", "candidate"}:
        lines.append(
            f"{prefix}{CELL_STATE}: the input, forget and candidate gates depart while the output gate "
            f"agrees, so their common input dc is probably wrong: {DC_HINT}"
        )
        hints = False
    for gate in wrong:
        lines.append(_gate_line(gate, [r for r in rows if r.gate == gate and not r.ok], prefix, hints))
    return lines

def _other_lines(rows: list[Row], gated: set[str], state: str, prefix: str = "") -> list[str]:
    """Departing whole arrays that no gate row explains (inputs without a breakdown, the cell state)."""
    lines = []
    for r in rows:
        if r.ok or r.gate is not None or r.quantity in gated:
            continue
        if r.quantity == state:
            lines.append(
                f"{prefix}{CELL_STATE}: d{state} wrong (max rel error {r.max_rel:.2g}); {state} reaches "
                f"the loss only through c = f * {state} + i * g, so d{state} = dc * f"
            )
        elif r.quantity not in PARAM_NAMES and not r.quantity.startswith("x[:"):
            # (a sequence's dx per step is summed up in the verdict's first line instead)
            text = f"{prefix}{r.quantity}: wrong (max rel error {r.max_rel:.2g})"
            lines.append(f"{text}; {r.note}" if r.note else text)
    return lines

def _autograd_lines(rows: list[Row]) -> list[str]:
    bad = [r for r in rows if r.numeric_ok is False]
    if not bad:
        return []
    where = ", ".join(f"{r.quantity} {r.part}".strip() for r in bad[:6])
    return [
        f"WARNING: autograd and central differences disagree ({where}): this comparison cannot be "
        "trusted, and the fault is in minigrad or lstm.LSTMCell, not in your code; please report it"
    ]

def _step_verdict(rows: list[Row], state: str, numeric: bool) -> list[str]:
    if all(r.ok for r in rows):
        worst = max(r.max_rel for r in rows)
        also = _numeric_note(rows, numeric)
        return [f"every gradient agrees with autograd (largest relative error {worst:.1e}){also}"]
    gated = {r.quantity for r in rows if r.gate in GATES and not r.ok}
    return _gate_lines(rows) + _other_lines(rows, gated, state)

def _numeric_note(rows: list[Row], numeric: bool) -> str:
    if numeric and all(r.numeric_ok is not False for r in rows):
        return ", and autograd agrees with central differences"
    return ""

def _first_bad_step(rows: list[Row]) -> int | None:
    return min((r.step for r in rows if r.step is not None and not r.ok), default=None)

def _sequence_verdict(rows: list[Row], numeric: bool) -> list[str]:
    first = _first_bad_step(rows)
    full = [r for r in rows if r.step is None]
    if first is None:
        if all(r.ok for r in full):
            worst = max(r.max_rel for r in rows)
            also = _numeric_note(rows, numeric)
            return [f"every gradient agrees with autograd, for the full sequence and for every probe step "
                    f"(largest relative error {worst:.1e}){also}"]  # fmt: skip
        head = ("every probe (dout at one step, dh_T = dc_T = 0) agrees, but the full problem, which also "
                "has dh_T and dc_T, departs: check that they start the backward loop (dh = dh_T + "
                "dout[:, T-1] and dc = dc_T at the last step)")  # fmt: skip
        gated = {r.quantity for r in full if r.gate in GATES and not r.ok}
        return [head] + _gate_lines(full) + _other_lines(full, gated, "c0")

    probe = [r for r in rows if r.step == first]
    gated = {r.quantity for r in probe if r.gate in GATES and not r.ok}
    bad_steps = [s for s in range(first + 1) if any(r.quantity == f"x[:, {s}]" and not r.ok for r in probe)]
    prefix = f"probe t={first}: "
    if first == 0:
        head = ("the error is in one step's own math: with dout non-zero only at step 0 (a single step of "
                "backward) the gradients already depart")  # fmt: skip
        return [head] + _gate_lines(probe, prefix) + _other_lines(probe, gated, "c0")
    shown = ", ".join(map(str, bad_steps)) or "none"
    head = (f"the error starts at step {first}: every probe before it agrees; with dout non-zero only at "
            f"step {first}, dx[:, s] departs at steps s = {shown}")  # fmt: skip
    if first in bad_steps:
        return [head] + _gate_lines(probe, prefix) + _other_lines(probe, gated, "c0")
    wrong = {r.gate for r in probe if r.gate in GATES and not r.ok}
    carried = ("the dc carried back is wrong: the output gate, which sees only dh, agrees"
               if "output" not in wrong and wrong else
               "the dh carried back (or both dh and dc) is wrong: every gate departs"
               if wrong == set(GATES) else "")  # fmt: skip
    why = (f"step {first}'s own dx agrees, so the fault is in what is carried from step {first} back to "
           f"step {first - 1}: the dh_prev and dc_prev one step returns must become the dh (added to "
           f"dout[:, {first - 1}]) and the dc of the step before")  # fmt: skip
    lines = [head, why + (f"; {carried}" if carried else "")]
    return lines + _gate_lines(probe, prefix, hints=False) + _other_lines(probe, gated, "c0", prefix)
