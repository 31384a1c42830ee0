"""`Function`: how every primitive is defined, built-in or yours.

A primitive is a subclass with two static methods side by side (PyTorch's convention)::

    class Exp(mg.Function):
        @staticmethod
        def forward(ctx, x):            # NumPy arrays in, a NumPy array out
            y = np.exp(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad_output):  # one gradient per forward input
            (y,) = ctx.saved_tensors
            return grad_output * y

    y = Exp.apply(x)                     # x a Tensor: y is a Tensor and the node is recorded

``forward`` may take non-Tensor arguments too (an axis, a shape); ``backward`` returns None for those.
A node of the graph *is* the ``ctx`` object: an instance of the Function subclass holding ``inputs``,
``needs_input_grad``, ``scope`` and what ``forward`` saved.

Write ``backward`` with operators, Tensor/ndarray methods (``sum``, ``reshape``, ``swapaxes``) and other
Functions' ``apply``: then the same formula runs on arrays in a normal backward and on Tensors, recorded,
under ``create_graph=True``, which is what makes higher-order gradients work. ``apply`` called with no
Tensor argument simply runs ``forward`` and returns an array. Saving an input's array or the output's array
hands that very Tensor back in ``create_graph`` mode; a floating array derived from them (``1 - y``) would
come back as a constant and silently drop a term of the higher derivatives, so ``create_graph`` refuses
it: save the output and compute ``1 - y`` in ``backward``, and keep true constants (a mask) as attributes.
Do not modify ``grad_output`` in place: it may be shared with other nodes.
"""

from __future__ import annotations

import weakref

import numpy as np

from minigrad import anomaly, errors
from minigrad.state import STATE
from minigrad.tensor import CLOCK, Tensor, const


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

_new = object.__new__
_wrap = Tensor._wrap
_ERRORS = (
    (IndexError, errors.OpIndexError),
    (TypeError, errors.OpTypeError),
    (ValueError, errors.ShapeError),
    (Exception, errors.OpError),
)


class Function:
    """Base class of every primitive. Subclass it, define ``forward`` and ``backward``, call ``apply``."""

    op = ""  # the name shown in drawings and error messages; defaults to the class name
    # Per-node state; these class attributes are the defaults, a node sets only what differs.
    _saved: tuple | object | None = None
    _outputs: tuple | None = None  # weak references to outputs, kept only where forward saved one
    _retain: dict | None = None  # output index -> weak reference of a Tensor asking to retain_grad
    _graph_mode = False
    _nout = 1
    # True for ops whose other saved arrays are constant where the op is differentiable (relu's mask,
    # max's weights): create_graph treats those as constants instead of refusing them.
    _saves_constants = False
    _checksums: tuple | None = None  # of the saved arrays, taken under detect_anomaly
    # True for ops that only move values (reshape, split, indexing, ...): they cannot make a NaN or an inf,
    # so detect_anomaly lets one through them to the first op that computes with it (in lstm/l0/t17,
    # not in the split of the whole sequence into steps).
    _only_moves = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("op"):
            cls.op = cls.__name__

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a Function subclass must define forward(ctx, *inputs)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass must define backward(ctx, grad_output)")

    # -- the ctx API ---
    def save_for_backward(self, *arrays) -> None:
        """Keep arrays needed by ``backward``; freed after a backward without ``retain_graph``."""
        self._saved = arrays

    @property
    def saved_tensors(self) -> tuple:
        saved = self._saved
        if type(saved) is Freed:
            raise saved.error(self)
        if saved is None:
            return ()
        if CLOCK[0] != self._clock:
            self._check_versions(saved)
        if self._checksums is not None:
            anomaly.verify(self, saved)
        if not self._graph_mode:
            return saved
        return tuple(self._as_tensor(a) for a in saved)

    @property
    def where(self) -> str:
        return errors.where(self.op, self.scope)

    @property
    def saved_arrays(self) -> tuple:
        """What forward saved, as arrays (empty once freed); for tools that inspect a graph."""
        return self._saved if isinstance(self._saved, tuple) else ()

    def _as_tensor(self, a):
        for t in self.inputs:
            if isinstance(t, Tensor) and t._data is a:
                return t
        for ref in self._outputs or ():
            t = ref()
            if t is not None and t._data is a:
                return t
        if isinstance(a, (np.ndarray, np.generic)):  # a NumPy scalar: what a ufunc of a 0-d array gives
            _check_constant(self, a)
            return const(np.asarray(a))
        return a

    def _check_versions(self, saved) -> None:
        # Outputs too: exp, tanh and sigmoid save their output, and a user may change it in place.
        # Memory rather than identity: a forward may save a view of an input (x.T) instead of its array.
        arrays = [a for a in saved if isinstance(a, np.ndarray)]
        outputs = [ref() for ref in self._outputs or ()]
        for kind, tensors in (("input", self.inputs), ("output", outputs)):
            for k, t in enumerate(tensors):
                if not isinstance(t, Tensor):
                    continue
                version = t._version if t._vcell is None else t._vcell[0]
                if version > self._clock and any(np.may_share_memory(a, t._data) for a in arrays):
                    label = f"'{t.name}'" if t.name else f"of shape {t.shape}"
                    changed = "was modified in place"
                    if t._version <= self._clock:  # changed through a Tensor it shares memory with
                        other = _changed_through(t, self._clock)
                        changed += f" through {_label(other)} that shares its memory,"
                    raise errors.GraphError(
                        f"{self.where}: {kind} {k} ({label}) {changed} after it was saved for backward, "
                        "so the gradient would be wrong; recompute the forward after changing it, or "
                        "change a copy"
                    )

    def __repr__(self) -> str:
        return f"<{self.where} node>"

    # -- recording ---
    @classmethod
    def apply(cls, *args):
        """Run ``forward`` on the arrays of ``args`` and, if any input requires grad, record a node."""
        ctx = _new(cls)
        ctx.inputs = args
        state = STATE
        ctx.scope = state.scope
        # True/False for each Tensor argument (all False under no_grad), None for anything else. Set
        # before forward, as in PyTorch, so that forward can skip saving what no gradient will need.
        # (One loop rather than two comprehensions: this runs for every op, and the loop is faster.)
        grad_on = state.grad_enabled
        needs, datas = [], []
        n_tensors = 0
        for a in args:
            if isinstance(a, Tensor):
                needs.append(a.requires_grad and grad_on)
                datas.append(a._data)
                n_tensors += 1
            else:
                needs.append(None)
                datas.append(a)
        ctx.needs_input_grad = needs
        try:
            y = cls.forward(ctx, *datas)
        except errors.MinigradError:
            raise
        except Exception as e:
            raise _op_error(ctx, args, e) from e
        if not n_tensors:
            return y  # no Tensor among the arguments: a plain computation on arrays
        record = True in needs
        if record:
            ctx._clock = CLOCK[0]
        node = ctx if record else None
        if type(y) is tuple:
            outs = tuple(_wrap(_array(v), node, record, i) for i, v in enumerate(y))
            if record:
                ctx._nout = len(outs)
                ctx._out_meta = [(o._data.shape, o._data.dtype) for o in outs]
            _share_versions(outs, args)
        else:
            out = _wrap(y if type(y) is np.ndarray else np.asarray(y), node, record, 0)
            outs = (out,)
            if out._data.base is not None:
                _share_versions(outs, args)
        if record and ctx._saved:
            saved = ctx._saved
            if type(y) is not tuple and outs[0]._data is not y and any(a is y for a in saved):
                # A ufunc of a 0-d array returns a NumPy scalar, which the output holds as a new 0-d
                # array: save that array instead, so that create_graph finds the output behind it.
                saved = ctx._saved = tuple(outs[0]._data if a is y else a for a in saved)
            if _saved_an_output(saved, outs):
                ctx._outputs = tuple(weakref.ref(o) for o in outs)
        if state.anomaly:
            _anomaly_forward(ctx, outs, args)
        return outs if type(y) is tuple else outs[0]


