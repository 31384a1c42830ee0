"""The reports of `lstm.compare`: a `Row` per compared array (or gate's part of one), graded by
`minigrad.numeric`, and `Report` / `GradientReport`, which show them as text or as an HTML table."""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

from lstm import reference
from minigrad.numeric import BACKGROUNDS, OK, WRONG, grade, html_table, text_table

GATES = ("input", "forget", "candidate", "output")  # in the 4H axis' order i, f, g, o

LETTER = dict(zip(GATES, reference.GATE_ORDER))

GATE_SCOPES = {"input": "input_gate", "forget": "forget_gate", "candidate": "cell_candidate",
               "output": "output_gate"}  # fmt: skip

_PASS, _FAIL = BACKGROUNDS[OK], BACKGROUNDS[WRONG]  # the background of agreeing and departing rows in HTML


@dataclass(frozen=True)
class Row:
    """One compared array, or one gate's part of it.

    quantity: what is compared ('weight_ih', 'x', 'x[:, 2]', 'c_prev', or a forward value such as 'h').
    gate: None for the whole array, else one of GATES.
    part: where the gate's part is ('rows 4:8', 'term da_f @ weight_ih[4:8]'), or '' for a whole array.
    max_abs, max_rel, ok: the student's value against autograd's (see the package docstring).
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
    mine = grade(user, auto, tol.atol, tol.rtol)
    numeric_rel = numeric_ok = None
    if numeric is not None:
        check = grade(auto, numeric, tol.num_atol, tol.num_rtol)
        numeric_rel, numeric_ok = check.max_rel, check.ok
    return Row(quantity, gate, part, mine.max_abs, mine.max_rel, mine.ok, numeric_rel, numeric_ok, step)

def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.1e}"

def _numeric_cell(row: Row) -> str:
    if row.numeric_ok is None:
        return "-"
    return f"{_fmt(row.numeric_rel)} {'ok' if row.numeric_ok else 'DISAGREE'}"

def _result(ok: bool) -> str:
    return "pass" if ok else "FAIL"

def _html_table(header: list[str], body: list[tuple[list[str], bool]]) -> str:
    colours = [_PASS if ok else _FAIL for _, ok in body]
    return html_table(header, [cells for cells, _ in body], colours, "lstm-compare")

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
        parts.append(text_table(self._main_header(), [cells for cells, _ in self._main_table()]))
        steps = self._step_table()
        if steps:
            parts += ["", _STEP_INTRO, text_table(_STEP_HEADER, steps)]
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
