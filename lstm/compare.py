"""Which gate of a hand-derived LSTM backward is wrong: compare it with minigrad's autograd, gate by gate.

A student writes the backward of one step with the signature of `lstm.reference.lstm_step_backward`, or
of a whole sequence (backpropagation through time) with that of `lstm.reference.lstm_backward`.
`compare_gradients` and `compare_sequence_gradients` run it on a small random problem (fixed seed) and
hold every gradient it returns against two other opinions:

- autograd: the same weights in the project's `lstm.LSTMCell` (one step) or `lstm.LSTM` (a sequence),
  differentiated by minigrad;
- central differences, in float64, of the reference forward the student's function is the backward of.
  They vouch for autograd; when the two disagree the report says the check itself cannot be trusted.

Grading, per entry, with u the student's value and a autograd's (the project's gradient checkers grade
the same way)::

    abs = |u - a|      rel = |u - a| / max(|u|, |a|, tiny)      agree when abs <= atol or rel <= rtol

The reported max rel error leaves out the entries where both values are within atol of 0.

Per gate. The 4H axis of weight_ih, weight_hh, bias_ih and bias_hh is four blocks of H rows, one per gate
(i, f, g, o): a parameter's error is reported block by block, which pinpoints a wrong gate directly.
The inputs mix the gates: dx = sum over gates k of da_k @ weight_ih[rows k], where da_k (B, H) is the
gradient at gate k's pre-activation. Any backward computed that way is linear in cache.weight_ih, so the
student's function is called once more per gate with a cache whose weight_ih and weight_hh keep only
gate k's rows (the others zero; the gate values in the cache are unchanged, so da is too): what it
returns as dx and dh_prev is its gate-k term. Autograd's term is its da_k (the gradient at the gate's
pre-activation, asked of `mg.grad`) times the same rows. If the student's terms do not add up to their
full dx, their dx is not of that form and the breakdown is reported as unavailable. c_prev reaches a
step only through the cell state c = f * c_prev + i * g, through no gate's weights: it has one row.

Per time step (sequences). A BPTT backward returns only totals, so per-step information comes from
probes: for each t the student's backward runs on the same cache with dout non-zero only at step t (and
dh_T = dc_T = 0), the loss <dout[:, t], h_t>. Its gradients reach steps 0..t: probe 0 tests one step's
own math, probe t >= 1 also what is carried from step t back to the steps before it. The first probe
that departs from autograd is where the error starts (`first_bad_step`); within it, the rows dx[:, s]
show which steps receive a wrong gradient. dx is not split per gate in sequences (masking weight rows
would change what flows between steps); the parameters are, in every probe.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import minigrad as mg
from lstm import reference
from lstm.layer import LSTM
from lstm.lstm_cell import LSTMCell
from lstm.reference import PARAM_NAMES, gate_slices
from minigrad.nn import Parameter
from minigrad.ops import Sigmoid, Tanh

__all__ = [
    "GATES", "GATE_SCOPES", "GradientReport", "Report", "Row", "compare_gradients",
    "compare_sequence_gradients", "compare_with_reference", "disagreement_colours", "draw_disagreement",
    "sequence_problem", "step_problem",
]  # fmt: skip

GATES = ("input", "forget", "candidate", "output")  # in the 4H axis' order i, f, g, o
LETTER = dict(zip(GATES, reference.GATE_ORDER))
GATE_SCOPES = {"input": "input_gate", "forget": "forget_gate", "candidate": "cell_candidate",
               "output": "output_gate"}  # fmt: skip
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
_TINY = np.finfo(np.float64).tiny
_PASS, _FAIL = "#e8f5e9", "#ffebee"  # the background of agreeing and departing rows in HTML


# -------------------------------------------------------------------------------- grading


@dataclass(frozen=True)
class Row:
    """One compared array, or one gate's part of it.

    quantity: what is compared ('weight_ih', 'x', 'x[:, 2]', 'c_prev', or a forward value such as 'h').
    gate: None for the whole array, else one of GATES.
    part: where the gate's part is ('rows 4:8', 'term da_f @ weight_ih[4:8]'), or '' for a whole array.
    max_abs, max_rel, ok: the student's value against autograd's (see the module docstring).
    numeric_rel, numeric_ok: autograd against central differences, None where not computed.
    step: the probe's time step in a sequence report (dout non-zero only there), None for the full problem.
    note: why something could not be compared.
    """

    quantity: str
    gate: str | None
    part: str
    max_abs: float
    max_rel: float
    ok: bool
    numeric_rel: float | None = None
    numeric_ok: bool | None = None
    step: int | None = None
    note: str = ""

    @property
    def label(self) -> str:
        return "all" if self.gate is None else self.gate


def _grade(user: np.ndarray, auto: np.ndarray, atol: float, rtol: float) -> tuple[float, float, bool]:
    """(max abs error, max rel error, agree) of two arrays of the same shape, graded in float64."""
    u = np.asarray(user, dtype=np.float64)
    a = np.asarray(auto, dtype=np.float64)
    if u.size == 0:
        return 0.0, 0.0, True
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(u - a)
        rel = diff / np.maximum(np.maximum(np.abs(u), np.abs(a)), _TINY)
        finite = np.isfinite(u) & np.isfinite(a)
        agree = finite & ((diff <= atol) | (rel <= rtol))
    max_abs = float(np.max(np.where(finite, diff, np.inf)))
    # Where both values are within atol of 0 their ratio says nothing, so those entries are left out.
    sizeable = np.maximum(np.abs(u), np.abs(a)) > atol
    max_rel = float(np.max(np.where(finite, np.where(sizeable, rel, 0.0), np.inf)))
    return max_abs, max_rel, bool(agree.all())


@dataclass(frozen=True)
class _Tolerances:
    atol: float
    rtol: float
    num_atol: float
    num_rtol: float


def _tolerances(dtype: np.dtype, atol: float | None, rtol: float | None) -> _Tolerances:
    # Student and autograd both compute in dtype: a correct backward agrees to round-off of that dtype.
    low = dtype != np.float64
    atol = (1e-5 if low else 1e-8) if atol is None else float(atol)
    rtol = (1e-4 if low else 1e-6) if rtol is None else float(rtol)
    # Central differences (eps 1e-6, float64) are good to about 1e-9: never ask more of them than that.
    return _Tolerances(atol, rtol, max(atol, 1e-6), max(rtol, 1e-5))


def _compare(quantity, user, auto, tol: _Tolerances, numeric=None, gate=None, part="", step=None) -> Row:
    max_abs, max_rel, ok = _grade(user, auto, tol.atol, tol.rtol)
    numeric_rel = numeric_ok = None
    if numeric is not None:
        _, numeric_rel, numeric_ok = _grade(auto, numeric, tol.num_atol, tol.num_rtol)
    return Row(quantity, gate, part, max_abs, max_rel, ok, numeric_rel, numeric_ok, step)


def _rows_label(s: slice) -> str:
    return f"rows {s.start}:{s.stop}"


def _param_rows(user: dict, auto: dict, numeric: dict | None, tol: _Tolerances, H: int, step=None):
    """For each parameter: the whole array, then each gate's block of rows."""
    rows = []
    for name in PARAM_NAMES:
        num = None if numeric is None else numeric[name]
        rows.append(_compare(name, user[name], auto[name], tol, num, step=step))
        for gate, s in zip(GATES, gate_slices(H).values()):
            num_k = None if num is None else num[s]
            rows.append(_compare(name, user[name][s], auto[name][s], tol, num_k, gate, _rows_label(s), step))
    return rows


