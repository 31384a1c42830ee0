"""The three opinions `lstm.compare` holds against each other, and the rows comparing them.

The student's function is run on the problem as it is and on probes of it: for one step, a cache whose
weights keep only one gate's rows; for a sequence, an upstream gradient non-zero at one time step only
(see the package docstring). Autograd's gradients come from `lstm.LSTMCell` / `lstm.LSTM` through
`mg.grad`, the numeric ones from central differences of `lstm.reference`'s forward.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

import minigrad as mg
from lstm import reference
from lstm.compare.problems import _PARAM_LAYOUTS, _cast, _check_returned, _copy, _gate_params, _param_shapes
from lstm.compare.report import GATES, LETTER, Row, _compare, _Tolerances
from lstm.layer import LSTM
from lstm.lstm_cell import LSTMCell
from lstm.reference import PARAM_NAMES, gate_slices
from minigrad.numeric import central_differences, grade
from minigrad.ops import Sigmoid, Tanh


def _central_differences(loss: Callable[[], float], arrays: dict[str, np.ndarray]) -> dict:
    """d loss / d every entry of every array (float64 arrays, changed in place and restored)."""
    return {name: central_differences(loss, a) for name, a in arrays.items()}

def _rows_label(s: slice) -> str:
    return f"rows {s.start}:{s.stop}"

def _param_rows(user: dict, auto: dict, numeric: dict | None, tol: _Tolerances, H: int, step=None):
    """For each parameter: the whole array, then each gate's block of rows."""
    rows = []
    for name in PARAM_NAMES:
        num = None if numeric is None else numeric[name]
        rows.append(_compare(name, user[name], auto[name], tol, num, step=step))
        for gate, s in zip(GATES, gate_slices(H).values()):
            num_k = None if num is None else num[s]
            rows.append(_compare(name, user[name][s], auto[name][s], tol, num_k, gate, _rows_label(s), step))
    return rows

def _preactivation(gate_value: mg.Tensor, gate: str) -> mg.Tensor:
    """The input of the sigmoid or tanh that made a gate's value: the gate's pre-activation a_k."""
    node = gate_value.grad_fn
    if not isinstance(node, (Sigmoid, Tanh)):
        raise RuntimeError(
            f"compare: expected the {gate} gate of LSTMCell to end in a sigmoid or tanh, got "
            f"{None if node is None else node.op}; the per-gate breakdown of dx needs that"
        )
    return gate_value.parents[0]

def _autograd_step(problem: dict) -> tuple[dict, dict]:
    """Autograd's gradients of <dh, h> + <dc, c> for one LSTMCell step, and da_k for each gate."""
    params = _gate_params(problem["params"])
    cell = LSTMCell.from_parameters(params)
    x = mg.tensor(problem["x"], requires_grad=True, name="x")
    h = mg.tensor(problem["h_prev"], requires_grad=True, name="h_prev")
    c = mg.tensor(problem["c_prev"], requires_grad=True, name="c_prev")
    step = cell.step(x, (h, c))
    pre = [_preactivation(v, g) for v, g in zip((step.i, step.f, step.g, step.o), GATES)]
    leaves = [params[n] for n in PARAM_NAMES] + [x, h, c]
    got = mg.grad([step.h, step.c], leaves + pre, grad_outputs=[problem["dh"], problem["dc"]])
    names = list(PARAM_NAMES) + ["x", "h_prev", "c_prev"]
    grads = {n: g.data for n, g in zip(names, got)}
    da = {gate: g.data for gate, g in zip(GATES, got[len(leaves):])}
    return grads, da

def _numeric_step(problem: dict) -> dict:
    """Central differences (float64) of <dh, h> + <dc, c> through `reference.lstm_step_forward`."""
    p = _cast(_copy(problem), np.float64)
    params = p["params"]

    def loss() -> float:
        h, c, _ = reference.lstm_step_forward(p["x"], p["h_prev"], p["c_prev"], params)
        return float(np.vdot(h, p["dh"]) + np.vdot(c, p["dc"]))

    return _central_differences(loss, {**params, "x": p["x"], "h_prev": p["h_prev"], "c_prev": p["c_prev"]})

def _masked_cache(cache: reference.StepCache, rows: slice) -> reference.StepCache:
    """The cache with weight_ih and weight_hh zero outside one gate's rows."""
    w_ih, w_hh = np.zeros_like(cache.weight_ih), np.zeros_like(cache.weight_hh)
    w_ih[rows], w_hh[rows] = cache.weight_ih[rows], cache.weight_hh[rows]
    return cache._replace(weight_ih=w_ih, weight_hh=w_hh)

def _input_rows(name: str, weight_name: str, weight: np.ndarray, user: np.ndarray, terms: dict,
                auto: np.ndarray, da: dict, numeric, tol: _Tolerances, H: int) -> list[Row]:
    """The whole input gradient, then each gate's term of it (see the package docstring)."""
    whole = _compare(name, user, auto, tol, numeric)
    if not grade(sum(terms.values()), user, tol.atol, tol.rtol).ok:
        # Not a sum of per-gate terms: say so once rather than blame a gate.
        note = f"not split per gate: your d{name} is not a sum of da_k @ {weight_name}[rows of k]"
        return [dataclasses.replace(whole, note=note)]
    rows = [whole]
    for gate, s in zip(GATES, gate_slices(H).values()):
        part = f"term da_{LETTER[gate]} @ {weight_name}[{s.start}:{s.stop}]"
        rows.append(_compare(name, terms[gate], da[gate] @ weight[s], tol, None, gate, part))
    return rows

