"""Neural-network building blocks: `Module`, `Parameter` and a few layers."""

from minigrad.nn.module import Module
from minigrad.nn.parameter import Parameter

__all__ = ["Module", "Parameter"]
