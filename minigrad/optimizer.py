"""The `Optimizer` base class of `mg.optim`: parameter groups, the checks of parameters and
hyperparameters, per-parameter state, and the state dicts that checkpoints hold. The update rules
themselves are in `minigrad.optim`.

Checkpoints. ``state_dict()`` returns a FLAT dict whose values are only NumPy arrays, Python numbers and
lists of numbers, so it can go into an ``.npz`` file (or JSON for the numbers) without pickle, and
``load_state_dict`` accepts it back with numbers given as 0-d arrays (how ``np.load`` returns them) and
lists given as 1-d arrays. Parameters are numbered 0, 1, 2, ... in the order they were given, across groups.
For an Adam over two parameters in one group, after at least one step::

    "param_groups.0.params"        [0, 1]          the parameter numbers in group 0
    "param_groups.0.lr"            0.001           each hyperparameter of group 0 ...
    "param_groups.0.betas"         [0.9, 0.999]
    "param_groups.0.eps"           1e-08
    "param_groups.0.weight_decay"  0.0
    "state.0.step"                 3               ... and each piece of per-parameter state
    "state.0.exp_avg"              ndarray, parameter 0's shape
    "state.0.exp_avg_sq"           ndarray, parameter 0's shape
    "state.1.step", "state.1.exp_avg", "state.1.exp_avg_sq"

SGD has ``lr``, ``momentum``, ``weight_decay`` and, once it has stepped with momentum,
``state.<i>.momentum_buffer``. A parameter that never had a gradient has no ``state`` entries. The arrays
are copies, and loading copies them again, so a saved dict never changes; loading restores the
hyperparameters too, and training then continues bit for bit as if it had not stopped.
"""

from __future__ import annotations

import numbers

import numpy as np

from minigrad import errors
from minigrad.state import no_grad
from minigrad.tensor import Tensor


