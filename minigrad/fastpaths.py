"""Shortcuts for speed, each giving what the plain code would (tests/test_perf_paths.py proves each one).

They run for every op, so each saves a few hundred nanoseconds where the plain code costs as much as the
arithmetic on a small array:

- `wrap`: an op output made without ``Tensor.__init__`` (no conversion, no copy, no checks);
- `outputs`: forward's result wrapped, the guards called only when they have something to look at (a view,
  anomaly mode), and NumPy's 0-d quirk undone (a ufunc of a 0-d array returns a NumPy scalar, which the
  output holds as a new 0-d array);
- `add_into`: gradients summed in place into buffers the walk allocated itself.
"""

from __future__ import annotations

import weakref

import numpy as np

from minigrad import anomaly, versions
from minigrad.tensor import Tensor

_new = object.__new__


def wrap(data: np.ndarray, ctx, requires_grad: bool) -> Tensor:
    """``Tensor(data)`` made by ``ctx`` (None for a leaf), without __init__'s conversion and copy."""
    t = _new(Tensor)
    t._data, t.requires_grad, t._ctx, t.name = data, requires_grad, ctx, None
    t.grad, t._index, t._version, t._vcell = None, 0, 0, None
    return t


def outputs(ctx, y, args, anomaly_on: bool):
    """Forward's result ``y`` as a Tensor made by ``ctx`` (recorded if an input needs grad)."""
    if type(y) is not np.ndarray:  # several outputs (a tuple), or NumPy's 0-d quirk (a NumPy scalar)
        return (_several if type(y) is tuple else _scalar)(ctx, y, args, anomaly_on)
    record = True in ctx.needs_input_grad
    out = wrap(y, ctx if record else None, record)
    if record and ctx._saved:
        ctx._outputs = (weakref.ref(out),)  # the in-place check and create_graph look for a saved output
    if y.base is not None or anomaly_on:
        _watch(ctx, (out,), args, anomaly_on)
    return out


def _several(ctx, ys: tuple, args, anomaly_on: bool) -> tuple:
    """`outputs` for a forward that returned a tuple: a tuple of Tensors."""
    record = True in ctx.needs_input_grad
    outs = tuple(wrap(np.asarray(v), ctx if record else None, record) for v in ys)
    for i, o in enumerate(outs):
        o._index = i
    if record:
        ctx._nout = len(outs)
        ctx._out_meta = [(o._data.shape, o._data.dtype) for o in outs]
        if ctx._saved:
            ctx._outputs = tuple(weakref.ref(o) for o in outs)
    _watch(ctx, outs, args, anomaly_on)
    return outs


def _scalar(ctx, y, args, anomaly_on: bool) -> Tensor:
    """`outputs` for a NumPy scalar (what a ufunc of a 0-d array returns): the output holds it as a new
    0-d array, saved in its place if forward saved it, so that create_graph finds the output."""
    a = np.asarray(y)
    if ctx._saved:
        ctx._saved = tuple(a if s is y else s for s in ctx._saved)  # identity: == compares values
    return outputs(ctx, a, args, anomaly_on)


def _watch(ctx, outs: tuple, args, anomaly_on: bool) -> None:
    """The guards that look at an op's outputs: a view of an input shares its version (the in-place
    check), and anomaly mode looks for NaN and inf."""
    versions.share_versions(outs, args)
    if anomaly_on:
        anomaly.forward(ctx, outs, args)


def add_into(store: dict, key, g, owned: set) -> None:
    """``store[key] += g``, in place once the buffer is the walk's own (the first sum allocates it)."""
    if key in owned:
        store[key] += g
    else:
        # asarray: the sum of two 0-d arrays is a NumPy scalar, which `+=` would rebind instead of
        # updating, losing every gradient after the second
        store[key] = np.asarray(store[key] + g)
        owned.add(key)
