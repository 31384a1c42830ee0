"""Neural-network building blocks: `Module`, `Parameter` and a few layers."""

from minigrad.nn.layers import Embedding, Linear
from minigrad.nn.module import Module
from minigrad.nn.parameter import Parameter

__all__ = ["Embedding", "Linear", "Module", "Parameter"]
