"""`Tensor`: a NumPy array plus the graph node that produced it.

Every operator and method here is a one-line call of a primitive op from `minigrad.ops`; the arithmetic and
the derivatives live there, forward and backward side by side.
"""

from __future__ import annotations

import numpy as np

from minigrad import errors
from minigrad.state import CLOCK, STATE  # noqa: F401 (CLOCK importable here since v1)

_SCALARS = (int, float, np.integer, np.floating, np.bool_)  # bool is an int; complex is refused


def _float_array(data, dtype, copy: bool, where: str) -> np.ndarray:
    """Convert user data to an array: integers and Python numbers become the default float dtype.

    Booleans are refused rather than turned into 1.0 and 0.0: a mask handed to ``mg.tensor`` is more
    often a mistake (a comparison where a value was meant) than a choice, and the fix is one call.
    """
    try:
        a = np.array(data, dtype=dtype, copy=copy) if dtype is not None else np.array(data, copy=copy)
    except (ValueError, TypeError) as e:
        raise errors.OpTypeError(f"{where}: cannot make an array of {type(data).__name__} data ({e})") from e
    kind = a.dtype.kind
    if kind == "b":
        raise errors.OpTypeError(
            f"{where}: got boolean data; minigrad does not turn True/False into numbers silently: "
            "convert it with .astype(float) (or pass dtype=float) if 1.0/0.0 is what you mean"
        )
    if kind == "f":
        # Python floats (alone or in lists) arrive as float64 without anyone choosing it: like integers,
        # they take the default dtype. Arrays and NumPy scalars keep the dtype they carry.
        explicit = dtype is not None or isinstance(data, (np.ndarray, np.generic))
        if not explicit and a.dtype == np.float64:
            return a.astype(STATE.default_dtype, copy=False)
        return a
    if kind in "iu":
        if dtype is not None:  # an integer dtype asked for explicitly is kept
            return a
        return a.astype(STATE.default_dtype)
    raise errors.OpTypeError(
        f"{where}: unsupported dtype {a.dtype}; minigrad works on real numbers "
        "(floating point, or integers, which become floating point)"
    )


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    Args:
        data: real numbers in any form ``np.array`` accepts. Integers and Python numbers become the
            default dtype (float64 unless changed with ``mg.set_default_dtype``); float32 stays float32.
            Booleans, strings, complex numbers and objects raise `OpTypeError`. The data is copied.
        requires_grad: whether gradients with respect to this tensor are wanted.
        name: a label shown in drawings and error messages.
        dtype: force a dtype.

    ``grad`` is None until a backward pass reaches the tensor, then a Tensor of the same shape
    (gradients accumulate across backward calls, as in PyTorch; zero them with ``t.grad = None``).
    """

    # Slots and no __dict__, so that a misspelt attribute (``t.gard = None``) raises AttributeError.
    # ``_index``: which output of its node (ops with several outputs: split); ``_version`` and ``_vcell``:
    # the in-place check's stamps, see minigrad.versions.
    __slots__ = ("_data", "requires_grad", "_ctx", "grad", "name", "_index", "_version", "_vcell",
                 "__weakref__")
    __array_ufunc__ = None  # ndarray <op> Tensor defers to Tensor's reflected operators
    __array_priority__ = 1000

    def __init__(self, data, requires_grad: bool = False, name: str | None = None, dtype=None):
        a = _float_array(data._data if isinstance(data, Tensor) else data, dtype, True, "Tensor")
        if requires_grad and a.dtype.kind != "f":
            raise errors.OpTypeError(
                f"Tensor: only floating-point tensors can require gradients, got dtype {a.dtype}; "
                "leave out dtype= (integers become floating point) or pass a floating dtype"
            )
        self._data, self.requires_grad, self._ctx, self.name = a, bool(requires_grad), None, name
        self.grad, self._index, self._version, self._vcell = None, 0, 0, None

    # -- the array ---
    @property
    def data(self) -> np.ndarray:
        return self._data

    @data.setter
    def data(self, value) -> None:
        # ``t.data += 1`` also lands here (with the same array), so an in-place change is seen by the
        # version check. Writing into the array by index (``t.data[0] = 1``) does not, and is not seen.
        if value is not self._data:  # replaced: Tensors that shared the old memory are not affected
            self._data = value if isinstance(value, np.ndarray) else np.asarray(value, self._data.dtype)
            self._vcell = None
        versions.mark_modified(self)

    shape = property(lambda self: self._data.shape)
    ndim = property(lambda self: self._data.ndim)
    dtype = property(lambda self: self._data.dtype)
    size = property(lambda self: self._data.size)

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        a = self._data
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def numpy(self) -> np.ndarray:
        """The data as an ndarray (shared, not copied)."""
        return self._data

    def item(self) -> float:
        if self._data.size != 1:
            raise errors.OpError(f"item: only a one-element tensor can be converted, shape is {self.shape}")
        return self._data.item()

    def __float__(self) -> float:
        return float(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise errors.OpError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; use .any() "
                "or .all() on .data"
            )
        return bool(self._data)

    # -- the graph ---
    @property
    def grad_fn(self):
        """The node (a `Function` instance) that produced this tensor; None for a leaf."""
        return self._ctx

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def op(self) -> str | None:
        return self._ctx.op if self._ctx is not None else None

    @property
    def parents(self) -> tuple:
        """The Tensor inputs of the op that produced this tensor, in argument order."""
        if self._ctx is None:
            return ()
        return tuple(a for a in self._ctx.inputs if isinstance(a, Tensor))

    @property
    def scope(self) -> str | None:
        return self._ctx.scope if self._ctx is not None else None

    def backward(self, grad=None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into the ``grad`` of every leaf that requires grad."""
        _engine.backward(self, grad, retain_graph, create_graph)

    def retain_grad(self) -> Tensor:
        """Keep the gradient of this non-leaf tensor in ``.grad`` after backward."""
        if self._ctx is not None:
            import weakref

            if self._ctx._retain is None:
                self._ctx._retain = {}
            self._ctx._retain[self._index] = weakref.ref(self)
        return self

    def detach(self) -> Tensor:
        """The same data (shared) as a new leaf that does not require grad: cuts the graph here."""
        t = fastpaths.wrap(self._data, None, False)
        t.name = self.name
        versions.share_version(self, t)  # same memory: an in-place change through either is seen by both
        return t

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self._data.dtype.kind != "f":
            raise errors.OpTypeError(
                f"requires_grad_: only floating-point tensors can require gradients, got dtype "
                f"{self.dtype}; make a floating copy first, e.g. mg.tensor(t.data, dtype=float)"
            )
        self.requires_grad = requires_grad
        return self

    def __repr__(self) -> str:
        body = np.array2string(self._data, precision=4, threshold=20, edgeitems=2, separator=", ")
        body = body.replace("\n", "\n       ")
        extra = []
        if self.name:
            extra.append(f"name={self.name!r}")
        if self._ctx is not None:
            extra.append(f"op={self._ctx.where!r}")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        if self.dtype != np.float64:
            extra.append(f"dtype={self.dtype}")
        tail = (", " + ", ".join(extra)) if extra else ""
        return f"Tensor({body}{tail})"

    # -- operators: each one primitive op ---
    def __add__(self, other):
        return _ops.Add.apply(self, lift(other, self, "add"))

    def __radd__(self, other):
        return _ops.Add.apply(lift(other, self, "add"), self)

    def __sub__(self, other):
        return _ops.Sub.apply(self, lift(other, self, "sub"))

    def __rsub__(self, other):
        return _ops.Sub.apply(lift(other, self, "sub"), self)

    def __mul__(self, other):
        return _ops.Mul.apply(self, lift(other, self, "mul"))

    def __rmul__(self, other):
        return _ops.Mul.apply(lift(other, self, "mul"), self)

    def __truediv__(self, other):
        return _ops.Div.apply(self, lift(other, self, "div"))

    def __rtruediv__(self, other):
        return _ops.Div.apply(lift(other, self, "div"), self)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __rpow__(self, other):
        return _ops.pow(lift(other, self, "pow"), self)

    def __neg__(self):
        return _ops.Neg.apply(self)

    def __matmul__(self, other):
        return _ops.matmul(self, lift(other, self, "matmul"))

    def __rmatmul__(self, other):
        return _ops.matmul(lift(other, self, "matmul"), self)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    # Comparisons are not differentiable: they return boolean NumPy arrays. == and != keep Python's
    # identity meaning so tensors can be dict keys; compare values with ``t.data == x``.
    def __lt__(self, other):
        return self._data < np.asarray(other)

    def __le__(self, other):
        return self._data <= np.asarray(other)

    def __gt__(self, other):
        return self._data > np.asarray(other)

    def __ge__(self, other):
        return self._data >= np.asarray(other)

    __hash__ = object.__hash__

    # -- methods ---
    def exp(self):
        return _ops.Exp.apply(self)

    def log(self):
        return _ops.Log.apply(self)

    def tanh(self):
        return _ops.Tanh.apply(self)

    def sigmoid(self):
        return _ops.Sigmoid.apply(self)

    def relu(self):
        return _ops.Relu.apply(self)

    def sum(self, axis=None, keepdims: bool = False):
        return _ops.Sum.apply(self, axis, keepdims)

    def mean(self, axis=None, keepdims: bool = False):
        return _ops.mean(self, axis, keepdims)

    def max(self, axis=None, keepdims: bool = False):
        return _ops.Max.apply(self, axis, keepdims)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.Reshape.apply(self, shape)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops.Transpose.apply(self, axes or None)

    def swapaxes(self, axis1: int, axis2: int):
        for axis in (axis1, axis2):
            _ops._check_axis("swapaxes", axis, self.shape)
        axes = list(range(self.ndim))
        axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
        return _ops.Transpose.apply(self, tuple(axes))

    @property
    def T(self):  # noqa: N802 - NumPy's name
        return _ops.Transpose.apply(self, None)

    def split(self, sizes_or_n, axis: int = 0):
        return _ops.split(self, sizes_or_n, axis)


