"""`Module`: parameters and submodules found by walking attributes, plus state dicts."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from minigrad import errors
from minigrad.nn.parameter import Parameter


class Module:
    """Base class of models. Assign `Parameter`s and `Module`s as attributes (or lists of them) and they
    are found by `named_parameters()` in assignment order, with dotted names (``cell.weight_ih``,
    ``layers.0.weight``). Subclasses define ``forward`` and are called like functions.
    """

    training = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The Modules held directly by this one (as attributes or in list/tuple attributes)."""
        for name, value in vars(self).items():
            items = enumerate(value) if isinstance(value, (list, tuple)) else [(None, value)]
            for i, item in items:
                if isinstance(item, Module):
                    yield (name if i is None else f"{name}.{i}"), item

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(dotted name, module) pairs: this module first (named ``prefix``), then its submodules depth
        first in assignment order, each once, so a module that refers back to its parent ends the walk."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:  # iterative, like every walk in minigrad
            name, mod = stack.pop()
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            yield name, mod
            pre = f"{name}." if name else ""
            stack.extend(reversed([(pre + n, child) for n, child in mod.named_children()]))

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs, each parameter once (under its first name): a module's own
        parameters in assignment order, then those of its submodules, depth first."""
        seen: set[int] = set()
        for name, mod in self.named_modules(prefix):
            pre = f"{name}." if name else ""
            for attr, value in vars(mod).items():
                items = enumerate(value) if isinstance(value, (list, tuple)) else [(None, value)]
                for i, item in items:
                    if isinstance(item, Parameter) and id(item) not in seen:
                        seen.add(id(item))
                        yield (pre + attr if i is None else f"{pre}{attr}.{i}"), item

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        for _, mod in self.named_modules():
            mod.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameter arrays by dotted name (copies, so later training does not change them)."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy arrays into the parameters by name, checking every name, shape and value first.

        Nothing is changed unless everything fits; the error (`OpError`) lists every missing, unexpected,
        mis-shaped and unusable entry at once. Values must be real numbers (floating point or integers)
        that stay finite in the parameter's dtype: booleans, complex numbers, strings, dates, records,
        NaN and inf are refused. With ``strict=False`` missing and unexpected keys are allowed (shapes
        and values must still fit).
        """
        params = dict(self.named_parameters())
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        wrong, bad, arrays = [], [], {}
        for k, p in params.items():
            if k not in state:
                continue
            a, problem = _parameter_value(state[k], p.dtype)
            if problem:
                bad.append(f"{k}: {problem}")
            elif a.shape != p.shape:
                wrong.append(f"{k}: expected {p.shape}, got {a.shape}")
            else:
                arrays[k] = a
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if wrong:
            problems.append("wrong shapes: " + "; ".join(wrong))
        if bad:
            problems.append("unusable values: " + "; ".join(bad))
        if problems:
            raise errors.OpError(f"load_state_dict for {type(self).__name__}: " + " | ".join(problems))
        for k, a in arrays.items():
            params[k].data = a

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}("]
        for name, p in self.named_parameters():
            lines.append(f"  {name}: {p.shape} {p.dtype}")
        lines.append(")")
        return "\n".join(lines)


def _parameter_value(value, dtype: np.dtype) -> tuple[np.ndarray | None, str]:
    """``value`` as a new array of ``dtype``, or None and what makes it unusable as a parameter."""
    try:
        a = np.asarray(value)
    except (ValueError, TypeError) as e:  # a ragged list, for one
        return None, f"cannot be made an array ({e})"
    if a.dtype.kind not in "iuf":
        return None, f"dtype {a.dtype} is not real numbers (floating point or integers)"
    with np.errstate(over="ignore"):  # an overflow shows up as inf, reported below
        a = a.astype(dtype)
    n_bad = a.size - int(np.isfinite(a).sum())
    if n_bad:
        return None, f"{n_bad} of {a.size} values are NaN or inf (in {dtype})"
    return a, ""
