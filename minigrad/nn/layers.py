"""Layers built only from primitive ops, each recorded inside a scope named after it (``linear``,
``embedding``) so a drawing shows the layer as one labelled cluster."""

from __future__ import annotations

import math

import numpy as np

from minigrad import errors
from minigrad.functional import _check_range, _index_array
from minigrad.nn.module import Module
from minigrad.nn.parameter import Parameter
from minigrad.ops import matmul
from minigrad.state import STATE, scope
from minigrad.tensor import Tensor, lift


def generator(rng, who: str) -> np.random.Generator:
    """``rng`` as a NumPy Generator: a Generator is used as is, an int seeds a new one, None seeds from the
    operating system (a different initialisation on every run)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise errors.OpTypeError(
        f"{who}: rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}"
    )


def _positive_int(value, name: str, who: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise errors.OpError(f"{who}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _float_dtype(dtype, who: str) -> np.dtype:
    dt = STATE.default_dtype if dtype is None else np.dtype(dtype)
    if dt.kind != "f":
        raise errors.OpTypeError(f"{who}: dtype must be a floating dtype, got {dt}")
    return dt


class Linear(Module):
    """y = x @ weight.T + bias, applied to the last axis of x.

    Args:
        in_features, out_features: sizes of the last axis of the input and of the output.
        bias: whether to add a learned bias.
        rng: a ``np.random.Generator``, an int seed, or None (see `generator`).
        dtype: the parameters' dtype; None means ``mg.get_default_dtype()`` (float64 unless changed).

    Parameters (PyTorch's layout, so weights copy across unchanged):
        weight: (out_features, in_features); bias: (out_features,). Both drawn from
        uniform(-1/sqrt(in_features), 1/sqrt(in_features)).

    ``forward`` takes a Tensor or array of shape (..., in_features) and returns (..., out_features).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rng=None, dtype=None):
        self.in_features = _positive_int(in_features, "in_features", "Linear")
        self.out_features = _positive_int(out_features, "out_features", "Linear")
        dt = _float_dtype(dtype, "Linear")
        gen = generator(rng, "Linear")
        k = 1.0 / math.sqrt(self.in_features)
        w = gen.uniform(-k, k, (self.out_features, self.in_features))
        self.weight = Parameter(w, dtype=dt, name="weight")
        self.bias = Parameter(gen.uniform(-k, k, self.out_features), dtype=dt, name="bias") if bias else None

    def forward(self, x) -> Tensor:
        if not isinstance(x, Tensor):
            x = lift(np.asarray(x), self.weight)  # integer arrays take the weight's dtype
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise errors.ShapeError(
                f"{errors.where(repr(self), STATE.scope)}: expected input of shape (..., "
                f"{self.in_features}), got {x.shape}"
            )
        with scope("linear"):
            y = matmul(x, self.weight.T)
            if self.bias is not None:
                y = y + self.bias
        return y

    def __repr__(self) -> str:
        return (
            f"Linear(in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None})"
        )


class Embedding(Module):
    """A lookup table: row ``i`` of ``weight`` is the vector of id ``i``.

    Args:
        num_embeddings: how many ids (rows); embedding_dim: the length of each vector.
        rng: a ``np.random.Generator``, an int seed, or None (see `generator`).
        dtype: the weight's dtype; None means ``mg.get_default_dtype()``.

    Parameters: weight (num_embeddings, embedding_dim), drawn from the standard normal (as PyTorch).

    ``forward`` takes integer ids of any shape (...) (an int array, or floats holding whole numbers) and
    returns (..., embedding_dim): one getitem op, whose backward adds the gradient of a repeated id once per
    occurrence. Ids outside [0, num_embeddings) raise (negative ids are not counted from the end).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, rng=None, dtype=None):
        self.num_embeddings = _positive_int(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = _positive_int(embedding_dim, "embedding_dim", "Embedding")
        dt = _float_dtype(dtype, "Embedding")
        w = generator(rng, "Embedding").standard_normal((self.num_embeddings, self.embedding_dim))
        self.weight = Parameter(w, dtype=dt, name="weight")

    def forward(self, ids) -> Tensor:
        who = repr(self)
        ids = _index_array(ids, who, "ids")
        _check_range(ids, self.num_embeddings, who, "id", f"{self.num_embeddings} embeddings")
        with scope("embedding"):
            return self.weight[ids]

    def __repr__(self) -> str:
        return f"Embedding(num_embeddings={self.num_embeddings}, embedding_dim={self.embedding_dim})"
