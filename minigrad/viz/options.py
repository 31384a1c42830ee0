"""The options of a drawing, in one place: `to_dot` and `draw` take them as keywords."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from minigrad.viz.errors import DrawingError, DrawingTypeError


@dataclass(frozen=True)
class Options:
    """What to draw and how. Every field is a keyword of `minigrad.viz.to_dot` and `minigrad.viz.draw`.

    scope: a scope pattern, or a list of them: draw only the ops inside the matching scopes (and their
        sub-scopes). What enters is drawn next to the ops that read it, what leaves as an output (``to
        <scope>``). Patterns are matched component by component: ``*``, ``?``, ``[...]`` match within a
        component, ``**`` any number of components, and a pattern matches a scope path when it matches
        the whole path or a '/'-aligned suffix of it, so ``"forget_gate"``, ``"*/forget_gate"`` and
        ``"lstm/l0/t3/forget_gate"`` all match ``lstm/l0/t3/forget_gate`` (``"forget_gate"`` matches it
        in every step; a leading ``/`` anchors at the outermost scope). A pattern that matches no scope
        is an error.
    show_data: add a summary of each drawn tensor's values (small arrays in full, larger ones as min,
        mean and max); ``show_grad``: the same for ``.grad`` (after backward; a non-leaf keeps its
        gradient only if ``retain_grad()`` was called). Either one also draws every intermediate tensor.
    collapse: fold scopes into single boxes: a pattern, a list of patterns (as for ``scope``) or a
        function of a scope path returning True to fold it. The outermost matching scope folds; arrows
        between boxes are merged; the weights a box reads are listed in it. Besides these, each scope
        whose ops only cut weights out of parameters for the rest of the graph (an LSTM's ``weights``:
        split and transpose of weight_ih, weight_hh) is folded, unless ``collapse=False``.
    max_nodes: refuse (GraphTooLargeError, naming the count) a picture of more nodes; None: no limit.
    rankdir: "LR" (left to right), "TB", "RL" or "BT".
    rolled: draw a recurrence unrolled over time-step scopes (see ``step``) as ONE step, its last: the
        values it reads from the step before enter on its left (``h_{t-1}``), with a red arrow looping
        back from the values it passes on. Names ending in the drawn step's number (``x_4``, ``h_4``)
        read ``x_t``, ``h_t``, those ending in the one before ``h_{t-1}``.
    step: the regular expression a scope component fully matches when it is a time step, its first
        group the step's number (the LSTM layer's ``t0``, ``t1``, ...).
    colors: a dict {Tensor or node: colour} or a function of a tensor returning a colour, a number or
        None. Numbers are drawn on a heat scale from their minimum to their maximum, explained in the
        legend under the function's name. Colours are Graphviz colours ("red", "#ff000080").
    legend: add a legend of the node kinds, marks and arrows in the picture.
    show_backward: also draw the gradient flow: a dashed arrow back along each arrow that carries a
        tensor requiring grad, the first one into each tensor labelled with that tensor's ``.grad``.
    intermediates: "auto" (draw an intermediate tensor as a box when it has a name, or when show_data
        or show_grad is on), "all" or "none" (arrows go straight from op to op).
    names: a dict {Tensor: name}, or a Module whose dotted parameter names label its Parameters. Each
        line of a label is cut to 60 characters, a tooltip to 300, with an ellipsis.
    copy_shared: draw a weight (a parameter, or a tensor computed from parameters alone) once in each
        cluster that reads it, dashed, next to the op using it; False draws it once.
    """

    scope: object = None
    show_data: bool = False
    show_grad: bool = False
    collapse: object = None
    max_nodes: int | None = 500
    rankdir: str = "LR"
    rolled: bool = False
    step: str = r"t(\d+)"
    colors: object = None
    legend: bool = True
    show_backward: bool = False
    intermediates: object = "auto"
    names: object = None
    copy_shared: bool = True

    @classmethod
    def of(cls, who: str, keywords: dict) -> Options:
        """The options given as keywords to ``who``, checked: one clear error for a bad one."""
        known = [f.name for f in fields(cls)]
        for k in keywords:
            if k not in known:
                raise DrawingTypeError(f"{who}: unknown option {k!r}; the options are {', '.join(known)}")
        opts = cls(**keywords)
        m = opts.max_nodes
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
            raise DrawingError(f"{who}: max_nodes must be a positive integer or None, got {m!r}")
        if opts.rankdir not in ("LR", "RL", "TB", "BT"):
            raise DrawingError(f"{who}: rankdir must be one of 'LR', 'RL', 'TB', 'BT', got {opts.rankdir!r}")
        if opts.intermediates not in ("auto", "all", "none", True, False):
            raise DrawingError(
                f"{who}: intermediates must be 'auto', 'all' or 'none', got {opts.intermediates!r}"
            )
        try:
            groups = re.compile(opts.step).groups
        except (re.error, TypeError) as e:
            raise DrawingError(f"{who}: step={opts.step!r} is not a regular expression ({e})") from None
        if groups < 1:
            raise DrawingError(
                f"{who}: step={opts.step!r} needs a group for the step's number, e.g. r't(\\d+)'"
            )
        return opts

    @property
    def show_values(self) -> bool:
        return bool(self.show_data or self.show_grad)
