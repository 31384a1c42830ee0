"""Shortcuts for speed, each giving what the plain code would (tests/test_perf_paths.py proves each one).

They run for every op, so each saves a few hundred nanoseconds where the plain code costs as much as the
arithmetic on a small array:

- `wrap`: an op output made without ``Tensor.__init__`` (no conversion, no copy, no checks);
- `outputs`: forward's result wrapped, with NumPy's 0-d quirk undone (a ufunc of a 0-d array returns a
  NumPy scalar, which the output holds as a new 0-d array);
- `plain_gradient`: a gradient that already has its input's type, shape and dtype skips the engine's
  `check`, which would return it unchanged;
- `add_into`: gradients summed in place into buffers the walk allocated itself.
"""

from __future__ import annotations

import weakref

import numpy as np

from minigrad import anomaly, versions
from minigrad.state import STATE
from minigrad.tensor import Tensor

_new = object.__new__


def wrap(data: np.ndarray, ctx, requires_grad: bool, index: int) -> Tensor:
    """A Tensor holding ``data`` itself, made by ``ctx`` (None for a leaf); what ``Tensor(data)`` would
    give for a floating array, without the conversion and the copy."""
    t = _new(Tensor)
    t._data = data
    t.grad = None
    t.requires_grad = requires_grad
    t.name = None
    t._ctx = ctx
    t._index = index
    t._version = 0
    t._vcell = None
    return t


def outputs(ctx, y, args):
    """Forward's result ``y`` as a Tensor (a tuple of them for several outputs), ``ctx`` recorded in it
    if an input needs grad; views of an input share its version, and anomaly mode checks them."""
    record = True in ctx.needs_input_grad
    node = ctx if record else None
    if type(y) is tuple:
        outs = tuple(wrap(np.asarray(v), node, record, i) for i, v in enumerate(y))
        if record:
            ctx._nout = len(outs)
            ctx._out_meta = [(o._data.shape, o._data.dtype) for o in outs]
        versions.share_versions(outs, args)
    else:
        outs = (wrap(y if type(y) is np.ndarray else np.asarray(y), node, record, 0),)
        if outs[0]._data.base is not None:
            versions.share_versions(outs, args)
    saved = ctx._saved
    if record and saved:
        if type(y) is not tuple and outs[0]._data is not y and any(a is y for a in saved):
            # the output holds a 0-d array, not the NumPy scalar forward saved: save that array instead,
            # so that create_graph finds the output behind it
            saved = ctx._saved = tuple(outs[0]._data if a is y else a for a in saved)
        if any(a is o._data for o in outs for a in saved):  # identity: == compares element by element
            ctx._outputs = tuple(weakref.ref(o) for o in outs)
    if STATE.anomaly:
        anomaly.forward(ctx, outs, args)
    return outs if type(y) is tuple else outs[0]


def plain_gradient(g, a: np.ndarray) -> bool:
    """Whether ``g`` is already an array of ``a``'s shape and dtype (the engine's `check` would return it
    unchanged)."""
    return type(g) is np.ndarray and g.shape == a.shape and g.dtype is a.dtype


def add_into(store: dict, key, g, owned: set) -> None:
    """``store[key] += g``, in place once the buffer is the walk's own (the first sum allocates it)."""
    if key in owned:
        store[key] += g
    else:
        # asarray: the sum of two 0-d arrays is a NumPy scalar, which `+=` would rebind instead of
        # updating, losing every gradient after the second
        store[key] = np.asarray(store[key] + g)
        owned.add(key)
