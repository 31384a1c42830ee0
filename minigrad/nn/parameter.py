"""`Parameter`: a Tensor that a Module trains."""

from __future__ import annotations

from minigrad.tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor that requires grad by default and is registered by the Module it is assigned to.

    Drawings show parameters in their own colour.
    """

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True, name: str | None = None, dtype=None):
        super().__init__(data, requires_grad=requires_grad, name=name, dtype=dtype)
