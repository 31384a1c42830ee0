"""All of minigrad's global state, in one place.

Per thread (`STATE`, each switched on deliberately by the user):

- grad mode (`no_grad`, `enable_grad`): whether ops record the graph;
- the scope path (`scope`): a name such as ``lstm/t3/forget_gate`` stamped on every op created inside it;
- anomaly mode (`detect_anomaly`): check every forward output and backward gradient for NaN/inf;
- the default floating dtype (`set_default_dtype`) given to integer and Python-number data.

Process-wide (shared by every thread, never switched by the user):

- `CLOCK`, the mutation clock of the in-place checks (see `minigrad.versions`): one counter for all
  threads, since a Tensor made in one thread may be changed in another;
- `NODES`, the count of nodes made so far: each node is stamped with the next number, so a node is always
  numbered after the nodes that made its inputs (the backward walk runs nodes from the highest number down);
  one count for all threads, since a graph may be built in several;
- `CONSTANTS`, a cache of Python numbers as 0-d arrays of a dtype (see `minigrad.ops.elementwise`): it only
  ever grows by a handful of entries, and every thread may share them because nothing writes into them.
"""

from __future__ import annotations

import functools
import itertools
import threading

import numpy as np

from minigrad import errors


class _State(threading.local):
    def __init__(self) -> None:
        self.grad_enabled = True
        self.scope = ""
        self.anomaly = False
        self.default_dtype = np.dtype(np.float64)


STATE = _State()

# A global mutation clock: an in-place change stamps the Tensor with the next tick, and a node remembers the
# tick at which it was recorded, so backward can tell cheaply whether anything it saved changed since.
CLOCK = [0]

# Node numbers: next(NODES) is atomic under the GIL, so two threads never get the same number.
NODES = itertools.count()

CONSTANTS: dict = {}  # (number, dtype) -> that number as a 0-d array of that dtype, made once


class _Restores:
    """Enter sets a value and exit restores the one before, for each entry: one instance may be entered
    again while it is active (``with ng: with ng:``), and in several threads at once, and every exit
    undoes its own entry (a stack of previous values per thread, not one saved value)."""

    def _push(self, previous) -> None:
        entry = (threading.get_ident(), previous)
        try:
            self._stack.append(entry)
        except AttributeError:  # the first entry (a plain list: cheaper than a threading.local per scope)
            self._stack = [entry]

    def _pop(self):
        me, stack = threading.get_ident(), self.__dict__.get("_stack", ())
        for i in range(len(stack) - 1, -1, -1):  # this thread's latest entry, almost always the last
            if stack[i][0] == me:
                return stack.pop(i)[1]
        raise errors.GraphError(f"{type(self).__name__}: exited more often than it was entered")


class _Decorator(_Restores):
    """A context manager class whose instances also decorate: ``@mg.no_grad()`` runs the function inside."""

    def __call__(self, fn):
        mode = type(self)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with mode():  # a fresh instance per call, so recursion and threads are safe
                return fn(*args, **kwargs)

        return wrapper


class _GradMode(_Decorator):
    """Context manager and decorator that sets grad mode for the current thread."""

    enabled: bool

    def __enter__(self) -> None:
        self._push(STATE.grad_enabled)
        STATE.grad_enabled = self.enabled

    def __exit__(self, *exc) -> None:
        STATE.grad_enabled = self._pop()


class no_grad(_GradMode):  # noqa: N801 - PyTorch's name, used as a context manager
    """Ops inside run their forward only and record nothing (inference, optimizer updates)."""

    enabled = False


class enable_grad(_GradMode):  # noqa: N801
    """Turn recording back on inside a `no_grad` block."""

    enabled = True


def is_grad_enabled() -> bool:
    return STATE.grad_enabled


class scope(_Restores):  # noqa: N801
    """Name the ops created inside: ``with mg.scope("forget_gate"): ...``.

    Nested scopes join with ``/`` (``lstm/t3/forget_gate``). Drawings cluster ops by scope and error
    messages name it.
    """

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name or "/" in name:
            raise errors.OpError(f"scope: name must be a non-empty string without '/', got {name!r}")
        self.name = name

    def __enter__(self) -> str:
        prev = STATE.scope
        self._push(prev)
        STATE.scope = f"{prev}/{self.name}" if prev else self.name
        return STATE.scope

    def __exit__(self, *exc) -> None:
        STATE.scope = self._pop()


def current_scope() -> str:
    return STATE.scope


class detect_anomaly(_Decorator):  # noqa: N801
    """While active, the first op whose output or gradient holds NaN or inf raises `AnomalyError`.

    A context manager (``with mg.detect_anomaly(): loss.backward()``) or a decorator
    (``@mg.detect_anomaly()`` on a training step). The message names the op and its scope
    (``matmul in lstm/l0/t17/input_gate``), what held the NaN or inf (the forward output, the gradient
    arriving at the op's output, or the gradient its backward returned for input k), a summary of each
    input (name, dtype, shape, range, count of NaN and inf) and whether an input already held one or the
    op made it from finite inputs. Ops that only move values (reshape, transpose, indexing, split,
    concat, broadcast_to) pass a NaN on rather than raise, so NaN in the data is reported at the first op
    that computes with it. Each op also takes a checksum of every array it saves, and its backward
    raises GraphError if one changed by a write the version counter cannot see (``t.data[0] = 1``,
    ``np.asarray(t)[...] = ...``, ``out=``). Off by default; when off it costs one attribute read per op,
    when on a pass over every output, gradient and saved array.
    """

    def __enter__(self) -> None:
        self._push(STATE.anomaly)
        STATE.anomaly = True

    def __exit__(self, *exc) -> None:
        STATE.anomaly = self._pop()


def set_default_dtype(dtype) -> None:
    """Set the dtype that integer and Python-number data become (float64 unless changed)."""
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise errors.OpTypeError(f"set_default_dtype: expected a floating dtype, got {dt}")
    STATE.default_dtype = dt


def get_default_dtype() -> np.dtype:
    return STATE.default_dtype
