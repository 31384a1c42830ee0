"""Which gate of a hand-derived LSTM backward is wrong: compare it with minigrad's autograd, gate by gate.

A student writes the backward of one step with the signature of `lstm.reference.lstm_step_backward`, or
of a whole sequence (backpropagation through time) with that of `lstm.reference.lstm_backward`.
`compare_gradients` and `compare_sequence_gradients` run it on a small random problem (fixed seed) and
hold every gradient it returns against two other opinions:

- autograd: the same weights in the project's `lstm.LSTMCell` (one step) or `lstm.LSTM` (a sequence),
  differentiated by minigrad;
- central differences, in float64, of the reference forward the student's function is the backward of.
  They vouch for autograd; when the two disagree the report says the check itself cannot be trusted.

Grading, per entry, with u the student's value and a autograd's, is `minigrad.numeric.grade`, the one
`mg.gradcheck` and `mg.check_graph` use::

    abs = |u - a|      rel = |u - a| / max(|u|, |a|, tiny)      agree when abs <= atol or rel <= rtol

The reported max rel error leaves out the entries where both values are within atol of 0.

Per gate. The 4H axis of weight_ih, weight_hh, bias_ih and bias_hh is four blocks of H rows, one per gate
(i, f, g, o): a parameter's error is reported block by block, which pinpoints a wrong gate directly.
The inputs mix the gates: dx = sum over gates k of da_k @ weight_ih[rows k], where da_k (B, H) is the
gradient at gate k's pre-activation. Any backward computed that way is linear in cache.weight_ih, so the
student's function is called once more per gate with a cache whose weight_ih and weight_hh keep only
gate k's rows (the others zero; the gate values in the cache are unchanged, so da is too): what it
returns as dx and dh_prev is its gate-k term. Autograd's term is its da_k (the gradient at the gate's
pre-activation, asked of `mg.grad`) times the same rows. If the student's terms do not add up to their
full dx, their dx is not of that form and the breakdown is reported as unavailable. c_prev reaches a
step only through the cell state c = f * c_prev + i * g, through no gate's weights: it has one row.

Per time step (sequences). A BPTT backward returns only totals, so per-step information comes from
probes: for each t the student's backward runs on the same cache with dout non-zero only at step t (and
dh_T = dc_T = 0), the loss <dout[:, t], h_t>. Its gradients reach steps 0..t: probe 0 tests one step's
own math, probe t >= 1 also what is carried from step t back to the steps before it. The first probe
that departs from autograd is where the error starts (`first_bad_step`); within it, the rows dx[:, s]
show which steps receive a wrong gradient. dx is not split per gate in sequences (masking weight rows
would change what flows between steps); the parameters are, in every probe.

The package: this file holds the three comparisons; `problems` the random problems and the checks of
what a student's function returns; `probes` the three opinions and the rows comparing them; `blame` the
verdict lines; `report` the rows, `Report` and its tables; `drawing` `draw_disagreement`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lstm import reference
from lstm.compare.blame import (
    CELL_STATE,
    DC_HINT,
    GATE_HINTS,
    _autograd_lines,
    _first_bad_step,
    _sequence_verdict,
    _step_verdict,
)
from lstm.compare.drawing import RIGHT_COLOUR, WRONG_COLOUR, disagreement_colours, draw_disagreement
from lstm.compare.probes import (
    _autograd_step,
    _input_rows,
    _masked_cache,
    _numeric_step,
    _param_rows,
    _sequence_rows,
)
from lstm.compare.problems import (
    _PARAM_LAYOUTS,
    _check_callable,
    _check_dtype,
    _check_returned,
    _check_sizes,
    _copy,
    _param_shapes,
    sequence_problem,
    step_problem,
)
from lstm.compare.report import (
    GATE_SCOPES,
    GATES,
    LETTER,
    GradientReport,
    Report,
    Row,
    _compare,
    _legend,
    _Tolerances,
    _tolerances,
)
from lstm.reference import gate_slices

__all__ = [
    "CELL_STATE", "DC_HINT", "GATES", "GATE_HINTS", "GATE_SCOPES", "GradientReport", "LETTER", "Report",
    "RIGHT_COLOUR", "Row", "WRONG_COLOUR", "compare_gradients", "compare_sequence_gradients",
    "compare_with_reference", "disagreement_colours", "draw_disagreement", "sequence_problem", "step_problem",
]  # fmt: skip


def compare_gradients(
    step_backward: Callable,
    input_size: int = 3,
    hidden_size: int = 4,
    batch_size: int = 2,
    seed: int = 0,
    dtype=np.float64,
    check_numeric: bool = True,
    atol: float | None = None,
    rtol: float | None = None,
) -> GradientReport:
    """Compare a hand-written backward of one LSTM step with autograd, gate by gate.

    Args:
        step_backward: ``step_backward(dh, dc, cache) -> (dx, dh_prev, dc_prev, grads)``, the signature of
            `lstm.reference.lstm_step_backward`: dh, dc (B, H) the upstream gradients, cache what
            `lstm.reference.lstm_step_forward` returned; dx (B, I), dh_prev, dc_prev (B, H), grads a dict
            with weight_ih (4H, I), weight_hh (4H, H), bias_ih, bias_hh (4H,).
        input_size, hidden_size, batch_size: I, H, B of the random problem (see `step_problem`).
        seed: the problem's seed; the same seed gives the same problem and the same report.
        dtype: the dtype of the problem, the cache and autograd.
        check_numeric: also compare autograd with central differences in float64 (the third opinion).
        atol, rtol: the tolerances (default 1e-8 and 1e-6 for float64, 1e-5 and 1e-4 below it).
    Returns:
        a `GradientReport`: per parameter and per input the max abs and rel error, whole and per gate
        (parameters by rows, x and h_prev by each gate's term), ``wrong_gates`` and a verdict with hints.
    Raises:
        ValueError / TypeError naming the returned value when the function returns the wrong structure,
        shape or dtype. An exception inside your function propagates as it is.
    """
    who = "compare_gradients"
    _check_callable(who, step_backward, "step_backward(dh, dc, cache) -> (dx, dh_prev, dc_prev, grads)")
    _check_sizes(who, input_size=input_size, hidden_size=hidden_size, batch_size=batch_size)
    dtype = _check_dtype(who, dtype)
    tol = _tolerances(dtype, atol, rtol)
    B, I, H = batch_size, input_size, hidden_size
    problem = step_problem(I, H, B, seed, dtype)
    shapes = {"x": (B, I), "h_prev": (B, H), "c_prev": (B, H), **_param_shapes(I, H)}
    layouts = {"x": "(batch, input_size)", "h_prev": "(batch, hidden_size)", "c_prev": "(batch, hidden_size)",
               **_PARAM_LAYOUTS}  # fmt: skip

    def run(rows: slice | None = None) -> dict:
        # A fresh forward for every call: the student's function gets arrays nobody else holds.
        p = _copy(problem)
        _, _, cache = reference.lstm_step_forward(p["x"], p["h_prev"], p["c_prev"], p["params"])
        if rows is not None:
            cache = _masked_cache(cache, rows)
        return _check_returned(who, step_backward(p["dh"], p["dc"], cache), shapes, layouts)

    user = run()
    terms = {gate: run(s) for gate, s in zip(GATES, gate_slices(H).values())}
    auto, da = _autograd_step(problem)
    numeric = _numeric_step(problem) if check_numeric else None
    num = (lambda name: None) if numeric is None else numeric.get

    rows = _param_rows(user, auto, numeric, tol, H)
    for name, weight_name in (("x", "weight_ih"), ("h_prev", "weight_hh")):
        weight = problem["params"][weight_name]
        gate_terms = {gate: terms[gate][name] for gate in GATES}
        rows += _input_rows(
            name, weight_name, weight, user[name], gate_terms, auto[name], da, num(name), tol, H
        )
    rows.append(_compare("c_prev", user["c_prev"], auto["c_prev"], tol, num("c_prev")))

    title = f"Your LSTM step backward against autograd (B={B}, I={I}, H={H}, {dtype}, seed {seed})"
    verdict = _autograd_lines(rows) + _step_verdict(rows, "c_prev", check_numeric)
    return GradientReport(title, rows, verdict, _legend(tol, check_numeric), problem)

def compare_sequence_gradients(
    backward: Callable,
    T: int = 5,
    input_size: int = 3,
    hidden_size: int = 4,
    batch_size: int = 2,
    seed: int = 0,
    dtype=np.float64,
    check_numeric: bool = True,
    atol: float | None = None,
    rtol: float | None = None,
) -> GradientReport:
    """Compare a hand-written backpropagation through time with autograd, per gate and per time step.

    Args:
        backward: ``backward(dout, cache, dh_T, dc_T) -> (dx, dh0, dc0, grads)``, the signature of
            `lstm.reference.lstm_backward`: dout (B, T, H), dh_T and dc_T (B, H) the upstream gradients
            (always given as arrays here), cache what `lstm.reference.lstm_forward` returned; dx (B, T, I),
            dh0, dc0 (B, H), grads keyed like params and summed over time.
        T: the sequence length; the other arguments as for `compare_gradients`.
    Returns:
        a `GradientReport` with the full problem's rows (step None; parameters per gate, x per time step)
        and each probe's rows (step t: dout non-zero only at step t, see the package docstring);
        ``first_bad_step`` is the first probe that departs.
    """
    who = "compare_sequence_gradients"
    _check_callable(who, backward, "backward(dout, cache, dh_T, dc_T) -> (dx, dh0, dc0, grads)")
    _check_sizes(who, T=T, input_size=input_size, hidden_size=hidden_size, batch_size=batch_size)
    dtype = _check_dtype(who, dtype)
    tol = _tolerances(dtype, atol, rtol)
    problem = sequence_problem(T, input_size, hidden_size, batch_size, seed, dtype)
    rows, _ = _sequence_rows(who, backward, problem, tol, check_numeric)
    title = (f"Your LSTM backward through time against autograd (B={batch_size}, T={T}, I={input_size}, "
             f"H={hidden_size}, {dtype}, seed {seed})")  # fmt: skip
    verdict = _autograd_lines(rows) + _sequence_verdict(rows, check_numeric)
    return GradientReport(title, rows, verdict, _legend(tol, check_numeric), problem, _first_bad_step(rows))

def compare_with_reference(seed: int = 0, sizes: tuple[int, int, int, int] = (2, 5, 3, 4),
                           tolerance: float = 1e-10) -> GradientReport:
    """minigrad's `lstm.LSTM` layer (autograd) against the hand-derived `lstm.reference`, in float64.

    On a random sequence of ``sizes`` = (B, T, I, H) from ``seed``: the forward values (out, h_T, c_T and
    every gate at every step) and every gradient (parameters per gate, x per step, h0, c0, for the full
    problem and per probe step), each of which must agree to ``tolerance`` (absolute or relative), and
    autograd against central differences. This is ``python -m lstm gradcheck``.
    """
    who = "compare_with_reference"
    if not isinstance(sizes, (tuple, list)) or len(sizes) != 4:
        raise ValueError(f"{who}: sizes must be (batch, time, input_size, hidden_size), got {sizes!r}")
    B, T, I, H = sizes
    _check_sizes(who, batch=B, time=T, input_size=I, hidden_size=H)
    tol = _Tolerances(tolerance, tolerance, 1e-6, 1e-5)
    problem = sequence_problem(T, I, H, B, seed, np.float64)
    rows, forward = _sequence_rows(who, reference.lstm_backward, problem, tol, True)

    p = _copy(problem)
    out, h_T, c_T, cache = reference.lstm_forward(p["x"], p["h0"], p["c0"], p["params"])
    values = {"out": out, "h_T": h_T, "c_T": c_T}
    forward_rows = [_compare(f"{name} (forward)", values[name], forward[name], tol) for name in values]
    for gate, k in LETTER.items():
        ref = np.stack([getattr(step, k) for step in cache], axis=1)
        part = f"{k}, every step"
        forward_rows.append(_compare("gates (forward)", ref, forward[k], tol, gate=gate, part=part))
    rows = forward_rows + rows

    title = (f"lstm.LSTM (autograd) against lstm.reference (hand-derived): B={B}, T={T}, I={I}, H={H}, "
             f"float64, seed {seed}")
    verdict = _autograd_lines(rows) + _sequence_verdict(rows, True)
    legend = [line.replace("your gradient", "the reference's value") for line in _legend(tol, True)]
    return GradientReport(title, rows, verdict, legend, problem, _first_bad_step(rows))