# -------------------------------------------------------------------------------- the reports


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.1e}"


def _numeric_cell(row: Row) -> str:
    if row.numeric_ok is None:
        return "-"
    return f"{_fmt(row.numeric_rel)} {'ok' if row.numeric_ok else 'DISAGREE'}"


def _result(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def _text_table(header: list[str], body: list[list[str]]) -> str:
    widths = [max([len(h)] + [len(r[k]) for r in body]) for k, h in enumerate(header)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *body])


def _html_table(header: list[str], body: list[tuple[list[str], bool]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    lines = [f'<table class="lstm-compare"><thead><tr>{head}</tr></thead><tbody>']
    for cells, ok in body:
        tds = "".join(f"<td>{html.escape(c)}</td>" for c in cells)
        lines.append(f'<tr style="background:{_PASS if ok else _FAIL}">{tds}</tr>')
    lines.append("</tbody></table>")
    return "\n".join(lines)


_NUMERIC = "autograd vs numeric"
_MAIN_HEADER = ["quantity", "gate", "part", "max abs err", "max rel err", _NUMERIC, "result"]
_STEP_HEADER = ["probe", "quantity", "max abs err", "max rel err", "wrong gates", "result"]


class Report:
    """What a comparison found: ``rows`` (`Row`), a ``verdict`` (lines of text), ``ok``, ``wrong_gates``.

    ``str(report)`` is an aligned text table; in Jupyter the report shows as an HTML table whose rows are
    green where the values agree and red where they depart.
    """

    def __init__(self, title: str, rows: list[Row], verdict: list[str], legend: list[str]):
        self.title = title
        self.rows = rows
        self.verdict = verdict
        self.legend = legend

    @property
    def ok(self) -> bool:
        """Every row agrees, and autograd agrees with central differences wherever they were compared."""
        return all(r.ok and r.numeric_ok is not False for r in self.rows)

    @property
    def autograd_ok(self) -> bool:
        """Autograd agrees with central differences on every row where both were computed."""
        return all(r.numeric_ok is not False for r in self.rows)

    def _blamed_rows(self) -> list[Row]:
        """The rows the blame is read from: all of them (a sequence report narrows this to one probe)."""
        return self.rows

    @property
    def wrong_gates(self) -> list[str]:
        """The gates (names from GATES, in gate order) with at least one departing row; in a sequence
        report, at least one departing row of the first probe that departs (if any does), since later
        probes carry the error on into every gate."""
        bad = {r.gate for r in self._blamed_rows() if not r.ok}
        return [g for g in GATES if g in bad]

    @property
    def failures(self) -> list[Row]:
        return [r for r in self.rows if not r.ok or r.numeric_ok is False]

    # -- rendering ---
    def _main_table(self) -> list[tuple[list[str], bool]]:
        """The cells of the full problem's rows, each with whether the row agrees."""
        rows = [r for r in self.rows if r.step is None]
        return [(self._main_cells(r, rows[k - 1] if k else None), r.ok and r.numeric_ok is not False)
                for k, r in enumerate(rows)]  # fmt: skip

    def _has_numeric(self) -> bool:
        return any(r.numeric_ok is not None for r in self.rows)

    def _main_header(self) -> list[str]:
        return _MAIN_HEADER if self._has_numeric() else [h for h in _MAIN_HEADER if h != _NUMERIC]

    def _main_cells(self, r: Row, previous: Row | None) -> list[str]:
        # A gate's row under its whole array's row leaves the name out, so the table reads in blocks.
        quantity = "" if previous is not None and previous.quantity == r.quantity else r.quantity
        cells = [quantity, r.label, r.part or r.note, _fmt(r.max_abs), _fmt(r.max_rel)]
        if self._has_numeric():
            cells.append(_numeric_cell(r))
        return cells + [_result(r.ok and r.numeric_ok is not False)]

    def _step_table(self) -> list[list[str]]:
        """The probes' rows, collapsed: one line for a probe where all agree; else its whole arrays, each
        with its departing gates."""
        table = []
        for t in sorted({r.step for r in self.rows if r.step is not None}):
            rows = [r for r in self.rows if r.step == t]
            whole = [r for r in rows if r.gate is None]
            if all(r.ok for r in rows):
                worst = max(r.max_rel for r in rows)
                table.append([f"t={t}", f"all {len(whole)} gradients agree", "", _fmt(worst), "-", "pass"])
                continue
            for k, r in enumerate(whole):
                gates = [x.gate for x in rows if x.quantity == r.quantity and x.gate and not x.ok]
                table.append([f"t={t}" if k == 0 else "", r.quantity, _fmt(r.max_abs), _fmt(r.max_rel),
                              ", ".join(gates) or "-", _result(r.ok)])  # fmt: skip
        return table

    def __str__(self) -> str:
        parts = [self.title, "", "PASS" if self.ok else "FAIL", *self.verdict, ""]
        parts.append(_text_table(self._main_header(), [cells for cells, _ in self._main_table()]))
        steps = self._step_table()
        if steps:
            parts += ["", _STEP_INTRO, _text_table(_STEP_HEADER, steps)]
        parts += ["", *self.legend]
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        colour = _PASS if self.ok else _FAIL
        out = [f"<p><b>{html.escape(self.title)}</b></p>",
               f'<p style="background:{colour}"><b>{"PASS" if self.ok else "FAIL"}</b></p>']  # fmt: skip
        out += [f"<p>{html.escape(line)}</p>" for line in self.verdict]
        out.append(_html_table(self._main_header(), self._main_table()))
        steps = self._step_table()
        if steps:
            out.append(f"<p>{html.escape(_STEP_INTRO)}</p>")
            out.append(_html_table(_STEP_HEADER, [(cells, cells[-1] == "pass") for cells in steps]))
        out += [f"<p><small>{html.escape(line)}</small></p>" for line in self.legend]
        return "\n".join(out)

    def __repr__(self) -> str:
        state = "ok" if self.ok else f"wrong gates {self.wrong_gates}"
        return f"<{type(self).__name__} {self.title!r}: {state}>"


_STEP_INTRO = (
    "Per time step: probe t runs the backward with dout non-zero only at step t (dh_T = dc_T = 0), so its "
    "gradients reach steps 0..t; the first probe that departs is where the error starts."
)


class GradientReport(Report):
    """A `Report` of gradients, plus what `draw_disagreement` needs.

    first_bad_step: in a sequence report, the first probe step whose gradients depart (None if none do,
    and always None for one step).
    problem: the random problem the gradients were computed on (params, inputs, upstream gradients).
    """

    def __init__(self, title, rows, verdict, legend, problem: dict, first_bad_step: int | None = None):
        super().__init__(title, rows, verdict, legend)
        self.problem = problem
        self.first_bad_step = first_bad_step

    def _blamed_rows(self) -> list[Row]:
        if self.first_bad_step is None:
            return self.rows
        return [r for r in self.rows if r.step == self.first_bad_step]

    @property
    def wrong_scopes(self) -> list[str]:
        """The LSTMCell scopes where the student's gradient departs: the wrong gates' scopes, and
        ``cell_state`` when the gradient of the previous cell state departs."""
        scopes = [GATE_SCOPES[g] for g in self.wrong_gates]
        if any(not r.ok and r.quantity in ("c_prev", "c0") for r in self._blamed_rows()):
            scopes.append("cell_state")
        return scopes


def _legend(tol: _Tolerances, numeric: bool) -> list[str]:
    lines = [
        "max abs err, max rel err: your gradient against autograd; rel = |u - a| / max(|u|, |a|), over "
        f"the entries not both within atol of 0; pass when abs <= atol or rel <= rtol (atol={tol.atol:g}, "
        f"rtol={tol.rtol:g})",
    ]
    if numeric:
        lines.append(
            "autograd vs numeric: autograd against central differences of the reference forward in float64 "
            f"(max rel err; ok when abs <= {tol.num_atol:g} or rel <= {tol.num_rtol:g})"
        )
    return lines


# -------------------------------------------------------------------------------- verdicts


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


# -------------------------------------------------------------------------------- problems


def _check_sizes(who: str, **sizes) -> None:
    for name, n in sizes.items():
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{who}: {name} must be a positive integer, got {n!r}")


def _param_shapes(I: int, H: int) -> dict[str, tuple]:
    return {"weight_ih": (4 * H, I), "weight_hh": (4 * H, H), "bias_ih": (4 * H,), "bias_hh": (4 * H,)}


def _random_params(rng: np.random.Generator, I: int, H: int) -> dict[str, np.ndarray]:
    # Larger than init_params' weights, so the gates spread over (0, 1) instead of sitting near 0.5: the
    # derivative factors s (1 - s) and 1 - t^2 then vary from entry to entry, and a wrong one cannot pass
    # by coincidence.
    shapes = _param_shapes(I, H)
    return {name: rng.normal(0.0, 0.6, shapes[name]) for name in PARAM_NAMES}


def _cast(arrays: dict, dtype) -> dict:
    return {k: (v.astype(dtype) if isinstance(v, np.ndarray) else _cast(v, dtype)) for k, v in arrays.items()}


def _copy(arrays: dict) -> dict:
    return {k: (v.copy() if isinstance(v, np.ndarray) else _copy(v)) for k, v in arrays.items()}


def step_problem(input_size: int = 3, hidden_size: int = 4, batch_size: int = 2, seed: int = 0,
                 dtype=np.float64) -> dict:
    """A random one-step problem: params, x (B, I), h_prev, c_prev, and the upstream dh, dc (B, H).

    Values are N(0, 1), weights N(0, 0.6^2); drawn in float64 from ``seed``, then cast to dtype.
    """
    rng = np.random.default_rng(seed)
    B, I, H = batch_size, input_size, hidden_size
    problem = {"params": _random_params(rng, I, H), "x": rng.standard_normal((B, I))}
    for name in ("h_prev", "c_prev", "dh", "dc"):
        problem[name] = rng.standard_normal((B, H))
    return _cast(problem, dtype)


def sequence_problem(T: int = 5, input_size: int = 3, hidden_size: int = 4, batch_size: int = 2,
                     seed: int = 0, dtype=np.float64) -> dict:
    """A random sequence problem: params, x (B, T, I), h0, c0 (B, H), and the upstream dout (B, T, H),
    dh_T, dc_T (B, H); drawn like `step_problem`."""
    rng = np.random.default_rng(seed)
    B, I, H = batch_size, input_size, hidden_size
    problem = {"params": _random_params(rng, I, H), "x": rng.standard_normal((B, T, I))}
    problem["h0"], problem["c0"] = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    problem["dout"] = rng.standard_normal((B, T, H))
    problem["dh_T"], problem["dc_T"] = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    return _cast(problem, dtype)


def _central_differences(loss: Callable[[], float], arrays: dict[str, np.ndarray], eps: float = 1e-6) -> dict:
    """d loss / d every entry of every array (float64 arrays, changed in place and restored)."""
    grads = {}
    for name, a in arrays.items():
        g = np.empty_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + eps
            up = loss()
            a[idx] = old - eps
            down = loss()
            a[idx] = old
            g[idx] = (up - down) / (2 * eps)
        grads[name] = g
    return grads


# -------------------------------------------------------------------------------- one step


def _check_callable(who: str, fn, signature: str) -> None:
    if not callable(fn):
        raise TypeError(f"{who}: expected your function {signature}, got {type(fn).__name__}")


def _check_returned(who: str, result, shapes: dict[str, tuple], layouts: dict[str, str]):
    """The student's (dx, dh, dc, grads) as float arrays of the expected shapes, or a clear error."""
    names = list(shapes)[:3]
    if not isinstance(result, (tuple, list)) or len(result) != 4:
        length = f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""
        got = f"a {type(result).__name__}{length}"
        raise ValueError(f"{who}: your function must return ({', '.join(names)}, grads), got {got}")
    *inputs, grads = result
    if not isinstance(grads, dict):
        raise ValueError(f"{who}: the fourth value returned must be the dict of parameter gradients, "
                         f"got {type(grads).__name__}")  # fmt: skip
    missing = [n for n in PARAM_NAMES if n not in grads]
    if missing:
        raise ValueError(f"{who}: the grads your function returned miss {', '.join(missing)}; "
                         f"expected keys {', '.join(PARAM_NAMES)}")  # fmt: skip
    out = dict(zip(names, inputs))
    out.update({n: grads[n] for n in PARAM_NAMES})
    for name, value in out.items():
        a = np.asarray(value)
        if a.shape != shapes[name]:
            raise ValueError(
                f"{who}: your function returned d{name} of shape {a.shape} but expected {shapes[name]} "
                f"{layouts[name]}"
            )
        if a.dtype.kind not in "fiu":
            raise TypeError(f"{who}: your function returned d{name} of dtype {a.dtype}; expected floats")
        out[name] = a
    return out


def _gate_params(params: dict) -> dict[str, Parameter]:
    return {n: Parameter(params[n].copy(), name=n) for n in PARAM_NAMES}


def _preactivation(gate_value: mg.Tensor, gate: str) -> mg.Tensor:
    """The input of the sigmoid or tanh that made a gate's value: the gate's pre-activation a_k."""
    node = gate_value.grad_fn
    if not isinstance(node, (Sigmoid, Tanh)):
        raise RuntimeError(
            f"compare: expected the {gate} gate of LSTMCell to end in a sigmoid or tanh, got "
            f"{None if node is None else node.op}; the per-gate breakdown of dx needs that"
        )
    return gate_value.parents[0]


def _autograd_step(problem: dict) -> tuple[dict, dict]:
    """Autograd's gradients of <dh, h> + <dc, c> for one LSTMCell step, and da_k for each gate."""
    params = _gate_params(problem["params"])
    cell = LSTMCell.from_parameters(params)
    x = mg.tensor(problem["x"], requires_grad=True, name="x")
    h = mg.tensor(problem["h_prev"], requires_grad=True, name="h_prev")
    c = mg.tensor(problem["c_prev"], requires_grad=True, name="c_prev")
    step = cell.step(x, (h, c))
    pre = [_preactivation(v, g) for v, g in zip((step.i, step.f, step.g, step.o), GATES)]
    leaves = [params[n] for n in PARAM_NAMES] + [x, h, c]
    got = mg.grad([step.h, step.c], leaves + pre, grad_outputs=[problem["dh"], problem["dc"]])
    names = list(PARAM_NAMES) + ["x", "h_prev", "c_prev"]
    grads = {n: g.data for n, g in zip(names, got)}
    da = {gate: g.data for gate, g in zip(GATES, got[len(leaves):])}
    return grads, da


def _numeric_step(problem: dict) -> dict:
    """Central differences (float64) of <dh, h> + <dc, c> through `reference.lstm_step_forward`."""
    p = _cast(_copy(problem), np.float64)
    params = p["params"]

    def loss() -> float:
        h, c, _ = reference.lstm_step_forward(p["x"], p["h_prev"], p["c_prev"], params)
        return float(np.vdot(h, p["dh"]) + np.vdot(c, p["dc"]))

    return _central_differences(loss, {**params, "x": p["x"], "h_prev": p["h_prev"], "c_prev": p["c_prev"]})


def _masked_cache(cache: reference.StepCache, rows: slice) -> reference.StepCache:
    """The cache with weight_ih and weight_hh zero outside one gate's rows."""
    w_ih, w_hh = np.zeros_like(cache.weight_ih), np.zeros_like(cache.weight_hh)
    w_ih[rows], w_hh[rows] = cache.weight_ih[rows], cache.weight_hh[rows]
    return cache._replace(weight_ih=w_ih, weight_hh=w_hh)


def _input_rows(name: str, weight_name: str, weight: np.ndarray, user: np.ndarray, terms: dict,
                auto: np.ndarray, da: dict, numeric, tol: _Tolerances, H: int) -> list[Row]:
    """The whole input gradient, then each gate's term of it (see the module docstring)."""
    whole = _compare(name, user, auto, tol, numeric)
    _, _, adds_up = _grade(sum(terms.values()), user, tol.atol, tol.rtol)
    if not adds_up:
        # Not a sum of per-gate terms: say so once rather than blame a gate.
        note = f"not split per gate: your d{name} is not a sum of da_k @ {weight_name}[rows of k]"
        return [dataclasses.replace(whole, note=note)]
    rows = [whole]
    for gate, s in zip(GATES, gate_slices(H).values()):
        part = f"term da_{LETTER[gate]} @ {weight_name}[{s.start}:{s.stop}]"
        rows.append(_compare(name, terms[gate], da[gate] @ weight[s], tol, None, gate, part))
    return rows


_PARAM_LAYOUTS = {"weight_ih": "(4*hidden_size, input_size)", "weight_hh": "(4*hidden_size, hidden_size)",
                  "bias_ih": "(4*hidden_size,)", "bias_hh": "(4*hidden_size,)"}  # fmt: skip


def _check_dtype(who: str, dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{who}: dtype must be a floating dtype, got {dtype}")
    return dtype


def compare_gradients(
    step_backward: Callable,
    input_size: int = 3,
    hidden_size: int = 4,
    batch_size: int = 2,
    seed: int = 0,
    dtype=np.float64,
    check_numeric: bool = True,
    atol: float | None = None,
    rtol: float | None = None,
) -> GradientReport:
    """Compare a hand-written backward of one LSTM step with autograd, gate by gate.

    Args:
        step_backward: ``step_backward(dh, dc, cache) -> (dx, dh_prev, dc_prev, grads)``, the signature of
            `lstm.reference.lstm_step_backward`: dh, dc (B, H) the upstream gradients, cache what
            `lstm.reference.lstm_step_forward` returned; dx (B, I), dh_prev, dc_prev (B, H), grads a dict
            with weight_ih (4H, I), weight_hh (4H, H), bias_ih, bias_hh (4H,).
        input_size, hidden_size, batch_size: I, H, B of the random problem (see `step_problem`).
        seed: the problem's seed; the same seed gives the same problem and the same report.
        dtype: the dtype of the problem, the cache and autograd.
        check_numeric: also compare autograd with central differences in float64 (the third opinion).
        atol, rtol: the tolerances (default 1e-8 and 1e-6 for float64, 1e-5 and 1e-4 below it).
    Returns:
        a `GradientReport`: per parameter and per input the max abs and rel error, whole and per gate
        (parameters by rows, x and h_prev by each gate's term), ``wrong_gates`` and a verdict with hints.
    Raises:
        ValueError / TypeError naming the returned value when the function returns the wrong structure,
        shape or dtype. An exception inside your function propagates as it is.
    """
    who = "compare_gradients"
    _check_callable(who, step_backward, "step_backward(dh, dc, cache) -> (dx, dh_prev, dc_prev, grads)")
    _check_sizes(who, input_size=input_size, hidden_size=hidden_size, batch_size=batch_size)
    dtype = _check_dtype(who, dtype)
    tol = _tolerances(dtype, atol, rtol)
    B, I, H = batch_size, input_size, hidden_size
    problem = step_problem(I, H, B, seed, dtype)
    shapes = {"x": (B, I), "h_prev": (B, H), "c_prev": (B, H), **_param_shapes(I, H)}
    layouts = {"x": "(batch, input_size)", "h_prev": "(batch, hidden_size)", "c_prev": "(batch, hidden_size)",
               **_PARAM_LAYOUTS}  # fmt: skip

    def run(rows: slice | None = None) -> dict:
        # A fresh forward for every call: the student's function gets arrays nobody else holds.
        p = _copy(problem)
        _, _, cache = reference.lstm_step_forward(p["x"], p["h_prev"], p["c_prev"], p["params"])
        if rows is not None:
            cache = _masked_cache(cache, rows)
        return _check_returned(who, step_backward(p["dh"], p["dc"], cache), shapes, layouts)

    user = run()
    terms = {gate: run(s) for gate, s in zip(GATES, gate_slices(H).values())}
    auto, da = _autograd_step(problem)
    numeric = _numeric_step(problem) if check_numeric else None
    num = (lambda name: None) if numeric is None else numeric.get

    rows = _param_rows(user, auto, numeric, tol, H)
    for name, weight_name in (("x", "weight_ih"), ("h_prev", "weight_hh")):
        weight = problem["params"][weight_name]
        gate_terms = {gate: terms[gate][name] for gate in GATES}
        rows += _input_rows(
            name, weight_name, weight, user[name], gate_terms, auto[name], da, num(name), tol, H
        )
    rows.append(_compare("c_prev", user["c_prev"], auto["c_prev"], tol, num("c_prev")))

    title = f"Your LSTM step backward against autograd (B={B}, I={I}, H={H}, {dtype}, seed {seed})"
    verdict = _autograd_lines(rows) + _step_verdict(rows, "c_prev", check_numeric)
    return GradientReport(title, rows, verdict, _legend(tol, check_numeric), problem)


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


# -------------------------------------------------------------------------------- a sequence


def _autograd_sequence(problem: dict, probes: list[tuple]) -> tuple[list[dict], dict]:
    """Autograd's gradients of <dout, out> + <dh_T, h_T> + <dc_T, c_T> through one `lstm.LSTM` layer, for
    each probe (dout, dh_T, dc_T); and the layer's forward values (out, h_T, c_T, and the gates i, f, g, o
    stacked over time, each (B, T, H))."""
    x_data, params_data = problem["x"], problem["params"]
    _, _, I = x_data.shape
    H = params_data["weight_hh"].shape[1]
    layer = LSTM(I, H, return_sequences=True, return_state=True, dtype=x_data.dtype, rng=0)
    layer.load_state_dict({f"{n}_l0": params_data[n] for n in PARAM_NAMES})
    params = [getattr(layer, f"{n}_l0") for n in PARAM_NAMES]
    x = mg.tensor(x_data, requires_grad=True, name="x")
    h0 = mg.tensor(problem["h0"][None], requires_grad=True, name="h0")
    c0 = mg.tensor(problem["c0"][None], requires_grad=True, name="c0")
    out, h_n, c_n, gates = layer(x, state=(h0, c0), return_gates=True)
    names = list(PARAM_NAMES) + ["x", "h0", "c0"]
    results = []
    for dout, dh_T, dc_T in probes:
        got = mg.grad([out, h_n, c_n], params + [x, h0, c0], grad_outputs=[dout, dh_T[None], dc_T[None]],
                      retain_graph=True)  # fmt: skip
        grads = {n: g.data for n, g in zip(names, got)}
        grads["h0"], grads["c0"] = grads["h0"][0], grads["c0"][0]
        results.append(grads)
    forward = {"out": out.data, "h_T": h_n.data[0], "c_T": c_n.data[0]}
    for k in "ifgo":
        forward[k] = np.stack([getattr(step, k).data for step in gates[0]], axis=1)
    return results, forward


def _numeric_sequence(problem: dict) -> dict:
    """Central differences (float64) of <dout, out> + <dh_T, h_T> + <dc_T, c_T> through
    `reference.lstm_forward`."""
    p = _cast(_copy(problem), np.float64)
    params = p["params"]

    def loss() -> float:
        out, h_T, c_T, _ = reference.lstm_forward(p["x"], p["h0"], p["c0"], params)
        return float(np.vdot(out, p["dout"]) + np.vdot(h_T, p["dh_T"]) + np.vdot(c_T, p["dc_T"]))

    return _central_differences(loss, {**params, "x": p["x"], "h0": p["h0"], "c0": p["c0"]})


def _sequence_input_rows(user: dict, auto: dict, numeric: dict | None, tol: _Tolerances, step=None):
    """x whole (full problem only) and per time step, then h0 and c0."""
    num = (lambda name: None) if numeric is None else numeric.get
    rows = [] if step is not None else [_compare("x", user["x"], auto["x"], tol, num("x"))]
    for s in range(user["x"].shape[1]):
        num_s = None if numeric is None else numeric["x"][:, s]
        rows.append(_compare(f"x[:, {s}]", user["x"][:, s], auto["x"][:, s], tol, num_s, step=step))
    for name in ("h0", "c0"):
        rows.append(_compare(name, user[name], auto[name], tol, num(name), step=step))
    return rows


def _sequence_rows(who: str, backward: Callable, problem: dict, tol: _Tolerances, check_numeric: bool):
    """The rows of the full problem and of every probe, and autograd's forward values."""
    B, T, I = problem["x"].shape
    H = problem["params"]["weight_hh"].shape[1]
    shapes = {"x": (B, T, I), "h0": (B, H), "c0": (B, H), **_param_shapes(I, H)}
    layouts = {"x": "(batch, time, input_size)", "h0": "(batch, hidden_size)", "c0": "(batch, hidden_size)",
               **_PARAM_LAYOUTS}  # fmt: skip

    def run(dout, dh_T, dc_T) -> dict:
        p = _copy(problem)
        _, _, _, cache = reference.lstm_forward(p["x"], p["h0"], p["c0"], p["params"])
        result = backward(dout.copy(), cache, dh_T.copy(), dc_T.copy())
        return _check_returned(who, result, shapes, layouts)

    probes = [(problem["dout"], problem["dh_T"], problem["dc_T"])]
    no_state = np.zeros((B, H), problem["x"].dtype)
    for t in range(T):
        dout = np.zeros_like(problem["dout"])
        dout[:, t] = problem["dout"][:, t]
        probes.append((dout, no_state, no_state))
    autos, forward = _autograd_sequence(problem, probes)
    numeric = _numeric_sequence(problem) if check_numeric else None

    user = run(*probes[0])
    rows = _param_rows(user, autos[0], numeric, tol, H) + _sequence_input_rows(user, autos[0], numeric, tol)
    for t in range(T):
        user = run(*probes[t + 1])
        rows += _param_rows(user, autos[t + 1], None, tol, H, step=t)
        rows += _sequence_input_rows(user, autos[t + 1], None, tol, step=t)
    return rows, forward


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


def compare_sequence_gradients(
    backward: Callable,
    T: int = 5,
    input_size: int = 3,
    hidden_size: int = 4,
    batch_size: int = 2,
    seed: int = 0,
    dtype=np.float64,
    check_numeric: bool = True,
    atol: float | None = None,
    rtol: float | None = None,
) -> GradientReport:
    """Compare a hand-written backpropagation through time with autograd, per gate and per time step.

    Args:
        backward: ``backward(dout, cache, dh_T, dc_T) -> (dx, dh0, dc0, grads)``, the signature of
            `lstm.reference.lstm_backward`: dout (B, T, H), dh_T and dc_T (B, H) the upstream gradients
            (always given as arrays here), cache what `lstm.reference.lstm_forward` returned; dx (B, T, I),
            dh0, dc0 (B, H), grads keyed like params and summed over time.
        T: the sequence length; the other arguments as for `compare_gradients`.
    Returns:
        a `GradientReport` with the full problem's rows (step None; parameters per gate, x per time step)
        and each probe's rows (step t: dout non-zero only at step t, see the module docstring);
        ``first_bad_step`` is the first probe that departs.
    """
    who = "compare_sequence_gradients"
    _check_callable(who, backward, "backward(dout, cache, dh_T, dc_T) -> (dx, dh0, dc0, grads)")
    _check_sizes(who, T=T, input_size=input_size, hidden_size=hidden_size, batch_size=batch_size)
    dtype = _check_dtype(who, dtype)
    tol = _tolerances(dtype, atol, rtol)
    problem = sequence_problem(T, input_size, hidden_size, batch_size, seed, dtype)
    rows, _ = _sequence_rows(who, backward, problem, tol, check_numeric)
    title = (f"Your LSTM backward through time against autograd (B={batch_size}, T={T}, I={input_size}, "
             f"H={hidden_size}, {dtype}, seed {seed})")  # fmt: skip
    verdict = _autograd_lines(rows) + _sequence_verdict(rows, check_numeric)
    return GradientReport(title, rows, verdict, _legend(tol, check_numeric), problem, _first_bad_step(rows))


def compare_with_reference(seed: int = 0, sizes: tuple[int, int, int, int] = (2, 5, 3, 4),
                           tolerance: float = 1e-10) -> GradientReport:
    """minigrad's `lstm.LSTM` layer (autograd) against the hand-derived `lstm.reference`, in float64.

    On a random sequence of ``sizes`` = (B, T, I, H) from ``seed``: the forward values (out, h_T, c_T and
    every gate at every step) and every gradient (parameters per gate, x per step, h0, c0, for the full
    problem and per probe step), each of which must agree to ``tolerance`` (absolute or relative), and
    autograd against central differences. This is ``python -m lstm gradcheck``.
    """
    who = "compare_with_reference"
    if not isinstance(sizes, (tuple, list)) or len(sizes) != 4:
        raise ValueError(f"{who}: sizes must be (batch, time, input_size, hidden_size), got {sizes!r}")
    B, T, I, H = sizes
    _check_sizes(who, batch=B, time=T, input_size=I, hidden_size=H)
    tol = _Tolerances(tolerance, tolerance, 1e-6, 1e-5)
    problem = sequence_problem(T, I, H, B, seed, np.float64)
    rows, forward = _sequence_rows(who, reference.lstm_backward, problem, tol, True)

    p = _copy(problem)
    out, h_T, c_T, cache = reference.lstm_forward(p["x"], p["h0"], p["c0"], p["params"])
    values = {"out": out, "h_T": h_T, "c_T": c_T}
    forward_rows = [_compare(f"{name} (forward)", values[name], forward[name], tol) for name in values]
    for gate, k in LETTER.items():
        ref = np.stack([getattr(step, k) for step in cache], axis=1)
        part = f"{k}, every step"
        forward_rows.append(_compare("gates (forward)", ref, forward[k], tol, gate=gate, part=part))
    rows = forward_rows + rows

    title = (f"lstm.LSTM (autograd) against lstm.reference (hand-derived): B={B}, T={T}, I={I}, H={H}, "
             f"float64, seed {seed}")
    verdict = _autograd_lines(rows) + _sequence_verdict(rows, True)
    legend = [line.replace("your gradient", "the reference's value") for line in _legend(tol, True)]
    return GradientReport(title, rows, verdict, legend, problem, _first_bad_step(rows))


# -------------------------------------------------------------------------------- the drawing

WRONG_COLOUR, RIGHT_COLOUR = "#e57373", "#81c784"


def draw_disagreement(report: GradientReport, **draw_options):
    """Draw one `LSTMCell` step with `mg.viz.draw`, each scope's ops coloured by the report: the gates
    (and the cell state) where the student's gradient departs in red, those where it agrees in green.

    The step is the report's own problem (for a sequence report, its first step). ``draw_options`` go to
    `mg.viz.draw` (e.g. a file name or format); what it returns is returned.
    """
    try:
        from minigrad import viz
    except ImportError as e:
        raise ImportError(f"draw_disagreement: needs minigrad.viz, which could not be imported ({e})") from e
    if not isinstance(report, GradientReport):
        raise TypeError(f"draw_disagreement: expected a GradientReport, got {type(report).__name__}")
    p = report.problem
    sequence = p["x"].ndim == 3
    x = p["x"][:, 0] if sequence else p["x"]
    h, c = (p["h0"], p["c0"]) if sequence else (p["h_prev"], p["c_prev"])
    cell = LSTMCell.from_parameters(_gate_params(p["params"]))
    step = cell.step(mg.tensor(x, name="x"), (mg.tensor(h, name="h_prev"), mg.tensor(c, name="c_prev")))
    return viz.draw(step.h, step.c, colors=disagreement_colours(report), **draw_options)


def disagreement_colours(report: GradientReport) -> Callable:
    """The colouring function of `draw_disagreement`: a tensor made in a gate's scope (or in cell_state)
    gets red if the report blames that scope, green if not; any other tensor None (the default colour)."""
    wrong = set(report.wrong_scopes)
    judged = set(GATE_SCOPES.values()) | {"cell_state"}

    def colour(t: mg.Tensor) -> str | None:
        scope = t.scope or ""
        names = [name for name in scope.split("/") if name in judged]
        if not names:
            return None
        return WRONG_COLOUR if names[-1] in wrong else RIGHT_COLOUR

    return colour
