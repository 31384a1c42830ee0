"""The in-place check: a backward refuses values that were changed after its forward saved them.

An in-place change through a Tensor (``t.data += 1``, an optimizer step) stamps it with the next tick of
`state.CLOCK`, and a node remembers the tick at which it was recorded, so a backward can tell with one
comparison whether anything at all changed since. Tensors that share memory (an op output that is a view of
an input: reshape, transpose, basic indexing, split, broadcast_to; and detach) share one version cell,
``_vcell``, a one-element list: a change through any of them is stamped there, so a node that saved a view
sees a change made through its base and vice versa. A list, not a reference to the base Tensor, so that a
view never keeps the base's graph alive. Writes straight into an array (``t.data[0] = 1``) are not seen
here; `minigrad.anomaly` catches those under ``detect_anomaly``.
"""

from __future__ import annotations

import numpy as np

from minigrad import errors
from minigrad.state import CLOCK
from minigrad.tensor import Tensor


def mark_modified(t: Tensor) -> None:
    """Stamp ``t`` (and every Tensor sharing its memory) as changed now."""
    CLOCK[0] += 1
    t._version = CLOCK[0]
    if t._vcell is not None:
        t._vcell[0] = CLOCK[0]


def share_version(base: Tensor, view: Tensor) -> None:
    """Make ``view`` (a Tensor whose array is a view of ``base``'s) share ``base``'s version."""
    if base._vcell is None:
        base._vcell = [base._version]
    view._vcell = base._vcell


def share_versions(outs, args) -> None:
    """An output that is a view of an input's memory (reshape, transpose, a slice) shares its version."""
    for o in outs:
        base = o._data.base
        if base is not None:
            for a in args:
                # base is a's array: the usual case, decided without asking NumPy about memory bounds
                if isinstance(a, Tensor) and (base is a._data or np.may_share_memory(o._data, a._data)):
                    share_version(a, o)
                    break


def check(node, saved: tuple) -> None:
    """Raise GraphError if an input or output whose memory ``node`` saved was changed in place since."""
    # Outputs too: exp, tanh and sigmoid save their output, and a user may change it in place.
    # Memory rather than identity: a forward may save a view of an input (x.T) instead of its array.
    arrays = [a for a in saved if isinstance(a, np.ndarray)]
    outputs = [ref() for ref in node._outputs or ()]
    for kind, tensors in (("input", node.inputs), ("output", outputs)):
        for k, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                continue
            version = t._version if t._vcell is None else t._vcell[0]
            if version > node._clock and any(np.may_share_memory(a, t._data) for a in arrays):
                label = f"'{t.name}'" if t.name else f"of shape {t.shape}"
                changed = "was modified in place"
                if t._version <= node._clock:  # changed through a Tensor it shares memory with
                    other = _changed_through(t, node._clock)
                    changed += f" through {label_of(other)} that shares its memory,"
                raise errors.GraphError(
                    f"{node.where}: {kind} {k} ({label}) {changed} after it was saved for backward, "
                    "so the gradient would be wrong; recompute the forward after changing it, or "
                    "change a copy"
                )


def _changed_through(t: Tensor, clock: int) -> Tensor | None:
    """The Tensor through which ``t``'s memory was changed after ``clock``: t, or a Tensor t is a view of,
    found by following the recorded ops t came from; None if the graph does not lead to it."""
    while t is not None:
        if t._version > clock:
            return t
        ctx, cell = t._ctx, t._vcell
        t = next((a for a in ctx.inputs if isinstance(a, Tensor) and a._vcell is cell), None) if ctx else None
    return None


def label_of(t: Tensor | None) -> str:
    """How a message names a Tensor: by its name, else by its shape."""
    if t is None:
        return "another tensor (a view of it, or one it is a view of)"
    return f"'{t.name}'" if t.name else f"a tensor of shape {t.shape}"
