"""Gradient checkers: compare the engine's gradients with central finite differences in float64.

- `gradcheck(fn, inputs)` checks a whole function: the gradient the engine computes through every op that
  ``fn`` records, against finite differences of ``fn`` itself.
- `check_graph(root)` checks every op of a recorded graph on its own, in forward order, and names the first
  one whose backward disagrees with its forward: the tool to find the one wrong `Function` in a model.

Both grade every compared entry as `minigrad.numeric` says: OK when |a - n| <= atol or the relative error
is <= rtol, WARNING within 10 times that, WRONG further off or not finite, for an analytic value ``a`` (the
backward) and a numeric one ``n`` (the central difference ``(L(x + eps) - L(x - eps)) / 2 eps``). A check
passes only when every entry is OK: the tolerances decide, the tier says how far off a failure is.

Random probes (the projection of outputs, the sampled entries) always use a fixed seed, so a report is the
same on every run. Both checkers warn (``warnings.warn``, and in their tables) when the point is one where an
op is not differentiable (a relu input at or within eps of 0, a max whose maximum is tied) and when a tensor
is below float64.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from minigrad import errors, fastpaths, graph, numeric
from minigrad.engine import sum_to
from minigrad.function import new_node
from minigrad.numeric import OK, SKIPPED, WARN_FACTOR, WARNING, WRONG  # noqa: F401 (importable here since v1)
from minigrad.ops import Max, Relu
from minigrad.state import enable_grad, no_grad
from minigrad.tensor import Tensor
from minigrad.walks import grad as engine_grad


def _legend(eps: float, atol: float, rtol: float) -> list[str]:
    return [
        f"analytic a: the backward; numeric n: central differences in float64 with eps={eps:g}",
        numeric.RELATIVE_ERROR,
        f"OK: |a - n| <= atol or rel <= rtol (atol={atol:g}, rtol={rtol:g})",
        f"WARNING: within {numeric.WARN_FACTOR}x of that (round-off, float32, or eps ill-suited)",
        "WRONG: further off, or not finite: the backward does not compute the forward's derivative",
    ]


def _probe_vectors(rng: np.random.Generator, shapes: list[tuple]) -> list[np.ndarray]:
    """The random vectors the outputs are projected on; 1 for a single one-element output, so that tables
    show plain derivatives where there is only one number to differentiate."""
    if len(shapes) == 1 and int(np.prod(shapes[0])) == 1:
        return [np.ones(shapes[0])]
    return [rng.standard_normal(s) for s in shapes]


def _project(ys, rs) -> float:
    """L = sum_i <r_i, y_i>, in float64."""
    return float(sum(np.vdot(r, np.asarray(y, dtype=np.float64)) for y, r in zip(ys, rs)))


# -- points where an op is not differentiable ---


def _kink(node, eps: float, x: np.ndarray | None = None):
    """(flat mask of input 0's entries at a kink, text) if ``node`` is a relu or max at a point where it is
    not differentiable, else None. ``x``: input 0's array, if not the one recorded."""
    if not isinstance(node, (Relu, Max)):
        return None
    if x is None:
        x = node.inputs[0]._data
    if x.size == 0:
        return None
    if isinstance(node, Relu):
        # a central difference straddles 0 whenever |x| <= eps, not only at exactly 0
        mask = np.abs(x) <= eps
        what = f"within eps={eps:g} of 0, where relu has a kink"
    elif isinstance(node, Max):
        axis = node.inputs[1]
        near = x >= x.max(axis=axis, keepdims=True) - eps
        mask = near & (near.sum(axis=axis, keepdims=True) > 1)
        what = f"tied for the maximum of their slice, within eps={eps:g}"
    if not mask.any():
        return None
    first = tuple(int(i) for i in np.unravel_index(int(np.flatnonzero(mask)[0]), x.shape))
    text = (
        f"{node.where}: {_entries(int(mask.sum()))} of input 0 {what} (first at index "
        f"{first}); the op is not differentiable there, so a finite difference is not meaningful"
    )
    return mask.reshape(-1), text


def _entries(count: int) -> str:
    return f"{count} entr{'y' if count == 1 else 'ies'}"


def _warn_kinks(who: str, texts: list[str], extra: str) -> None:
    shown = "; ".join(texts[:5]) + (f"; and {len(texts) - 5} more" if len(texts) > 5 else "")
    warnings.warn(f"{who}: non-differentiable point: {shown}. {extra}", UserWarning, stacklevel=3)


# -- rows and tables ---


@dataclass
class CheckRow:
    """One checked input: of ``fn`` (gradcheck) or of one op of the graph (check_graph).

    ``worst_index`` is the index in the input of the entry furthest beyond tolerance, where ``analytic``
    and ``numeric`` are read; ``probed`` entries of ``size`` were compared one by one.
    """

    input: int
    name: str | None
    shape: tuple
    dtype: str
    probed: int
    size: int
    max_abs: float
    max_rel: float
    worst_index: tuple | None
    analytic: float
    numeric: float
    verdict: str
    note: str = ""
    position: int | None = None  # the op's place in forward order (check_graph only)
    op: str = ""
    scope: str = ""
    directional: bool = False  # also compared along one random direction over all entries
    node: object = field(default=None, repr=False, compare=False)

    @property
    def where(self) -> str:
        return errors.where(self.op, self.scope)

    @property
    def ok(self) -> bool:
        """Within tolerance, or nothing to compare (SKIPPED)."""
        return self.verdict in (OK, SKIPPED)

    @property
    def label(self) -> str:
        return f"{self.input} '{self.name}'" if self.name else str(self.input)


def _num(x: float) -> str:
    return "-" if x != x else f"{x:.6g}"  # x != x: NaN, shown for rows that compared nothing


def _err(x: float) -> str:
    return f"{x:.2e}"


def _index(row: CheckRow) -> str:
    """The worst entry's index; "dir" when the row's values come from the random direction."""
    return str(row.worst_index) if row.worst_index is not None else "dir" if row.directional else "-"


def _row_cells(row: CheckRow, graph: bool) -> list[str]:
    cells = [row.label, str(row.shape)]
    if graph:
        probed = ("all" if row.probed == row.size else f"{row.probed}/{row.size}") + "+dir" * row.directional
        cells = [str(row.position), row.op, row.scope or "-", *cells, probed]
    else:
        cells.append(row.dtype)
    return cells + [_err(row.max_abs), _err(row.max_rel), _index(row), _num(row.analytic), _num(row.numeric),
                    row.verdict]  # fmt: skip


_GRAPH_HEADER = ["#", "op", "scope", "input", "shape", "probed", "max abs err", "max rel err", "worst index",
                 "analytic", "numeric", "verdict"]  # fmt: skip
_FN_HEADER = ["input", "shape", "dtype", "max abs err", "max rel err", "worst index", "analytic", "numeric",
              "verdict"]  # fmt: skip


def _dtype_note(who: str, what: str, atol: float, rtol: float) -> str:
    return (
        f"{who}: {what} is below float64. {_LOW_PRECISION} Tolerances in use: atol={atol:g}, rtol={rtol:g}."
    )


_LOW_PRECISION = (
    "The engine's gradient is computed at that precision (float32 keeps about 7 significant digits) and "
    "compared with central differences of float64 copies, so expect relative errors up to about 1e-4."
)


# -- gradcheck ---


def _flatten_outputs(result, who: str) -> list[Tensor]:
    """The Tensors in what ``fn`` returned: a Tensor, or (nested) tuples and lists of them."""
    outs, stack = [], [result]
    while stack:
        item = stack.pop()
        if isinstance(item, Tensor):
            outs.append(item)
        elif isinstance(item, (tuple, list)):
            stack.extend(reversed(item))
        elif item is not None:
            raise errors.ArgumentTypeError(
                f"{who}: fn must return a Tensor or a tuple of Tensors, but it returned a "
                f"{type(item).__name__} among its outputs"
            )
    if not outs:
        raise errors.ArgumentTypeError(f"{who}: fn returned no Tensor (got {type(result).__name__})")
    return outs


def _label(k: int, x: Tensor) -> str:
    return f"{k} {x.name!r}" if x.name else str(k)


def gradcheck(
    fn: Callable,
    inputs,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
    verbose: bool = False,
) -> bool:
    """Check the engine's gradient of ``fn`` against central finite differences, for every input that
    requires grad.

    Args:
        fn: takes the ``inputs`` as positional arguments and returns a Tensor, or a tuple (nested tuples and
            lists are fine) of Tensors. It must be deterministic.
        inputs: a Tensor or a sequence of arguments; the Tensors with ``requires_grad=True`` are checked,
            everything else is passed to ``fn`` unchanged.
        eps: the finite-difference step. atol, rtol: the tolerances (see the module docstring).
        raise_exception: on a mismatch raise `GradcheckError` (True) or return False.
        seed: of the random projection below.
        verbose: print the table whenever it is not raised (by default it is shown only in the error).
    Returns:
        True when every entry of every checked input is OK.
    Raises:
        GradcheckError, whose message is a table with one row per checked input: its index and name,
        shape and dtype, the largest absolute and relative errors, the index of the worst entry and the
        analytic and numeric values there, and the verdict (OK / WARNING / WRONG).

    How: every output is dotted with a random standard-normal vector of its shape (fixed seed) and the
    products are summed into one scalar L (for a single one-element output the vector is 1). The analytic
    gradient of L is one backward pass of the engine with those vectors as ``grad_outputs`` (a
    vector-Jacobian product), at the inputs' own dtype. The numeric gradient is central differences of L,
    one entry at a time (2 calls of ``fn`` per entry), with the checked inputs replaced by float64 copies.
    A wrong Jacobian entry changes the gradient of L for all but a negligible set of random vectors, so
    one projection is enough to find it. ``fn`` runs with grad enabled on both sides, so a function that
    itself calls ``mg.grad(..., create_graph=True)`` can be checked too (second derivatives).

    Warns when a checked input (or what ``fn`` returns on float64 copies) is below float64, and when the
    graph ``fn`` records has a relu input within eps of 0 or a max with a tie: there the function is not
    differentiable and the finite difference is not meaningful.
    """
    args = list(inputs) if isinstance(inputs, (tuple, list)) else [inputs]
    checked = [k for k, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not checked:
        raise errors.ArgumentError(
            "gradcheck: no input requires grad; pass the Tensors to check with requires_grad=True"
        )
    for i, k in enumerate(checked):
        for k2 in checked[i + 1:]:
            if args[k] is args[k2]:
                raise errors.ArgumentError(
                    f"gradcheck: inputs {k} and {k2} are the same Tensor; pass it once (the numeric "
                    "side perturbs each argument separately)"
                )
    for k in checked:
        if args[k].size == 0:
            raise errors.ArgumentError(
                f"gradcheck: input {_label(k, args[k])} has no entries (shape {args[k].shape}), so there is "
                "nothing to compare; check it at a non-empty value, or pass it with requires_grad=False"
            )
    notes: list[str] = []
    for k in checked:
        if args[k].dtype.itemsize < 8:
            what = f"input {_label(k, args[k])} ({args[k].dtype})"
            notes.append(_dtype_note("gradcheck", what, atol, rtol))
            warnings.warn(notes[-1], UserWarning, stacklevel=2)

    with enable_grad():
        outs = _flatten_outputs(fn(*args), "gradcheck")
    rs = _probe_vectors(np.random.default_rng(seed), [o.shape for o in outs])

    # analytic: one backward pass with the projection vectors as the output gradients
    diff_outs = [(o, r) for o, r in zip(outs, rs) if o.requires_grad]
    kink_texts = [
        k[1]
        for node in graph.forward_order([o._ctx for o, _ in diff_outs if o._ctx is not None])
        if (k := _kink(node, eps)) is not None
    ]
    if diff_outs:
        grads = engine_grad([o for o, _ in diff_outs], [args[k] for k in checked],
                            grad_outputs=[r for _, r in diff_outs], allow_unused=True)  # fmt: skip
    else:  # no output depends on a checked input through the graph: the engine's gradient is 0
        grads = [None] * len(checked)
    if kink_texts:
        notes += kink_texts
        _warn_kinks("gradcheck", kink_texts, "Check the gradient at another point.")

    # numeric: central differences of the same projection, on float64 copies of the checked inputs
    copies = list(args)
    for k in checked:
        # C order, so that reshape(-1) below is a view that the probes can change (a transposed input's
        # copy would otherwise keep its Fortran order and reshape(-1) would copy)
        copies[k] = fastpaths.wrap(np.array(args[k]._data, dtype=np.float64, order="C"), None, True)
    low = [False]

    def loss() -> float:
        with enable_grad():
            ys = _flatten_outputs(fn(*copies), "gradcheck")
        low[0] = low[0] or any(y.dtype.kind == "f" and y.dtype.itemsize < 8 for y in ys)
        return _project([y._data for y in ys], rs)

    rows = []
    for k, g in zip(checked, grads):
        x = args[k]
        a = np.zeros(x.size) if g is None else np.asarray(g._data, dtype=np.float64).reshape(-1)
        gr = numeric.grade(a, numeric.central_differences(loss, copies[k]._data, eps), atol, rtol)
        worst = None if gr.worst is None else tuple(int(i) for i in np.unravel_index(gr.worst, x.shape))
        rows.append(CheckRow(k, x.name, x.shape, str(x.dtype), x.size, x.size, gr.max_abs, gr.max_rel,
                             worst, gr.analytic, gr.numeric, gr.verdict))  # fmt: skip
    if low[0]:
        notes.append(
            "gradcheck: fn returned a tensor below float64 even on float64 copies of the inputs (a float32 "
            "parameter or constant inside?), so the numeric side has that precision too; with a small eps "
            "its round-off dominates"
        )
        warnings.warn(notes[-1], UserWarning, stacklevel=2)
    bad = [r for r in rows if r.verdict != OK]
    raising = bool(bad) and raise_exception
    if not (raising or verbose):
        return not bad
    if bad:
        names = ", ".join(f"input {r.label} ({r.verdict})" for r in bad)
        lines = [f"gradcheck: the analytic gradient disagrees with central differences for {names}", ""]
    else:
        lines = ["gradcheck: the analytic gradient agrees with central differences for every input", ""]
    lines.append(numeric.text_table(_FN_HEADER, [_row_cells(r, graph=False) for r in rows]))
    lines += ["", *_legend(eps, atol, rtol)]
    if len(outs) == 1 and outs[0].size == 1:
        lines.append("fn returns one number: analytic and numeric are its derivatives")
    else:
        lines.append(
            f"fn's outputs are dotted with random vectors (seed {seed}) and summed into one number L: "
            "analytic and numeric are derivatives of L"
        )
    lines += [f"note: {t}" for t in notes]
    if raising:
        raise errors.GradcheckError("\n".join(lines))
    print("\n".join(lines))
    return not bad


# -- check_graph ---


class GraphCheckReport:
    """What `check_graph` found: one `CheckRow` per (op, input that needs grad), in forward order.

    ``ok`` is True when every row is OK (or SKIPPED); ``first_failure`` is the first row that is not, or
    None. ``str(report)`` is an aligned text table; in Jupyter the report shows as an HTML table.
    """

    def __init__(self, rows: list[CheckRow], notes: list[str], settings: dict, n_ops: int):
        self.rows = rows
        self.notes = notes
        self.settings = settings
        self.n_ops = n_ops

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    @property
    def first_failure(self) -> CheckRow | None:
        return next((r for r in self.rows if not r.ok), None)

    @property
    def failures(self) -> list[CheckRow]:
        return [r for r in self.rows if not r.ok]

    def headline(self) -> str:
        s = self.settings
        head = (
            f"check_graph: {len(self.rows)} inputs of {self.n_ops} ops checked in forward order; up to "
            f"{s['max_probes']} sampled entries per input (seed {s['seed']}), larger inputs also along one "
            "random direction (+dir); each op's outputs projected with a random vector"
        )
        f = self.first_failure
        if f is None:
            return head + "\nall OK"
        line = f"\nFIRST FAILURE: op '{f.op}' in scope '{f.scope or '-'}' (#{f.position}), input {f.label}: "
        if f.analytic == f.analytic:  # not NaN: something was compared
            line += (
                f"max abs err {_err(f.max_abs)}, max rel err {_err(f.max_rel)}; at index {_index(f)} "
                f"analytic {_num(f.analytic)}, numeric {_num(f.numeric)}: "
            )
        line += f"{f.verdict} ({len(self.failures)} failing input(s) in all)"
        return head + line + (f"\n{f.note}" if f.note else "")

    def _footer(self) -> list[str]:
        s = self.settings
        lines = _legend(s["eps"], s["atol"], s["rtol"])
        lines += [f"#{r.position} {r.where} input {r.label}: {r.note}" for r in self.rows if r.note]
        return lines + [f"note: {t}" for t in self.notes]

    def __str__(self) -> str:
        table = numeric.text_table(_GRAPH_HEADER, [_row_cells(r, graph=True) for r in self.rows])
        return "\n".join([self.headline(), "", table, "", *self._footer()])

    def _repr_html_(self, max_rows: int = 1000) -> str:
        # A browser chokes on 100,000 rows: beyond max_rows, failing rows are shown first, then OK ones.
        rows = self.rows
        if len(rows) > max_rows:
            failing = self.failures[:max_rows]
            passing = [r for r in rows if r.ok][: max_rows - len(failing)]
            keep = {id(r) for r in failing + passing}
            rows = [r for r in rows if id(r) in keep]
        parts = [f"<p>{html.escape(line)}</p>" for line in self.headline().split("\n")]
        cells = [_row_cells(r, graph=True) for r in rows]
        parts.append(numeric.html_table(_GRAPH_HEADER, cells, [numeric.BACKGROUNDS[r.verdict] for r in rows]))
        if len(rows) < len(self.rows):
            parts.append(
                f"<p>{len(self.rows) - len(rows)} of {len(self.rows)} rows not shown (failing rows are shown "
                "first); str(report) lists them all.</p>"
            )
        parts.append("<ul>" + "".join(f"<li>{html.escape(t)}</li>" for t in self._footer()) + "</ul>")
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"<GraphCheckReport: {len(self.rows)} rows, ok={self.ok}>"


def _first_low_precision(node) -> str | None:
    for k, a in enumerate(node.inputs):
        if isinstance(a, Tensor) and a.dtype.kind == "f" and a.dtype.itemsize < 8:
            return f"input {k} of {node.where}, {a.dtype}"
    return None


def _fresh_ctx(node, arrays: list):
    """A new node of the same Function, as ``apply`` would make it, over the given arrays."""
    wrapped = []
    for a, arr in zip(node.inputs, arrays):
        if isinstance(a, Tensor):
            t = fastpaths.wrap(arr, None, a.requires_grad)
            t.name = a.name
            wrapped.append(t)
        else:
            wrapped.append(a)
    return new_node(type(node), tuple(wrapped), True, node.scope)[0]


def _run_forward(node, arrays: list) -> tuple:
    y = type(node).forward(_fresh_ctx(node, arrays), *arrays)
    return y if type(y) is tuple else (y,)


def _check_node(node, position: int, opts: dict) -> tuple[list[CheckRow], list[str]]:
    """Check one op's backward against central differences of its own forward; return rows and kinks."""
    eps, atol, rtol, max_probes = opts["eps"], opts["atol"], opts["rtol"], opts["max_probes"]
    rng = np.random.default_rng((opts["seed"], position))  # each op its own stream: reproducible alone
    arrays = [
        np.array(a._data, dtype=np.float64 if a._data.dtype.kind == "f" else None, order="C")
        if isinstance(a, Tensor) else a
        for a in node.inputs
    ]  # fmt: skip
    needed = [k for k, need in enumerate(node.needs_input_grad) if need]

    def row(k, verdict, note, probed=0, gr=None, worst=None, directional=False):
        x = node.inputs[k]
        gr = gr or numeric.Grade(0.0, 0.0, None, np.nan, np.nan, verdict)
        return CheckRow(k, x.name, x.shape, str(x.dtype), probed, x.size, gr.max_abs, gr.max_rel, worst,
                        gr.analytic, gr.numeric, verdict, note, position, node.op, node.scope, directional,
                        node)  # fmt: skip

    # The analytic side first: forward may save views of ``arrays``, which the probes below change.
    try:
        ctx = _fresh_ctx(node, arrays)
        y = type(node).forward(ctx, *arrays)
    except Exception as e:
        note = f"forward raised {type(e).__name__} when re-run on float64 copies: {e}"
        return [row(k, SKIPPED, note) for k in needed], []
    ys = y if type(y) is tuple else (y,)
    rs = _probe_vectors(rng, [np.shape(v) for v in ys])
    try:
        gins = type(node).backward(ctx, *rs)
    except Exception as e:
        return [row(k, WRONG, f"backward raised {type(e).__name__}: {e}") for k in needed], []
    if type(gins) is not tuple:
        gins = tuple(gins) if isinstance(gins, list) else (gins,)
    if len(gins) != len(node.inputs):
        note = (
            f"backward returned {len(gins)} gradient(s) but forward took {len(node.inputs)} input(s); "
            "it must return one per input (None for non-Tensor inputs)"
        )
        return [row(k, WRONG, note) for k in needed], []

    def loss() -> float:
        return _project(_run_forward(node, arrays), rs)

    rows, kinks = [], []
    for k in needed:
        x = arrays[k]
        g = gins[k]
        note = ""
        if g is None:
            g = np.zeros(x.shape)
            note = "backward returned None for this input, which needs grad: taken as 0. "
        g = np.asarray(g._data if isinstance(g, Tensor) else g, dtype=np.float64)
        if g.shape != x.shape:
            try:
                g = sum_to(g, x.shape, node, k)  # undo broadcasting as the engine does
            except errors.ShapeError as e:
                rows.append(row(k, WRONG, str(e)))
                continue
        g = g.reshape(-1)
        candidates = np.arange(x.size)
        kink = _kink(node, eps, x) if k == 0 else None
        if kink is not None:
            kinks.append(kink[1])
            candidates = np.flatnonzero(~kink[0])
            note += f"{_entries(int(kink[0].sum()))} at a non-differentiable point not compared. "
        coords = candidates
        if len(candidates) > max_probes:
            coords = np.sort(rng.choice(candidates, max_probes, replace=False))
        gr = numeric.grade(g[coords], numeric.central_differences(loss, x, eps, coords), atol, rtol)
        worst = None
        if gr.worst is not None:
            worst = tuple(int(i) for i in np.unravel_index(int(coords[gr.worst]), x.shape))
        directional = len(coords) < len(candidates)
        if directional:
            # The sampled entries may miss a bug in a few entries; one random direction over all of them
            # (2 more forwards) sees every entry at once.
            v = np.zeros(x.size)
            v[candidates] = rng.standard_normal(len(candidates))
            n_dir = numeric.directional_difference(loss, x, v.reshape(x.shape), eps)
            dg = numeric.grade(g @ v, n_dir, atol, rtol)
            if numeric.worse(dg.verdict, gr.verdict) != gr.verdict:  # the direction found something worse
                note += (
                    f"a random direction over all {len(candidates)} entries is graded {dg.verdict}, worse "
                    f"than the sampled entries (analytic {_num(dg.analytic)}, numeric {_num(dg.numeric)}): "
                    "some entries not sampled are wrong; raise max_probes to find them. "
                )
                gr, worst = dg, None  # the row shows the directional values; "dir" in the index column
        rows.append(row(k, gr.verdict, note.strip(), len(coords), gr, worst, directional))
    return rows, kinks


def check_graph(
    root,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    max_probes: int = 16,
    seed: int = 0,
    raise_exception: bool = False,
) -> GraphCheckReport:
    """Check every op of ``root``'s recorded graph on its own and report the first whose backward is wrong.

    Args:
        root: a Tensor (or a sequence of Tensors) computed with grad recording on; its graph may already
            have been through ``backward()``: only the ops' inputs are read, never what they saved.
        eps, atol, rtol: the finite-difference step and the tolerances (see the module docstring).
        max_probes: how many entries of each input are compared one by one; larger inputs are sampled
            (without replacement, fixed seed) and also checked along one random direction over all
            their entries, so a whole unrolled LSTM checks in seconds.
        seed: of every random probe.
        raise_exception: raise `GradcheckError` with the report's text when a check fails.
    Returns:
        a `GraphCheckReport`: ``.ok``, ``.first_failure``, ``.rows`` (one `CheckRow` per op input that
        needs grad, in forward order), ``.notes``; ``str()`` gives the text table, Jupyter the HTML one.

    Each op (a node: an instance of its `Function` subclass) is checked alone. Its Tensor inputs' arrays
    are copied to float64 (its other arguments are passed as they were) and ``forward`` runs on a fresh
    ctx, so the graph itself is left untouched and can still be backpropagated. Its outputs are dotted
    with a random vector r into one number L; ``backward`` on that fresh ctx, given r, is the analytic
    gradient of L, and central differences of L (re-running ``forward``) are the numeric one, for every
    input that needs grad. The ops are visited in forward order (each after the ops that made its
    inputs), iteratively, so the first failing row is the first op whose backward does not match its
    forward. Each op is checked at its recorded inputs whatever the other ops' backwards do, so one
    wrong backward fails its own rows and no others. Built-in ops and your own Functions are checked
    alike. What is checked is that backward is the derivative of forward: a forward computing the
    wrong function, with a backward to match, passes.

    Entries of a relu input within eps of 0, and entries tied for a max, are not compared (the op is
    not differentiable there); the report names the op and a warning is issued.
    """
    if not isinstance(root, (Tensor, tuple, list)):
        raise errors.ArgumentTypeError(
            f"check_graph: root must be a Tensor or a list of Tensors, got {type(root).__name__}"
        )
    roots = [root] if isinstance(root, Tensor) else list(root)
    for i, r in enumerate(roots):
        if not isinstance(r, Tensor):
            raise errors.ArgumentTypeError(
                f"check_graph: root {i} is a {type(r).__name__}, expected a Tensor"
            )
    nodes = [r._ctx for r in roots if r._ctx is not None]
    if not nodes:
        raise errors.ArgumentError(
            "check_graph: no recorded graph: the root is a leaf, or was computed from tensors that do not "
            "require grad (or under mg.no_grad())"
        )
    if not isinstance(max_probes, (int, np.integer)) or isinstance(max_probes, bool) or max_probes < 1:
        raise errors.ArgumentError(f"check_graph: max_probes must be at least 1, got {max_probes!r}")
    opts = {"eps": eps, "atol": atol, "rtol": rtol, "max_probes": int(max_probes), "seed": seed}
    order = graph.forward_order(nodes)
    rows, kinks, notes = [], [], []
    low = None
    with no_grad(), np.errstate(all="ignore"):
        for position, node in enumerate(order):
            node_rows, node_kinks = _check_node(node, position, opts)
            rows += node_rows
            kinks += node_kinks
            if low is None:
                low = _first_low_precision(node)
    if low is not None:
        notes.append(
            f"check_graph: the graph holds tensors below float64 (first: {low}). Each op is re-run on "
            "float64 copies, so this checks the backward formulas, not float32 round-off (gradcheck "
            "compares the engine's float32 gradient)."
        )
        warnings.warn(notes[-1], UserWarning, stacklevel=2)
    if kinks:
        notes += kinks
        _warn_kinks("check_graph", kinks, "Those entries were not compared.")
    report = GraphCheckReport(rows, notes, opts, len(order))
    if raise_exception and not report.ok:
        raise errors.GradcheckError(str(report))
    return report
