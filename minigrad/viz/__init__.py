"""Drawing computation graphs with Graphviz: ``mg.viz.to_dot`` (DOT text) and ``mg.viz.draw`` (a picture).

    h, c = cell(x, (h, c))
    mg.viz.draw(h)                                   # the whole graph, scopes as nested clusters
    mg.viz.draw(h, scope="t2/forget_gate")           # one gate, with what enters and leaves it
    mg.viz.draw(h, rolled=True)                      # an unrolled recurrence drawn as one step
    mg.viz.draw(loss, collapse=["t*"])               # each time step folded into one box
    mg.viz.draw(loss, show_backward=True)            # after backward(): gradients flowing back
    mg.viz.draw(loss).render("graph.svg")            # a file (needs the Graphviz program `dot`)

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
"""

from __future__ import annotations

from minigrad.tensor import Tensor
from minigrad.viz.dot import html, picture_to_dot, quote, summary, tooltip
from minigrad.viz.graph import Graph, GraphTooLargeError, Picture, ScopePattern, plan
from minigrad.viz.render import (
    DEFAULT_TIMEOUT,
    Drawing,
    GraphvizError,
    GraphvizNotFoundError,
    RenderTimeoutError,
    run_graphviz,
)

__all__ = [
    "Drawing", "Graph", "GraphTooLargeError", "GraphvizError", "GraphvizNotFoundError", "Picture",
    "RenderTimeoutError", "ScopePattern", "draw", "draw_backward", "html", "plan", "quote", "run_graphviz",
    "summary", "to_dot", "tooltip",
]  # fmt: skip


def _roots(roots, who: str) -> list[Tensor]:
    # draw(h, c) and draw([h, c]) both work
    if len(roots) == 1 and isinstance(roots[0], (list, tuple)):
        roots = tuple(roots[0])
    if not roots:
        raise TypeError(f"{who}: give at least one Tensor to draw")
    for k, r in enumerate(roots):
        if not isinstance(r, Tensor):
            raise TypeError(f"{who}: root {k} is a {type(r).__name__}, not a Tensor")
    return list(roots)


def _build(roots, who: str, show_data, show_grad, rankdir, colors, legend, **options) -> tuple[str, int]:
    show_values = bool(show_data or show_grad)
    pic = plan(_roots(roots, who), show_values=show_values, who=who, **options)
    text = picture_to_dot(
        pic, show_data=show_data, show_grad=show_grad, rankdir=rankdir, colors=colors, legend=legend, who=who
    )
    return text, len(pic.items)


