"""Shortcuts for speed, each giving what the plain code would (tests/test_perf_paths.py proves each one).

They run for every op, so each saves a few hundred nanoseconds where the plain code costs as much as the
arithmetic on a small array:

- `wrap`: an op output made without ``Tensor.__init__`` (no conversion, no copy, no checks);
- `outputs`: forward's result wrapped, with NumPy's 0-d quirk undone (a ufunc of a 0-d array returns a
  NumPy scalar, which the output holds as a new 0-d array);
- `add_into`: gradients summed in place into buffers the walk allocated itself.
"""

from __future__ import annotations

import weakref

import numpy as np

from minigrad import anomaly, versions
from minigrad.state import STATE
from minigrad.tensor import Tensor

_new = object.__new__


def wrap(data: np.ndarray, ctx, requires_grad: bool) -> Tensor:
    """``Tensor(data)`` made by ``ctx`` (None for a leaf), without __init__'s conversion and copy."""
    t = _new(Tensor)
    t._data, t.requires_grad, t._ctx, t.name = data, requires_grad, ctx, None
    t.grad, t._index, t._version, t._vcell = None, 0, 0, None
    return t


def outputs(ctx, y, args):
    """Forward's result ``y`` as a Tensor made by ``ctx`` (recorded if an input needs grad)."""
    if type(y) is tuple:
        return _several(ctx, y, args)
    record = True in ctx.needs_input_grad
    out = wrap(y if type(y) is np.ndarray else np.asarray(y), ctx if record else None, record)
    if out._data.base is not None:  # a view of an input shares its version
        versions.share_versions((out,), args)
    if record and ctx._saved:
        for a in ctx._saved:
            if a is y:  # forward saved its output (identity: `in` would compare arrays with ==)
                _saved_output(ctx, y, out)
                break
    if STATE.anomaly:
        anomaly.forward(ctx, (out,), args)
    return out


def _several(ctx, ys: tuple, args) -> tuple:
    """`outputs` for a forward that returned a tuple: a tuple of Tensors."""
    record = True in ctx.needs_input_grad
    outs = tuple(wrap(np.asarray(v), ctx if record else None, record) for v in ys)
    for i, o in enumerate(outs):
        o._index = i
    if record:
        ctx._nout = len(outs)
        ctx._out_meta = [(o._data.shape, o._data.dtype) for o in outs]
        if ctx._saved:
            _note_saved_outputs(ctx, outs)
    versions.share_versions(outs, args)
    if STATE.anomaly:
        anomaly.forward(ctx, outs, args)
    return outs


def _saved_output(ctx, y, out: Tensor) -> None:
    """Forward saved its output ``y``: keep a weak reference to the output (the in-place check and
    create_graph look for it), and if ``y`` was a NumPy scalar (what a ufunc of a 0-d array returns, which
    the output holds as a new 0-d array), save that array instead, so that create_graph finds the output."""
    if out._data is not y:
        ctx._saved = tuple(out._data if a is y else a for a in ctx._saved)
    ctx._outputs = (weakref.ref(out),)


def _note_saved_outputs(ctx, outs: tuple) -> None:
    """Keep weak references to the outputs if forward saved one of them (the in-place check and
    create_graph look for them)."""
    if any(a is o._data for o in outs for a in ctx._saved):  # identity: == compares element by element
        ctx._outputs = tuple(weakref.ref(o) for o in outs)


def add_into(store: dict, key, g, owned: set) -> None:
    """``store[key] += g``, in place once the buffer is the walk's own (the first sum allocates it)."""
    if key in owned:
        store[key] += g
    else:
        # asarray: the sum of two 0-d arrays is a NumPy scalar, which `+=` would rebind instead of
        # updating, losing every gradient after the second
        store[key] = np.asarray(store[key] + g)
        owned.add(key)
