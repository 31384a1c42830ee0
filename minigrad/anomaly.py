"""What `mg.detect_anomaly()` adds to the version check: a checksum of every array an op saves.

The version counter sees in-place changes made through a Tensor (``t.data += 1``, an optimizer step). It
cannot see a write straight into the array: ``t.data[0] = 1``, ``np.asarray(t)[...] = ...``, a NumPy
``out=`` argument. Under `mg.detect_anomaly()` each op records a checksum of what it saved, and its
backward compares them before using the values, naming the op, its scope and the Tensor whose memory
changed. Outside anomaly mode nothing is recorded and such writes go unseen.
"""

from __future__ import annotations

import zlib

import numpy as np

from minigrad import errors


def checksums(saved: tuple) -> tuple:
    """One CRC-32 per saved array (None for anything else), taken when forward saved them."""
    return tuple(_crc(a) if isinstance(a, np.ndarray) else None for a in saved)


def verify(node, saved: tuple) -> None:
    """Raise GraphError if a saved array no longer has the checksum it had when it was saved."""
    for k, (a, crc) in enumerate(zip(saved, node._checksums)):
        if crc is not None and _crc(a) != crc:
            raise errors.GraphError(
                f"{node.where}: saved value {k} ({_owner(node, a)}) was changed after it was saved for "
                "backward by a write the version counter does not see (an index write t.data[i] = ..., "
                "a write through np.asarray(t), an out= argument), so the gradient would be wrong; "
                "recompute the forward after changing it, or change a copy"
            )


def _crc(a: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(a).view(np.uint8))


def _owner(node, a: np.ndarray) -> str:
    """``input 0 'x'``, ``the output``, or the array's shape when no input or output holds its memory."""
    for k, t in enumerate(node.inputs):
        data = getattr(t, "_data", None)
        if data is not None and np.may_share_memory(a, data):
            return f"input {k} " + (f"'{t.name}'" if t.name else f"of shape {t.shape}")
    for ref in node._outputs or ():
        t = ref()
        if t is not None and np.may_share_memory(a, t._data):
            return "the output" + (f" '{t.name}'" if t.name else "")
    return f"an array of shape {a.shape}"
