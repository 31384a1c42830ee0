"""The errors minigrad raises on purpose. Each message names the op, its scope and the shapes involved."""


class MinigradError(Exception):
    """Base class of every error minigrad raises on purpose."""


class OpError(MinigradError, ValueError):
    """An op could not run on its inputs (shapes, values)."""


class ShapeError(OpError):
    """Operand shapes do not fit an op: broadcasting, matmul alignment, a gradient of the wrong shape."""


class OpTypeError(MinigradError, TypeError):
    """An op got an argument of a type or dtype it does not accept."""


class OpIndexError(MinigradError, IndexError):
    """An index out of range or of an unsupported kind."""


class GraphError(MinigradError, RuntimeError):
    """The graph cannot be differentiated as asked: its saved values were freed by an earlier backward or
    changed in place since, the output does not require grad or has several elements and no ``grad``, or an
    input of ``mg.grad`` is not in it."""


class AnomalyError(MinigradError, FloatingPointError):
    """Raised under `mg.detect_anomaly()` by the first op whose output or gradient is not finite."""


class FileError(MinigradError, OSError):
    """A file could not be written (or would have replaced something that is not a regular file)."""


class GradcheckError(MinigradError, AssertionError):
    """Raised by `mg.gradcheck` when analytic and numeric gradients disagree; the message is a table."""


class ArgumentError(MinigradError, ValueError):
    """A checker or optimizer (`mg.gradcheck`, `mg.check_graph`, `mg.optim`) got a value it cannot use."""


class ArgumentTypeError(MinigradError, TypeError):
    """A checker or optimizer got an argument of a type it does not accept."""


def where(op: str, scope: str) -> str:
    """``matmul in lstm/forget_gate`` or just ``matmul``."""
    return f"{op} in {scope}" if scope else op
