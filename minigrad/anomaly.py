"""Everything `mg.detect_anomaly()` adds: NaN/inf checks, and a checksum of every array an op saves.

Each op's forward outputs, the gradient arriving at each node and each gradient a backward returns are
checked for NaN and inf (`check_finite`); the first one found raises `AnomalyError` naming the op.

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
from minigrad.tensor import Tensor
from minigrad.versions import label_of


def forward(ctx, outs: tuple, args) -> None:
    """After an op's forward: check the outputs for NaN and inf, and take checksums of what was saved."""
    if not ctx._only_moves:
        for o in outs:
            check_finite(o._data, ctx, "forward output", args)
    if isinstance(ctx._saved, tuple) and ctx._saved:
        ctx._checksums = checksums(ctx._saved)


def check_finite(a, ctx, what: str, args) -> None:
    """Raise AnomalyError if ``a`` holds a NaN or an inf, naming the op and its scope, what was checked,
    a summary of each input, and whether an input already held one."""
    a = np.asarray(a)
    if a.dtype.kind not in "fc" or np.isfinite(a).all():
        return
    bad = "NaN" if np.isnan(a).any() else "inf"
    parts, origin = [], "every input is finite"
    for k, t in enumerate(args):
        if isinstance(t, Tensor):
            summary, finite = _summary(t)
            parts.append(summary)
            if not finite and origin.startswith("every"):
                origin = f"input {k} ({label_of(t)}) already held NaN or inf"
        elif isinstance(t, (int, float)):
            parts.append(repr(t))
    raise errors.AnomalyError(f"{ctx.where}: {what} contains {bad}; inputs: {'; '.join(parts)}; {origin}")


def _summary(t: Tensor) -> tuple[str, bool]:
    """``'x_17' float64 (1, 2) min -0.3 max 0.8 and 1 NaN``, and whether every value is finite."""
    a = t._data
    head = (f"'{t.name}' " if t.name else "") + f"{a.dtype} {a.shape}"
    if a.size == 0:
        return f"{head} empty", True
    ok = np.isfinite(a)
    if ok.all():
        return f"{head} min {a.min():.4g} max {a.max():.4g}", True
    finite, nan = a[ok], int(np.isnan(a).sum())
    span = f" min {finite.min():.4g} max {finite.max():.4g}" if finite.size else ""
    counts = [f"{n} {kind}" for n, kind in ((nan, "NaN"), (a.size - finite.size - nan, "inf")) if n]
    return f"{head}{span} and {' and '.join(counts)}", False


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
