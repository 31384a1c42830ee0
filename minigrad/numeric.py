"""Numeric checking, in one place: central differences, the grade of analytic against numeric values, and
the tables that show grades. `mg.gradcheck`, `mg.check_graph`, `lstm.compare` and the tests all use it.

Every entry is graded the same way. For an analytic value ``a`` (a backward) and a numeric one ``n`` (a
central difference, or another opinion such as autograd)::

    abs = |a - n|        rel = |a - n| / max(|a|, |n|, tiny)      (tiny: the smallest positive float64)

    OK       abs <= atol  or  rel <= rtol            (atol is the rule for entries where a and n are both ~0)
    WARNING  abs <= 10 atol  or  rel <= 10 rtol      (beyond tolerance, but close: round-off, float32, or an
                                                      eps too large for a sharply curved function)
    WRONG    anything further off, or not finite

The largest relative error of a set of entries leaves out those where both values are within atol of 0:
there the ratio of two round-off residues says nothing. Every other entry counts, including one within
atol of its partner, so two values 1.0 and 1.000005 report a relative error of 5e-6 whatever atol is.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

OK, WARNING, WRONG, SKIPPED = "OK", "WARNING", "WRONG", "SKIPPED"
WARN_FACTOR = 10  # how far beyond the tolerances an error may be and still be graded WARNING
TINY = np.finfo(np.float64).tiny
RELATIVE_ERROR = (
    "rel = |a - n| / max(|a|, |n|, tiny); max rel err is over the entries not both within atol of 0"
)


# -- central differences ---


def central_differences(loss: Callable[[], float], x: np.ndarray, eps: float = 1e-6,
                        entries: Sequence[int] | None = None) -> np.ndarray:  # fmt: skip
    """d loss / d x by central differences: ``(loss(x + eps e_j) - loss(x - eps e_j)) / step``.

    ``x`` is a float64 array that ``loss()`` reads; each entry is changed in place, then restored. The
    step divided by is the one actually taken after rounding, ``(x_j + eps) - (x_j - eps)``. Returns an
    array of x's shape, or, given ``entries`` (flat indices into x), one value per entry in that order.
    Truncation error is of order eps**2 times the third derivative, rounding error of order
    1e-16 |loss| / eps.
    """
    coords = range(x.size) if entries is None else entries
    out = np.empty(len(coords))
    for m, j in enumerate(coords):
        at = np.unravel_index(j, x.shape)
        old = x[at]
        up, down = old + eps, old - eps
        x[at] = up
        l_up = loss()
        x[at] = down
        l_down = loss()
        x[at] = old
        out[m] = (l_up - l_down) / (up - down)
    return out.reshape(x.shape) if entries is None else out


def directional_difference(loss: Callable[[], float], x: np.ndarray, v: np.ndarray,
                           eps: float = 1e-6) -> float:  # fmt: skip
    """d loss / dt of loss(x + t v) at t = 0, by central differences; ``x`` is changed and restored."""
    x0 = x.copy()
    x[...] = x0 + eps * v
    l_up = loss()
    x[...] = x0 - eps * v
    l_down = loss()
    x[...] = x0
    return (l_up - l_down) / (2 * eps)


# -- grading ---


@dataclass(frozen=True)
class Grade:
    """The grade of a set of entries: the largest absolute and relative errors (see the module
    docstring), the position of the entry furthest beyond tolerance (None when there were none) with its
    analytic and numeric values, and the verdict: OK, WARNING, WRONG, or SKIPPED for no entries."""

    max_abs: float
    max_rel: float
    worst: int | None
    analytic: float
    numeric: float
    verdict: str

    @property
    def ok(self) -> bool:
        """Every entry within tolerance (true of no entries)."""
        return self.verdict in (OK, SKIPPED)


def _times_over(err: np.ndarray, tol: float) -> np.ndarray:
    """err / tol, with a zero tolerance meaning: only an exact match passes."""
    if tol > 0:
        return err / tol
    return np.where(err > 0, np.inf, 0.0)


def grade(analytic, numeric, atol: float, rtol: float) -> Grade:
    """Grade two arrays of the same shape entry by entry, in float64 (see the module docstring)."""
    a = np.asarray(analytic, dtype=np.float64).reshape(-1)
    n = np.asarray(numeric, dtype=np.float64).reshape(-1)
    if a.size == 0:
        return Grade(0.0, 0.0, None, np.nan, np.nan, SKIPPED)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - n)
        scale = np.maximum(np.abs(a), np.abs(n))
        rel = diff / np.maximum(scale, TINY)
        finite = np.isfinite(a) & np.isfinite(n)
        # how many times its tolerance each entry is off: <= 1 is OK, <= WARN_FACTOR is WARNING
        over = np.where(finite, np.minimum(_times_over(diff, atol), _times_over(rel, rtol)), np.inf)
    worst = int(np.argmax(over))
    top = over[worst]
    verdict = OK if top <= 1 else WARNING if top <= WARN_FACTOR else WRONG
    max_abs = float(np.max(np.where(finite, diff, np.inf)))
    max_rel = float(np.max(np.where(finite, np.where(scale > atol, rel, 0.0), np.inf)))
    return Grade(max_abs, max_rel, worst, float(a[worst]), float(n[worst]), verdict)


def worse(v1: str, v2: str) -> str:
    """The worse of two verdicts."""
    rank = {SKIPPED: 0, OK: 1, WARNING: 2, WRONG: 3}
    return v1 if rank[v1] >= rank[v2] else v2


# -- tables ---

BACKGROUNDS = {OK: "#e8f5e9", WARNING: "#fff8e1", WRONG: "#ffebee", SKIPPED: "#f5f5f5"}


def text_table(header: list[str], body: list[list[str]]) -> str:
    """Columns aligned with spaces, the header first."""
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(header)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *body])


def html_table(header: list[str], body: list[list[str]], backgrounds: list[str], css_class: str = "") -> str:
    """An HTML table, each body row on its own background colour."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    attrs = f' class="{css_class}"' if css_class else ""
    lines = [f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>"]
    for cells, colour in zip(body, backgrounds):
        tds = "".join(f"<td>{html.escape(c)}</td>" for c in cells)
        lines.append(f'<tr style="background:{colour}">{tds}</tr>')
    lines.append("</tbody></table>")
    return "\n".join(lines)