def _is_real(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _number(value, key: str) -> float:
    """A float from a Python number or a one-element array (how np.load returns numbers)."""
    a = np.asarray(value)
    if a.size != 1 or a.dtype.kind not in "iuf":
        raise errors.ArgumentError(f"{key} must be a number, got {value!r}")
    return float(a.reshape(()))


def _flatten_params(params, who: str) -> list[tuple[str | None, Tensor]]:
    """(name or None, tensor) from a list of Tensors or of (name, Tensor) pairs, checked."""
    out = []
    for k, item in enumerate(params):
        name = None
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            name, item = item
        label = f"parameter {k}" + (f" ({name!r})" if name else "")
        if not isinstance(item, Tensor):
            raise errors.ArgumentTypeError(f"{who}: {label} is a {type(item).__name__}, not a Tensor")
        shape = f"of shape {item.shape}"
        if not item.requires_grad:
            raise errors.ArgumentError(
                f"{who}: {label} {shape} does not require grad, so it would never get a gradient; "
                "create it with requires_grad=True (a Parameter does by default) or leave it out"
            )
        if not item.is_leaf:
            raise errors.ArgumentError(
                f"{who}: {label} {shape} is not a leaf (it is the output of {item.grad_fn.where}); "
                "optimize the leaf tensors it was computed from"
            )
        out.append((name, item))
    return out


class Optimizer:
    """Base class: parameter groups, per-parameter state, `zero_grad`, `step` and the state dicts.

    A subclass sets ``defaults`` (its hyperparameters), ``state_keys`` (the names of its per-parameter
    state) and defines ``_update(p, g, group, state)``, which changes ``p.data`` for gradient array ``g``.
    """

    defaults: dict = {}
    state_keys: tuple = ()
    # hyperparameter -> (what it must be, test); the test receives a float (betas: a tuple of floats)
    rules: dict = {
        "lr": ("a number >= 0", lambda v: v >= 0),
        "weight_decay": ("a number >= 0", lambda v: v >= 0),
    }

    def __init__(self, params, **hyper):
        who = type(self).__name__
        self._check_hyper(hyper, who)
        if isinstance(params, Tensor):
            raise errors.ArgumentTypeError(
                f"{who}: params must be a list of Tensors, got one Tensor; wrap it in a list"
            )
        if hasattr(params, "named_parameters"):
            raise errors.ArgumentTypeError(
                f"{who}: params must be a list of Tensors, got a Module; pass .parameters()"
            )
        params = list(params)
        if not params:
            raise errors.ArgumentError(f"{who}: got an empty parameter list; there is nothing to optimize")
        dict_groups = all(isinstance(g, dict) for g in params)
        groups = params if dict_groups else [{"params": params}]
        self.param_groups: list[dict] = []
        seen: dict[int, int] = {}  # id -> parameter number
        for gi, g in enumerate(groups):
            unknown = sorted(set(g) - {"params", *self.defaults})
            if unknown:
                raise errors.ArgumentError(
                    f"{who}: param group {gi} has unknown keys {unknown}; allowed: "
                    f"{sorted(['params', *self.defaults])}"
                )
            if "params" not in g:
                raise errors.ArgumentError(f"{who}: param group {gi} has no 'params' entry")
            group = {**hyper, **{k: v for k, v in g.items() if k != "params"}}
            self._check_hyper(group, f"{who} (param group {gi})")
            ps = _flatten_params(g["params"], f"{who} (param group {gi})" if dict_groups else who)
            if not ps:
                raise errors.ArgumentError(f"{who}: param group {gi} is empty")
            for _, p in ps:
                if id(p) in seen:
                    raise errors.ArgumentError(
                        f"{who}: the same tensor (shape {p.shape}) is given twice, as parameters "
                        f"{seen[id(p)]} and {len(seen)}; each parameter must appear once"
                    )
                seen[id(p)] = len(seen)
            group["params"] = [p for _, p in ps]
            self.param_groups.append(group)
        self.state: dict[int, dict] = {}  # parameter number -> {state key: array or int}

    def _check_hyper(self, hyper: dict, who: str) -> None:
        """Check every hyperparameter in ``hyper`` against ``rules``; numbers become floats in place."""
        for k, (must, ok) in self.rules.items():
            given = hyper.get(k)
            if isinstance(self.defaults[k], tuple):
                good = isinstance(given, (tuple, list)) and all(_is_real(x) for x in given)
                v = tuple(float(x) for x in given) if good else None
            else:
                good = _is_real(given)
                v = float(given) if good else None
            if not (good and ok(v)):
                raise errors.ArgumentError(f"{who}: {k} must be {must}, got {given!r}")
            hyper[k] = v

    @property
    def params(self) -> list[Tensor]:
        """Every parameter, in number order (the order they were given, across groups)."""
        return [p for g in self.param_groups for p in g["params"]]

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to None (the next backward then allocates it afresh)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        with no_grad():
            i = 0
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        self._update(p, p.grad.data, group, self.state.setdefault(i, {}))
                    i += 1

    def _update(self, p: Tensor, g: np.ndarray, group: dict, state: dict) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        g = self.param_groups[0]
        hyper = ", ".join(f"{k}={g[k]}" for k in self.defaults)
        n = len(self.params)
        return f"{type(self).__name__}({hyper}; {n} parameters in {len(self.param_groups)} group(s))"

    # -- checkpoints ---
    def state_dict(self) -> dict:
        """The hyperparameters and per-parameter state as a flat dict; see the module docstring."""
        out: dict = {}
        start = 0
        for gi, group in enumerate(self.param_groups):
            n = len(group["params"])
            out[f"param_groups.{gi}.params"] = list(range(start, start + n))
            start += n
            for k in self.defaults:
                v = group[k]
                out[f"param_groups.{gi}.{k}"] = list(v) if isinstance(v, tuple) else v
        for i in sorted(self.state):
            for k, v in self.state[i].items():
                out[f"state.{i}.{k}"] = v.copy() if isinstance(v, np.ndarray) else v
        return out

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what `state_dict` returned (from this optimizer type with the same parameter shapes).

        Everything is checked before anything changes; the error lists every problem at once.
        """
        who = f"{type(self).__name__}.load_state_dict"
        params = self.params
        problems: list[str] = []
        groups: list[dict] = [{} for _ in self.param_groups]
        state: dict[int, dict] = {}
        for key, value in state_dict.items():
            parts = str(key).split(".")
            kind, num, name = parts if len(parts) == 3 else ("", "", "")
            i = int(num) if num.isdigit() else -1
            if kind == "param_groups" and 0 <= i < len(groups) and name in ("params", *self.defaults):
                groups[i][name] = value
            elif kind == "state" and 0 <= i < len(params) and name in self.state_keys:
                if name == "step":
                    try:
                        state.setdefault(i, {})[name] = int(_number(value, key))
                    except errors.ArgumentError as e:
                        problems.append(str(e))
                elif np.shape(value) != params[i].shape:
                    problems.append(f"{key}: expected shape {params[i].shape}, got {np.shape(value)}")
                else:
                    state.setdefault(i, {})[name] = np.array(value, dtype=params[i].dtype)
            else:
                problems.append(f"unexpected key {key!r}")
        for i, st in sorted(state.items()):
            missing = [k for k in self.state_keys if k not in st]
            if missing:
                problems.append(f"state of parameter {i} is missing " + ", ".join(missing))
        start = 0
        for gi, (group, loaded) in enumerate(zip(self.param_groups, groups)):
            expected = list(range(start, start + len(group["params"])))
            start += len(expected)
            missing = [k for k in ("params", *self.defaults) if k not in loaded]
            if missing:
                problems.append(f"param group {gi} is missing " + ", ".join(missing))
                continue
            numbers = [int(j) for j in np.ravel(loaded.pop("params"))]
            if numbers != expected:
                problems.append(
                    f"param group {gi} holds parameters {numbers} in the state dict but {expected} here"
                )
            try:
                for k in self.defaults:
                    v = loaded[k]
                    if isinstance(self.defaults[k], tuple):
                        loaded[k] = [_number(x, k) for x in np.ravel(v)]
                    else:
                        loaded[k] = _number(v, k)
                self._check_hyper(loaded, f"param group {gi}")
            except errors.ArgumentError as e:
                problems.append(str(e))
        if problems:
            raise errors.ArgumentError(f"{who}: " + "; ".join(problems))
        for group, loaded in zip(self.param_groups, groups):
            group.update(loaded)
        self.state = state
