"""Error translation: what NumPy raises inside an op becomes a minigrad error naming the op and its scope.

``np.ones((3, 4)) @ np.ones((5, 2))`` raises a ValueError that names no op; inside ``matmul`` in
``lstm/t3/input_gate`` it becomes a `ShapeError` saying so, with the dtype and shape of every input. The
original error stays attached as ``__cause__``.
"""

from __future__ import annotations

import numpy as np

from minigrad import errors
from minigrad.tensor import Tensor

_ERRORS = (
    (IndexError, errors.OpIndexError),
    (TypeError, errors.OpTypeError),
    (ValueError, errors.ShapeError),
    (Exception, errors.OpError),
)

# What NumPy raises (shapes, types, indices, floating-point trouble). Anything else raised in a backward,
# such as an exercise's NotImplementedError, passes through unchanged.
NUMPY_ERRORS = (ValueError, TypeError, IndexError, ArithmeticError)


def describe_inputs(args) -> str:
    """``float64 (3, 4), array float32 (2,)``: the dtype and shape of each Tensor or array argument."""
    parts = []
    for a in args:
        if isinstance(a, Tensor):
            parts.append(f"{a.dtype} {a.shape}")
        elif isinstance(a, np.ndarray):
            parts.append(f"array {a.dtype} {a.shape}")
    return ", ".join(parts)


def forward_error(ctx, args, e: Exception) -> Exception:
    """The minigrad error for an exception raised by ``ctx``'s forward (a minigrad error is raised again
    unchanged)."""
    if isinstance(e, errors.MinigradError):
        raise e
    msg = str(e).strip() or type(e).__name__
    cls = next(new for old, new in _ERRORS if isinstance(e, old))
    return cls(f"{ctx.where}: {msg} (inputs: {describe_inputs(args)})")


def backward_error(node, e: Exception, create_graph: bool) -> Exception:
    """The minigrad error naming the op for what NumPy raised in ``node``'s backward (a shape mismatch in
    a user's Function, a FloatingPointError under ``np.seterr(all="raise")``); anything else, such as an
    exercise's NotImplementedError or a minigrad error, is raised again unchanged."""
    if isinstance(e, errors.MinigradError) or not isinstance(e, NUMPY_ERRORS):
        raise e
    if create_graph and isinstance(e, TypeError):
        return errors.OpTypeError(
            f"{node.where}.backward failed with create_graph=True ({e}); with create_graph its "
            "formulas receive Tensors, so they must use minigrad ops (operators, Tensor methods, "
            "mg.exp/mg.log/..., other Functions' apply) rather than NumPy functions"
        )
    cls = next(new for old, new in _ERRORS if isinstance(e, old))
    msg = str(e).strip() or type(e).__name__
    return cls(f"{node.where}.backward: {msg} (inputs: {describe_inputs(node.inputs)})")


def real_array(g, dtype, lead: str, tail: str = "") -> np.ndarray:
    """``g`` as an array of ``dtype``, or OpTypeError if it is not real numbers (strings, complex
    numbers, objects such as a generator)."""
    a = g if isinstance(g, np.ndarray) else np.asarray(g)
    if a.dtype.kind not in "fiub":
        kind = type(g).__name__ + ("" if a.dtype.kind == "O" else f" of dtype {a.dtype}")
        raise errors.OpTypeError(
            f"{lead} {kind}{tail}; a gradient is an array of real numbers, a Tensor, a number "
            "or None"
        )
    return a.astype(dtype, copy=False)
