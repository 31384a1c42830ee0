"""The random problems `lstm.compare` runs a student's function on, and the checks of what the function
is given and what it returns."""

from __future__ import annotations

import numpy as np

from lstm.reference import PARAM_NAMES
from minigrad.nn import Parameter


def step_problem(input_size: int = 3, hidden_size: int = 4, batch_size: int = 2, seed: int = 0,
                 dtype=np.float64) -> dict:
    """A random one-step problem: params, x (B, I), h_prev, c_prev, and the upstream dh, dc (B, H).

    Values are N(0, 1), weights N(0, 0.6^2); drawn in float64 from ``seed``, then cast to dtype.
    """
    rng = np.random.default_rng(seed)
    B, I, H = batch_size, input_size, hidden_size
    problem = {"params": _random_params(rng, I, H), "x": rng.standard_normal((B, I))}
    for name in ("h_prev", "c_prev", "dh", "dc"):
        problem[name] = rng.standard_normal((B, H))
    return _cast(problem, dtype)

def sequence_problem(T: int = 5, input_size: int = 3, hidden_size: int = 4, batch_size: int = 2,
                     seed: int = 0, dtype=np.float64) -> dict:
    """A random sequence problem: params, x (B, T, I), h0, c0 (B, H), and the upstream dout (B, T, H),
    dh_T, dc_T (B, H); drawn like `step_problem`."""
    rng = np.random.default_rng(seed)
    B, I, H = batch_size, input_size, hidden_size
    problem = {"params": _random_params(rng, I, H), "x": rng.standard_normal((B, T, I))}
    problem["h0"], problem["c0"] = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    problem["dout"] = rng.standard_normal((B, T, H))
    problem["dh_T"], problem["dc_T"] = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    return _cast(problem, dtype)

def _random_params(rng: np.random.Generator, I: int, H: int) -> dict[str, np.ndarray]:
    # Larger than init_params' weights, so the gates spread over (0, 1) instead of sitting near 0.5: the
    # derivative factors s (1 - s) and 1 - t^2 then vary from entry to entry, and a wrong one cannot pass
    # by coincidence.
    shapes = _param_shapes(I, H)
    return {name: rng.normal(0.0, 0.6, shapes[name]) for name in PARAM_NAMES}

def _param_shapes(I: int, H: int) -> dict[str, tuple]:
    return {"weight_ih": (4 * H, I), "weight_hh": (4 * H, H), "bias_ih": (4 * H,), "bias_hh": (4 * H,)}

_PARAM_LAYOUTS = {"weight_ih": "(4*hidden_size, input_size)", "weight_hh": "(4*hidden_size, hidden_size)",
                  "bias_ih": "(4*hidden_size,)", "bias_hh": "(4*hidden_size,)"}  # fmt: skip

def _cast(arrays: dict, dtype) -> dict:
    return {k: (v.astype(dtype) if isinstance(v, np.ndarray) else _cast(v, dtype)) for k, v in arrays.items()}

def _copy(arrays: dict) -> dict:
    return {k: (v.copy() if isinstance(v, np.ndarray) else _copy(v)) for k, v in arrays.items()}

def _check_sizes(who: str, **sizes) -> None:
    for name, n in sizes.items():
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{who}: {name} must be a positive integer, got {n!r}")

def _check_dtype(who: str, dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{who}: dtype must be a floating dtype, got {dtype}")
    return dtype

def _check_callable(who: str, fn, signature: str) -> None:
    if not callable(fn):
        raise TypeError(f"{who}: expected your function {signature}, got {type(fn).__name__}")

def _check_returned(who: str, result, shapes: dict[str, tuple], layouts: dict[str, str]):
    """The student's (dx, dh, dc, grads) as float arrays of the expected shapes, or a clear error."""
    names = list(shapes)[:3]
    if not isinstance(result, (tuple, list)) or len(result) != 4:
        length = f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""
        got = f"a {type(result).__name__}{length}"
        raise ValueError(f"{who}: your function must return ({', '.join(names)}, grads), got {got}")
    *inputs, grads = result
    if not isinstance(grads, dict):
        raise ValueError(f"{who}: the fourth value returned must be the dict of parameter gradients, "
                         f"got {type(grads).__name__}")  # fmt: skip
    missing = [n for n in PARAM_NAMES if n not in grads]
    if missing:
        raise ValueError(f"{who}: the grads your function returned miss {', '.join(missing)}; "
                         f"expected keys {', '.join(PARAM_NAMES)}")  # fmt: skip
    out = dict(zip(names, inputs))
    out.update({n: grads[n] for n in PARAM_NAMES})
    for name, value in out.items():
        a = np.asarray(value)
        if a.shape != shapes[name]:
            raise ValueError(
                f"{who}: your function returned d{name} of shape {a.shape} but expected {shapes[name]} "
                f"{layouts[name]}"
            )
        if a.dtype.kind not in "fiu":
            raise TypeError(f"{who}: your function returned d{name} of dtype {a.dtype}; expected floats")
        out[name] = a
    return out

def _gate_params(params: dict) -> dict[str, Parameter]:
    return {n: Parameter(params[n].copy(), name=n) for n in PARAM_NAMES}
