"""minigrad: a small reverse-mode automatic-differentiation engine over NumPy arrays, written to be read.

    import minigrad as mg
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    x.grad            # Tensor([2., 4., 6.])
"""

# Tensor first: the ops it uses import it back.
from minigrad.tensor import Tensor, tensor

# isort: split

from minigrad import errors, functional, nn, optim, viz
from minigrad.engine import backward, sum_to
from minigrad.errors import (
    AnomalyError,
    FileError,
    GradcheckError,
    GraphError,
    MinigradError,
    OpError,
    OpIndexError,
    OpTypeError,
    ShapeError,
)
from minigrad.function import Function
from minigrad.gradcheck import check_graph, gradcheck
from minigrad.ops import (
    broadcast_to,
    concat,
    exp,
    log,
    matmul,
    mean,
    relu,
    sigmoid,
    split,
    stack,
    tanh,
)
from minigrad.state import (
    detect_anomaly,
    enable_grad,
    get_default_dtype,
    is_grad_enabled,
    no_grad,
    scope,
    set_default_dtype,
)
from minigrad.walks import grad

__version__ = "0.1.0"

__all__ = [
    "AnomalyError", "backward", "broadcast_to", "check_graph", "concat", "detect_anomaly", "enable_grad",
    "errors", "exp", "FileError", "Function", "functional", "get_default_dtype", "grad", "gradcheck",
    "GradcheckError", "GraphError", "is_grad_enabled", "log", "matmul", "mean", "MinigradError", "nn",
    "no_grad", "OpError", "OpIndexError", "optim", "OpTypeError", "relu", "scope", "set_default_dtype",
    "ShapeError", "sigmoid", "split", "stack", "sum_to", "tanh", "tensor", "Tensor", "viz",
]  # fmt: skip
