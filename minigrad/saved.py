"""What ``ctx.saved_tensors`` does beyond handing back what forward saved.

- Freed values: a backward without ``retain_graph`` replaces a node's saved values by a `Freed`, which says
  why they are gone when a second backward asks for them.
- Changed values: the in-place check (`minigrad.versions`) and, under ``detect_anomaly``, the checksums
  (`minigrad.anomaly`).
- ``create_graph``: the backward formulas then receive Tensors, so that the backward pass is recorded; a
  saved array is handed back as the input or output Tensor that holds it.
"""

from __future__ import annotations

import numpy as np

from minigrad import anomaly, errors, versions
from minigrad.state import CLOCK
from minigrad.tensor import Tensor, const


class Freed:
    """Stands in for a node's saved values once a backward freed them; says why when one is asked for."""

    failure = ""  # set when the backward that freed them stopped at an error

    def error(self, node) -> errors.GraphError:
        if self.failure:
            return errors.GraphError(
                f"{node.where}: its saved values were freed by an earlier backward() that stopped at an "
                f"error ({self.failure}); recompute the forward, then call backward() again"
            )
        return errors.GraphError(
            f"{node.where}: trying to backward through the graph a second time, but the values "
            "it saved were freed after the first backward(); pass retain_graph=True to the first "
            "backward() (or mg.grad) if you need to call it again"
        )


def checked(node) -> tuple:
    """``node``'s saved values after every check, as Tensors under create_graph."""
    saved = node._saved
    if type(saved) is Freed:
        raise saved.error(node)
    if saved is None:
        return ()
    if CLOCK[0] != node._clock:
        versions.check(node, saved)
    if node._checksums is not None:
        anomaly.verify(node, saved)
    if not node._graph_mode:
        return saved
    return tuple(as_tensor(node, a) for a in saved)


def as_tensor(node, a):
    """The Tensor behind a saved array under create_graph: the input or output holding it, else a
    constant (refused by `check_constant` if it is a floating array derived from them)."""
    for t in node.inputs:
        if isinstance(t, Tensor) and t._data is a:
            return t
    for ref in node._outputs or ():
        t = ref()
        if t is not None and t._data is a:
            return t
    if isinstance(a, (np.ndarray, np.generic)):  # a NumPy scalar: what a ufunc of a 0-d array gives
        check_constant(node, a)
        return const(np.asarray(a))
    return a


def check_constant(node, a) -> None:
    """In create_graph mode: refuse a saved floating array that is neither an input's nor the output's
    array, since it comes back as a constant and derivatives through it would be silently wrong."""
    if a.dtype.kind == "f" and not node._saves_constants:
        raise errors.GraphError(
            f"{node.where}: create_graph=True needs the values backward computes with as Tensors, but "
            f"forward saved an array of shape {a.shape} that is neither an input nor the output, so "
            "its dependence on the inputs would be lost and higher derivatives would be wrong; save the "
            "inputs or the output themselves and compute the derived value in backward (save y, use "
            "1 - y there); keep a true constant (a mask) as an attribute, ctx.mask = ..."
        )
