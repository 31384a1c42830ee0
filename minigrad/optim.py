"""Optimizers (`SGD`, `Adam`) and global-norm gradient clipping (`clip_grad_norm`).

An optimizer updates each parameter's array in place, under ``mg.no_grad()``, through the ``data`` property
(``p.data -= ...``), which stamps the parameter as modified: a graph recorded before the step that saved the
old values then refuses to backward instead of giving a wrong gradient. Parameters whose ``grad`` is None
are skipped. The update rules and Adam's defaults are PyTorch's, so results can be compared one to one.

Each optimizer below is its update rule, next to its equations; what every optimizer shares (parameter
groups, checks, ``state_dict`` / ``load_state_dict`` for checkpoints) is `minigrad.optimizer.Optimizer`.
"""

from __future__ import annotations

import math

import numpy as np

from minigrad import errors
from minigrad.optimizer import Optimizer, _is_real
from minigrad.tensor import Tensor

__all__ = ["SGD", "Adam", "Optimizer", "clip_grad_norm"]


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and L2 weight decay (PyTorch's definitions):

        g = grad + weight_decay * p
        b = g at the first step, then b = momentum * b + g      (only when momentum > 0)
        p = p - lr * b        (or p - lr * g without momentum)

    Args:
        params: a list of Tensors, of (name, Tensor) pairs (``model.named_parameters()``), or of dicts
            ``{"params": [...], "lr": ...}`` (param groups, each may override any hyperparameter).
        lr: the learning rate (>= 0); momentum: in [0, 1); weight_decay: >= 0.
    """

    defaults = {"lr": None, "momentum": 0.0, "weight_decay": 0.0}
    state_keys = ("momentum_buffer",)
    rules = {**Optimizer.rules, "momentum": ("a number in [0, 1)", lambda v: 0 <= v < 1)}

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay)

    def _update(self, p, g, group, state) -> None:
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.data
        if group["momentum"]:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = np.array(g)  # a copy: g may be the grad's own array
            else:
                b *= group["momentum"]
                b += g
            g = b
        p.data -= group["lr"] * g


class Adam(Optimizer):
    """Adam (Kingma and Ba), with PyTorch's definitions; weight decay is L2 added to the gradient:

        g = grad + weight_decay * p;   t = t + 1
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Args:
        params: as for `SGD`.
        lr: >= 0; betas: (beta1, beta2), each in [0, 1); eps: > 0, added for numerical stability;
        weight_decay: >= 0.
    """

    defaults = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}
    state_keys = ("step", "exp_avg", "exp_avg_sq")
    rules = {
        **Optimizer.rules,
        "betas": ("two numbers in [0, 1)", lambda v: len(v) == 2 and all(0 <= b < 1 for b in v)),
        "eps": ("a number > 0", lambda v: v > 0),
    }

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def _update(self, p, g, group, state) -> None:
        b1, b2 = group["betas"]
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.data
        if "exp_avg" not in state:
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
        t = state["step"] = state.get("step", 0) + 1
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        denom = np.sqrt(v) / math.sqrt(1 - b2**t) + group["eps"]
        p.data -= (group["lr"] / (1 - b1**t)) * m / denom


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale the gradients so their global L2 norm is at most ``max_norm``; return the norm before.

    The norm is sqrt(sum over every parameter of sum(grad**2)), accumulated in float64. Only when it
    exceeds ``max_norm`` is every gradient multiplied, in place, by max_norm / norm (so the new norm is
    max_norm). Parameters whose grad is None are skipped. If the norm is inf or NaN the gradients are
    left alone and that value is returned, so the caller can skip the step.

    Args:
        params: an iterable of Tensors (or of (name, Tensor) pairs), e.g. ``model.parameters()``.
        max_norm: a positive number.
    """
    if not (_is_real(max_norm) and max_norm > 0):
        raise errors.ArgumentError(f"clip_grad_norm: max_norm must be a positive number, got {max_norm!r}")
    if isinstance(params, Tensor):
        params = [params]
    grads = []
    for item in params:
        p = item[1] if isinstance(item, tuple) else item
        if not isinstance(p, Tensor):
            raise errors.ArgumentTypeError(f"clip_grad_norm: expected Tensors, got {type(p).__name__}")
        if p.grad is not None:
            grads.append(p.grad)
    total = 0.0
    for g in grads:
        a = g.data.astype(np.float64, copy=False).ravel()
        total += float(np.dot(a, a))
    norm = math.sqrt(total)
    if norm > max_norm and math.isfinite(norm):
        scale = max_norm / norm
        for g in grads:
            g.data *= scale
    return norm