def const(a) -> Tensor:
    """Wrap an array as a constant leaf (no copy, no grad)."""
    return fastpaths.wrap(a, None, False)


def lift(x, like: Tensor, op: str = "") -> Tensor:
    """Make an operand of ``op`` a Tensor, promoting as NumPy does but keeping float32 float32."""
    return x if isinstance(x, Tensor) else _constant_operand(x, like, op)


def _constant_operand(x, like: Tensor, op: str) -> Tensor:
    """A number or an array operand as a constant Tensor: a number or an integer array takes a floating
    ``like``'s dtype. With an integer ``like``, NumPy's promotion decides (int64 + 0.5 is float64);
    nothing is ever truncated to fit an integer dtype."""
    dt = like._data.dtype
    if isinstance(x, _SCALARS):
        if dt.kind != "f":
            dt = np.result_type(dt, x)
        try:
            return fastpaths.wrap(np.asarray(x, dtype=dt), None, False)
        except OverflowError:
            raise errors.OpError(
                f"{errors.where(op or 'lift', STATE.scope)}: the number {x!r} does not fit the tensor's "
                f"dtype {dt}; convert the tensor to a wider or floating dtype first, e.g. "
                "mg.tensor(t.data, dtype=np.float64)"
            ) from None
    a = np.asarray(x)
    kind = a.dtype.kind
    if kind in "iub" and dt.kind == "f":
        a = a.astype(dt)
    elif kind not in "iubf":
        raise errors.OpTypeError(
            f"{errors.where(op or 'lift', STATE.scope)}: cannot combine a Tensor with {type(x).__name__} "
            f"data of dtype {a.dtype}; minigrad works on real numbers (floating point or integers)"
        )
    return fastpaths.wrap(a, None, False)


def tensor(data, requires_grad: bool = False, name: str | None = None, dtype=None) -> Tensor:
    """Same as ``Tensor(...)``."""
    return Tensor(data, requires_grad=requires_grad, name=name, dtype=dtype)


# These modules need Tensor defined first.
from minigrad import engine as _engine  # noqa: E402
from minigrad import fastpaths, versions  # noqa: E402
from minigrad import ops as _ops  # noqa: E402
