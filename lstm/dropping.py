"""Dropping the values of a step that its backward does not read (``lstm.LSTM(keep_values=False)``).

Every op's node keeps its inputs, so the whole graph's values stay alive until the step is done: a drawing
made after ``backward()`` can show them (``show_data=True``). The backward itself reads only what the ops
saved: the sigmoids' and tanhs' outputs, the products' factors. The sums (the gates' pre-activations,
h_{t-1} U, f * c_{t-1}, i * g) it never reads. With the switch off, each of those is replaced, once its step
is built, by a `DroppedValues` of the same shape and dtype that holds no memory; drawing it with values then
raises, naming the switch.
"""

from __future__ import annotations

import functools

import numpy as np

from minigrad import Tensor

SWITCH = "lstm.LSTM(keep_values=False)"


class DroppedValues(np.ndarray):
    """Stands for a value that was dropped: its shape and dtype, no memory (every entry reads as zero, and
    printing it says it was dropped rather than showing zeros)."""

    dropped_by = SWITCH

    def __repr__(self) -> str:
        return f"<values dropped by {SWITCH}: shape {self.shape}, {self.dtype}>"

    __str__ = __repr__


@functools.lru_cache(maxsize=64)
def dropped(shape: tuple, dtype: np.dtype) -> DroppedValues:
    """One read-only stand-in per shape and dtype, shared (making one costs more than the rest of a drop)."""
    return np.broadcast_to(np.zeros((), dtype), shape).view(DroppedValues)


def drop_unread(results, scope: str) -> int:
    """Drop the values of the tensors made in ``scope`` (a step's, e.g. ``lstm/l0/t3``) that no op of the
    scope saved for its backward, except ``results`` (what the step hands on). Returns how many."""
    inside = scope + "/"
    keep = {id(t) for t in results}
    saved: set[int] = set()
    made: list = []  # (tensor, the node that made it)
    nodes, seen = [t.grad_fn for t in results if t is not None], set()
    while nodes:
        node = nodes.pop()
        if node is None or id(node) in seen or not node.scope.startswith(inside):
            continue
        seen.add(id(node))
        for a in node.saved_arrays:
            saved.add(id(a))
            if getattr(a, "base", None) is not None:
                saved.add(id(a.base))
        for t in node.inputs:
            if isinstance(t, Tensor):
                maker = t.grad_fn
                if maker is not None:
                    nodes.append(maker)
                    if id(t) not in keep:
                        made.append((t, maker))
    count = 0
    for t, maker in made:
        data = t.data
        if id(data) not in saved and type(data) is not DroppedValues and maker.scope.startswith(inside):
            # Not through ``t.data = ``, which stamps an in-place change: no backward reads this value, and
            # a stamp would send every node's backward through the slower in-place check.
            t._data = dropped(data.shape, data.dtype)
            count += 1
    return count
