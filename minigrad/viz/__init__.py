"""Drawing computation graphs with Graphviz: ``mg.viz.to_dot`` (DOT text) and ``mg.viz.draw`` (a picture).

    h, c = cell(x, (h, c))
    mg.viz.draw(h)                                   # the whole graph, scopes as nested clusters
    mg.viz.draw(h, scope="t2/forget_gate")           # one gate, with what enters and leaves it
    mg.viz.draw(h, rolled=True)                      # an unrolled recurrence drawn as one step
    mg.viz.draw(loss, collapse=["t*"])               # each time step folded into one box
    mg.viz.draw(loss, show_backward=True)            # after backward(): gradients flowing back
    mg.viz.draw(loss).render("graph.svg")            # a file

What a picture shows: tensors are boxes (name, shape, dtype), ops are ellipses (name and non-Tensor
arguments). Colours tell parameters (``mg.nn.Parameter``), inputs (other leaves that require grad, and
data), constants (unnamed leaves without grad that hold one number, such as the 1 in ``1 - f``, or that
only a recorded backward pass reads, such as its seed), intermediates and outputs (the roots) apart; a
thick border marks a tensor that requires grad; a legend explains what is in the picture. Every scope
is a cluster labelled with its name, nested as the scopes are. By default an intermediate tensor is
drawn as a box only when it has a name (or when values are shown); otherwise its arrow goes straight
from the op that made it.

Layout time is what limits a picture: ``dot`` may take minutes on a few thousand nodes, and much
longer when one node has edges into many clusters. So a leaf, or a tensor computed from parameters
alone (like an LSTM's per-gate weight blocks), that is used in several clusters is drawn once in each
of them, with a dashed border, instead of as one hub with an edge into every cluster; and a picture of
more than ``max_nodes`` nodes raises GraphTooLargeError before Graphviz sees it.

The options are the fields of `Options`. Drawing needs no Graphviz; showing a picture uses the first
renderer `minigrad.viz.render.layout` finds (the ``graphviz-pure`` program pip installs will do).
"""

from __future__ import annotations

from minigrad.tensor import Tensor
from minigrad.viz.dot import html, picture_to_dot, quote, summary, tooltip
from minigrad.viz.errors import (
    DrawingError,
    DrawingTypeError,
    GraphTooLargeError,
    GraphvizError,
    GraphvizNotFoundError,
    RenderTimeoutError,
)
from minigrad.viz.graph import Graph, Picture, ScopePattern
from minigrad.viz.options import Options
from minigrad.viz.planner import Planner, plan
from minigrad.viz.render import DEFAULT_TIMEOUT, Drawing, graphviz_version, layout, svg_size

__all__ = [
    "Drawing", "DrawingError", "DrawingTypeError", "Graph", "GraphTooLargeError", "GraphvizError",
    "GraphvizNotFoundError", "Options", "Picture", "Planner", "RenderTimeoutError", "ScopePattern", "draw",
    "draw_backward", "html", "layout", "plan", "quote", "summary", "svg_size", "to_dot", "tooltip",
]  # fmt: skip


def _roots(roots, who: str) -> list[Tensor]:
    # draw(h, c) and draw([h, c]) both work
    if len(roots) == 1 and isinstance(roots[0], (list, tuple)):
        roots = tuple(roots[0])
    if not roots:
        raise DrawingTypeError(f"{who}: give at least one Tensor to draw")
    for k, r in enumerate(roots):
        if not isinstance(r, Tensor):
            raise DrawingTypeError(f"{who}: root {k} is a {type(r).__name__}, not a Tensor")
    return list(roots)


def _build(roots, who: str, options: dict, graphviz: tuple | None = None) -> tuple[str, int]:
    opts = Options.of(who, options)
    pic = plan(_roots(roots, who), opts, who)
    return picture_to_dot(pic, opts, who, graphviz), len(pic.items)


def to_dot(*roots: Tensor, graphviz: tuple | None = None, **options) -> str:
    """The Graphviz DOT source of the graph that produced ``roots`` (Tensors, or one list of them,
    drawn as outputs). The keywords are the fields of `Options` (scope, rolled, collapse, show_data, ...).
    Needs no Graphviz program; the same graph gives the same text (nodes numbered in drawing order).
    ``graphviz``: the (major, minor) version that will lay the text out, e.g. ``(12, 2)``: Graphviz 10 and
    later stack time steps in the other order, so the text differs there (`draw` asks the one it uses)."""
    text, _ = _build(roots, "to_dot", options, graphviz)
    return text


def draw(*roots: Tensor, timeout: float | None = DEFAULT_TIMEOUT, **options) -> Drawing:
    """The picture of the graph that produced ``roots``: a `Drawing`. Takes the options of `to_dot`,
    plus ``timeout``: the time limit in seconds of each layout run (None: none).

    In Jupyter the drawing shows as SVG and PNG, or, without any renderer or past the timeout, as its
    DOT text with a one-line hint; ``.render("graph.svg")`` (or ``.png``, ``.pdf``) writes that file.
    Building the drawing needs no Graphviz program.
    """
    text, n = _build(roots, "draw", options, graphviz_version())
    return Drawing(text, n_nodes=n, timeout=timeout)


def draw_backward(*roots: Tensor, **options) -> Drawing:
    """``draw(*roots, show_backward=True, **options)``: the forward graph with the gradients flowing
    back along it (call ``backward()`` first; ``retain_grad()`` keeps a non-leaf tensor's gradient)."""
    return draw(*roots, show_backward=True, **options)
