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

from minigrad import errors, fastpaths, saved, translate
from minigrad.saved import Freed  # noqa: F401 (importable here since v1)
from minigrad.state import CLOCK, NODES, STATE
from minigrad.tensor import Tensor
from minigrad.translate import describe_inputs  # noqa: F401 (importable here since v1)

_new = object.__new__


class Function:
    """Base class of every primitive. Subclass it, define ``forward`` and ``backward``, call ``apply``."""

    op = ""  # the name shown in drawings and error messages; defaults to the class name
    # Per-node state; these class attributes are the defaults, a node sets only what differs.
    _saved: tuple | object | None = None
    _outputs: tuple | None = None  # weak references to the outputs, kept where forward saved anything
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
        """What forward saved, after the checks of `minigrad.saved` when anything could have changed."""
        fresh = self._clock == CLOCK[0] and not (self._graph_mode or self._checksums)
        return self._saved if fresh and type(self._saved) is tuple else saved.checked(self)

    @property
    def where(self) -> str:
        return errors.where(self.op, self.scope)

    @property
    def saved_arrays(self) -> tuple:
        """What forward saved, as arrays (empty once freed); for tools that inspect a graph."""
        return self._saved if isinstance(self._saved, tuple) else ()

    def __repr__(self) -> str:
        return f"<{self.where} node>"

    # -- recording ---
    @classmethod
    def apply(cls, *args):
        """Run ``forward`` on the arrays of ``args`` and, if any input requires grad, record a node."""
        mode = STATE.__dict__  # this thread's settings: one read of the thread-local rather than three
        ctx, arrays, tensors = new_node(cls, args, mode["grad_enabled"], mode["scope"])
        try:
            y = cls.forward(ctx, *arrays)
        except Exception as e:
            raise translate.forward_error(ctx, args, e) from e
        return fastpaths.outputs(ctx, y, args, mode["anomaly"]) if tensors else y  # no Tensor in: arrays out


def new_node(cls, args: tuple, grad_on: bool, scope: str) -> tuple:
    """Make a node of ``cls`` over ``args`` (the one place nodes are made); return it, the arrays its
    forward takes, and whether any argument is a Tensor."""
    ctx = _new(cls)
    ctx.inputs, ctx.scope, ctx._clock, ctx._number = args, scope, CLOCK[0], next(NODES)
    needs, arrays, tensors = [], [], False  # one loop, not comprehensions: faster, and it runs for every op
    for a in args:
        tensor = isinstance(a, Tensor)
        needs.append((a.requires_grad and grad_on) if tensor else None)  # set before forward, as in PyTorch
        arrays.append(a._data if tensor else a)
        tensors |= tensor
    ctx.needs_input_grad = needs
    return ctx, arrays, tensors
