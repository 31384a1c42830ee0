"""The errors drawing raises on purpose: each a `mg.MinigradError`, and the built-in error it extends."""

from __future__ import annotations

from minigrad.errors import MinigradError


class DrawingError(MinigradError, ValueError):
    """An option of a drawing has a value it cannot take (a scope that matches nothing, a bad format)."""


class DrawingTypeError(MinigradError, TypeError):
    """An argument of a drawing has the wrong type (a root that is not a Tensor, a bad ``colors=``)."""


class GraphTooLargeError(DrawingError):
    """A picture would have more nodes than ``max_nodes`` allows."""


class GraphvizError(MinigradError, RuntimeError):
    """Laying out a drawing failed: no renderer, a timeout, or the renderer reported an error."""


class GraphvizNotFoundError(GraphvizError):
    """No program (or, in the browser, no WebAssembly module) that can lay out a drawing."""


class RenderTimeoutError(GraphvizError, TimeoutError):
    """The layout did not finish within the timeout."""