def _autograd_sequence(problem: dict, probes: list[tuple]) -> tuple[list[dict], dict]:
    """Autograd's gradients of <dout, out> + <dh_T, h_T> + <dc_T, c_T> through one `lstm.LSTM` layer, for
    each probe (dout, dh_T, dc_T); and the layer's forward values (out, h_T, c_T, and the gates i, f, g, o
    stacked over time, each (B, T, H))."""
    x_data, params_data = problem["x"], problem["params"]
    _, _, I = x_data.shape
    H = params_data["weight_hh"].shape[1]
    layer = LSTM(I, H, return_sequences=True, return_state=True, dtype=x_data.dtype, rng=0)
    layer.load_state_dict({f"{n}_l0": params_data[n] for n in PARAM_NAMES})
    params = [getattr(layer, f"{n}_l0") for n in PARAM_NAMES]
    x = mg.tensor(x_data, requires_grad=True, name="x")
    h0 = mg.tensor(problem["h0"][None], requires_grad=True, name="h0")
    c0 = mg.tensor(problem["c0"][None], requires_grad=True, name="c0")
    out, h_n, c_n, gates = layer(x, state=(h0, c0), return_gates=True)
    names = list(PARAM_NAMES) + ["x", "h0", "c0"]
    results = []
    for dout, dh_T, dc_T in probes:
        got = mg.grad([out, h_n, c_n], params + [x, h0, c0], grad_outputs=[dout, dh_T[None], dc_T[None]],
                      retain_graph=True)  # fmt: skip
        grads = {n: g.data for n, g in zip(names, got)}
        grads["h0"], grads["c0"] = grads["h0"][0], grads["c0"][0]
        results.append(grads)
    forward = {"out": out.data, "h_T": h_n.data[0], "c_T": c_n.data[0]}
    for k in "ifgo":
        forward[k] = np.stack([getattr(step, k).data for step in gates[0]], axis=1)
    return results, forward

def _numeric_sequence(problem: dict) -> dict:
    """Central differences (float64) of <dout, out> + <dh_T, h_T> + <dc_T, c_T> through
    `reference.lstm_forward`."""
    p = _cast(_copy(problem), np.float64)
    params = p["params"]

    def loss() -> float:
        out, h_T, c_T, _ = reference.lstm_forward(p["x"], p["h0"], p["c0"], params)
        return float(np.vdot(out, p["dout"]) + np.vdot(h_T, p["dh_T"]) + np.vdot(c_T, p["dc_T"]))

    return _central_differences(loss, {**params, "x": p["x"], "h0": p["h0"], "c0": p["c0"]})

def _sequence_input_rows(user: dict, auto: dict, numeric: dict | None, tol: _Tolerances, step=None):
    """x whole (full problem only) and per time step, then h0 and c0."""
    num = (lambda name: None) if numeric is None else numeric.get
    rows = [] if step is not None else [_compare("x", user["x"], auto["x"], tol, num("x"))]
    for s in range(user["x"].shape[1]):
        num_s = None if numeric is None else numeric["x"][:, s]
        rows.append(_compare(f"x[:, {s}]", user["x"][:, s], auto["x"][:, s], tol, num_s, step=step))
    for name in ("h0", "c0"):
        rows.append(_compare(name, user[name], auto[name], tol, num(name), step=step))
    return rows

def _sequence_rows(who: str, backward: Callable, problem: dict, tol: _Tolerances, check_numeric: bool):
    """The rows of the full problem and of every probe, and autograd's forward values."""
    B, T, I = problem["x"].shape
    H = problem["params"]["weight_hh"].shape[1]
    shapes = {"x": (B, T, I), "h0": (B, H), "c0": (B, H), **_param_shapes(I, H)}
    layouts = {"x": "(batch, time, input_size)", "h0": "(batch, hidden_size)", "c0": "(batch, hidden_size)",
               **_PARAM_LAYOUTS}  # fmt: skip

    def run(dout, dh_T, dc_T) -> dict:
        p = _copy(problem)
        _, _, _, cache = reference.lstm_forward(p["x"], p["h0"], p["c0"], p["params"])
        result = backward(dout.copy(), cache, dh_T.copy(), dc_T.copy())
        return _check_returned(who, result, shapes, layouts)

    probes = [(problem["dout"], problem["dh_T"], problem["dc_T"])]
    no_state = np.zeros((B, H), problem["x"].dtype)
    for t in range(T):
        dout = np.zeros_like(problem["dout"])
        dout[:, t] = problem["dout"][:, t]
        probes.append((dout, no_state, no_state))
    autos, forward = _autograd_sequence(problem, probes)
    numeric = _numeric_sequence(problem) if check_numeric else None

    user = run(*probes[0])
    rows = _param_rows(user, autos[0], numeric, tol, H) + _sequence_input_rows(user, autos[0], numeric, tol)
    for t in range(T):
        user = run(*probes[t + 1])
        rows += _param_rows(user, autos[t + 1], None, tol, H, step=t)
        rows += _sequence_input_rows(user, autos[t + 1], None, tol, step=t)
    return rows, forward