def to_dot(
    *roots: Tensor,
    scope=None,
    show_data: bool = False,
    show_grad: bool = False,
    collapse="auto",
    max_nodes: int | None = 500,
    rankdir: str = "LR",
    rolled: bool = False,
    colors=None,
    legend: bool = True,
    show_backward: bool = False,
    intermediates="auto",
    names=None,
    copy_shared: bool = True,
) -> str:
    """The Graphviz DOT source of the graph that produced ``roots``. Needs no Graphviz program.

    Args:
        roots: the Tensors to draw the history of (or one list of them); drawn as outputs.
        scope: a scope pattern, or a list of them: draw only the ops inside the matching scopes (and
            their sub-scopes). The tensors that enter are drawn once as inputs (``from <scope>``), those
            that leave as outputs (``to <scope>``). Patterns are matched component by component: ``*``,
            ``?``, ``[...]`` match within a component, ``**`` any number of components, and a pattern
            matches a scope path when it matches the whole path or a '/'-aligned suffix of it, so
            ``"forget_gate"``, ``"*/forget_gate"`` and ``"lstm/l0/t3/forget_gate"`` all match
            ``lstm/l0/t3/forget_gate`` (``"forget_gate"`` matches it in every step; a leading ``/``
            anchors at the outermost scope). A pattern that matches no scope raises ValueError.
        show_data: add a summary of each drawn tensor's values (small arrays in full, larger ones as
            min, mean and max); ``show_grad``: the same for ``.grad`` (after backward; a non-leaf keeps
            its gradient only if ``retain_grad()`` was called). Either one also draws every
            intermediate tensor as a box.
        collapse: fold scopes into single boxes: a pattern, a list of patterns (as for ``scope``) or a
            function of a scope path returning True to fold it, e.g. every step but the last:
            ``lambda s: re.fullmatch(r".*/t\\d+", s) and not s.endswith("/t49")``. The outermost
            matching scope folds; arrows between boxes are merged (labelled with the tensors' names);
            the weights a box reads are listed in it rather than drawn.
        max_nodes: raise GraphTooLargeError, naming the count, when the picture would have more nodes
            (None: no limit).
        rankdir: "LR" (left to right), "TB", "RL" or "BT".
        rolled: draw a recurrence unrolled over scopes with a time-step component (``t0``, ``t1``, ...)
            as ONE step, its last: a tensor made in one step and read by the next is drawn as a red arrow
            looping back, labelled with the number of steps. Ops of the other steps, and ops outside the
            steps that only fed them, are left out. Steps are matched op by op through their scope below
            the step, the op and its arguments, in graph order. ValueError if there is no such scope.
        colors: a dict {Tensor or node: colour} or a function of a tensor returning a colour, a number or
            None. The function is called for each drawn tensor and, for an op whose output is not drawn,
            with that output. Numbers are drawn on a heat scale from their minimum to their maximum (e.g.
            a gradient norm, or the disagreement with a gradient derived by hand), explained in the
            legend under the function's name. Colours are Graphviz colours ("red", "#ff000080").
        legend: add a legend of the node kinds, marks and arrows in the picture.
        show_backward: also draw the gradient flow: a dashed arrow back along each arrow that carries a
            tensor requiring grad, the first one into each tensor labelled with that tensor's ``.grad``.
        intermediates: "auto" (draw an intermediate tensor as a box when it has a name, or when
            show_data or show_grad is on), "all" or "none" (arrows go straight from op to op).
        names: a dict {Tensor: name}, or a Module whose dotted parameter names label its Parameters.
            Names (any text) are shown as written, each line cut to 60 characters in labels (tooltips
            carry the whole name).
        copy_shared: draw a leaf or parameter-derived tensor used in several clusters once in each
            (dashed), which keeps the layout fast; False draws it once, in the clusters' common cluster.
    Returns:
        the DOT text: the same graph gives the same text (nodes numbered in graph order).
    """
    text, _ = _build(
        roots, "to_dot", show_data, show_grad, rankdir, colors, legend, scope=scope, collapse=collapse,
        max_nodes=max_nodes, rolled=rolled, show_backward=show_backward, intermediates=intermediates,
        names=names, copy_shared=copy_shared,
    )  # fmt: skip
    return text


def draw(
    *roots: Tensor,
    scope=None,
    show_data: bool = False,
    show_grad: bool = False,
    collapse="auto",
    max_nodes: int | None = 500,
    rankdir: str = "LR",
    rolled: bool = False,
    colors=None,
    legend: bool = True,
    show_backward: bool = False,
    intermediates="auto",
    names=None,
    copy_shared: bool = True,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> Drawing:
    """The picture of the graph that produced ``roots``: a `Drawing` (a ``graphviz.Source``).

    Takes the arguments of `to_dot`, plus ``timeout``: the time limit in seconds of each layout run
    (None: none). In Jupyter the drawing shows as SVG, or, without Graphviz or past the timeout, as its
    DOT text with a one-line hint; ``.render("graph.svg")`` (or ``format="png"``, ``"pdf"``) writes a
    file and raises GraphvizNotFoundError (saying how to install Graphviz) when ``dot`` is missing,
    RenderTimeoutError past the timeout. Building the drawing needs no Graphviz program.
    """
    text, n = _build(
        roots, "draw", show_data, show_grad, rankdir, colors, legend, scope=scope, collapse=collapse,
        max_nodes=max_nodes, rolled=rolled, show_backward=show_backward, intermediates=intermediates,
        names=names, copy_shared=copy_shared,
    )  # fmt: skip
    return Drawing(text, n_nodes=n, timeout=timeout)


def draw_backward(*roots: Tensor, **options) -> Drawing:
    """``draw(*roots, show_backward=True, **options)``: the forward graph with the gradients flowing
    back along it (call ``backward()`` first; ``retain_grad()`` keeps a non-leaf tensor's gradient)."""
    return draw(*roots, show_backward=True, **options)
