"""`draw_disagreement`: one LSTM step drawn with `mg.viz`, each gate coloured by a comparison's report."""

from __future__ import annotations

from collections.abc import Callable

import minigrad as mg
from lstm.compare.problems import _gate_params
from lstm.compare.report import GATE_SCOPES, GradientReport
from lstm.lstm_cell import LSTMCell

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