def _check_constant(node, a) -> None:
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


def _anomaly_forward(ctx, outs: tuple, args) -> None:
    """Under detect_anomaly: check the outputs for NaN and inf, and take checksums of what was saved."""
    if not ctx._only_moves:
        for o in outs:
            _check_finite(o._data, ctx, "forward output", args)
    if isinstance(ctx._saved, tuple) and ctx._saved:
        ctx._checksums = anomaly.checksums(ctx._saved)


def _saved_an_output(saved: tuple, outs: tuple) -> bool:
    for o in outs:
        for a in saved:
            if a is o._data:  # identity: == would compare arrays element by element
                return True
    return False


def _array(y) -> np.ndarray:
    return y if type(y) is np.ndarray else np.asarray(y)


def _share_versions(outs, args) -> None:
    """An output that is a view of an input's memory (reshape, transpose, a slice) shares its version."""
    for o in outs:
        base = o._data.base
        if base is not None:
            for a in args:
                # base is a's array: the usual case, decided without asking NumPy about memory bounds
                if isinstance(a, Tensor) and (base is a._data or np.may_share_memory(o._data, a._data)):
                    a._share_version(o)
                    break


def _changed_through(t: Tensor, clock: int) -> Tensor | None:
    """The Tensor through which ``t``'s memory was changed after ``clock``: t, or a Tensor t is a view of,
    found by following the recorded ops t came from; None if the graph does not lead to it."""
    while t is not None:
        if t._version > clock:
            return t
        ctx, cell = t._ctx, t._vcell
        t = next((a for a in ctx.inputs if isinstance(a, Tensor) and a._vcell is cell), None) if ctx else None
    return None


def _label(t: Tensor | None) -> str:
    if t is None:
        return "another tensor (a view of it, or one it is a view of)"
    return f"'{t.name}'" if t.name else f"a tensor of shape {t.shape}"


def describe_inputs(args) -> str:
    parts = []
    for a in args:
        if isinstance(a, Tensor):
            parts.append(f"{a.dtype} {a.shape}")
        elif isinstance(a, np.ndarray):
            parts.append(f"array {a.dtype} {a.shape}")
    return ", ".join(parts)


def _op_error(ctx, args, e: Exception) -> Exception:
    msg = str(e).strip() or type(e).__name__
    cls = next(new for old, new in _ERRORS if isinstance(e, old))
    return cls(f"{ctx.where}: {msg} (inputs: {describe_inputs(args)})")


def _check_finite(a, ctx, what: str, args) -> None:
    """Under ``mg.detect_anomaly()``: raise AnomalyError if ``a`` holds a NaN or an inf, naming the op and
    its scope, what was checked, a summary of each input, and whether an input already held one."""
    if a.dtype.kind not in "fc" or np.isfinite(a).all():
        return
    bad = "NaN" if np.isnan(a).any() else "inf"
    parts, origin = [], "every input is finite"
    for k, t in enumerate(args):
        if isinstance(t, Tensor):
            summary, finite = _summary(t)
            parts.append(summary)
            if not finite and origin.startswith("every"):
                origin = f"input {k} ({_label(t)}) already held NaN or inf"
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
