"""One training step of a single-layer LSTM, timed against the hand-derived NumPy step.

    python -m benchmarks.lstm_step                                            # everything, a few minutes
    python -m benchmarks.lstm_step --sizes tiny,medium --dtypes float64 --repeats 5   # under a minute

The step, the same for every implementation: zero initial state; x (B, T, I) standard normal; the
forward over T steps; loss = sum((h_T @ Wy + by - y)**2) / B, a linear readout of the LAST hidden
state; full backpropagation through time to every parameter; a plain SGD update. Weights are uniform
in (-1/sqrt(H), 1/sqrt(H)) with a fixed seed and every implementation starts from the same numbers;
before anything is timed, each one's first step is checked against the NumPy step (same loss, same
update), so the timings are of the same computation.

The implementations (rows):
    NumPy        `lstm.reference.lstm_forward` / `lstm_backward`, derived by hand: the baseline, 1.0x
    primitive    `lstm.LSTM`: the graph of primitive ops students draw (25 ops per time step)
    fused        `lstm.LSTM(fused=True)`: one hand-derived op per time step
    torch        `torch.nn.LSTM` (only when torch is installed)
    torch ops    the primitive-op cell written with torch operators, the same 25 ops per step

How it is timed: one BLAS thread (2-thread timings do not repeat on a shared 2-core machine), every
implementation in this one process, interleaved: each round runs one step of each, in an order that
rotates from round to round. The cyclic garbage collector runs between steps, outside the timing. A
ratio is the median over rounds of (the step's time / the NumPy step's time in the same round), which
follows the machine's load less than a ratio of two medians would.

It also measures the engine's cost per op (a chain of 1,000 adds on (1, 1) arrays), the peak memory of
a step (tracemalloc) against the NumPy step's, and the matmul floor: the time of the six matrix products
the NumPy step does per time step, times T, on this machine.
"""

import os

# OpenBLAS reads this once, when NumPy is imported, so it is set before anything imports NumPy.
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import ctypes  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import lstm  # noqa: E402
import minigrad as mg  # noqa: E402
from lstm import reference  # noqa: E402

try:
    import resource  # noqa: E402  (Unix only: page-fault counts)
except ImportError:
    resource = None

try:
    import torch  # noqa: E402

    torch.set_num_threads(1)
except ImportError:
    torch = None

SIZES = {  # (B, I, H, T)
    "tiny": (1, 8, 32, 50),
    "medium": (32, 64, 128, 50),
    "large": (64, 256, 512, 35),
}
REPEATS = {"tiny": 41, "medium": 15, "large": 7}  # rounds per size, unless --repeats
LR = 0.1
NAMES = reference.PARAM_NAMES  # weight_ih, weight_hh, bias_ih, bias_hh


# ------------------------------------------------------------------------------------------ the problem


@dataclass
class Problem:
    """One size and dtype: the data and the initial weights every implementation copies."""

    size: str
    B: int
    I: int
    H: int
    T: int
    dtype: np.dtype
    params: dict  # reference layout: weight_ih (4H, I), weight_hh (4H, H), bias_ih, bias_hh (4H,)
    Wy: np.ndarray  # (H, 1), the readout
    by: np.ndarray  # (1,)
    x: np.ndarray  # (B, T, I)
    y: np.ndarray  # (B, 1)


def make_problem(size: str, dtype, seed: int = 0) -> Problem:
    B, I, H, T = SIZES[size]
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    params = reference.init_params(I, H, rng, dtype)
    k = 1 / np.sqrt(H)
    Wy = rng.uniform(-k, k, (H, 1)).astype(dtype)
    by = rng.uniform(-k, k, (1,)).astype(dtype)
    x = rng.standard_normal((B, T, I)).astype(dtype)
    y = rng.standard_normal((B, 1)).astype(dtype)
    return Problem(size, B, I, H, T, dtype, params, Wy, by, x, y)


# ------------------------------------------------------------------------------------ implementations
# Each holds its own copy of the weights; step() runs one training step and returns the loss;
# weights() returns every parameter as NumPy arrays, by the reference's names plus Wy and by.


class NumpyStep:
    label = "NumPy (hand-derived)"

    def __init__(self, p: Problem):
        self.p = p
        self.params = {n: p.params[n].copy() for n in NAMES}
        self.Wy, self.by = p.Wy.copy(), p.by.copy()

    def step(self) -> float:
        p, params = self.p, self.params
        _, h, _, cache = reference.lstm_forward(p.x, None, None, params)
        err = h @ self.Wy + self.by - p.y
        loss = float((err * err).sum()) / p.B
        dpred = err * (2 / p.B)  # a Python float keeps float32 float32
        dh = dpred @ self.Wy.T
        _, _, _, grads = reference.lstm_backward(None, cache, dh_T=dh)
        for n in NAMES:
            params[n] -= LR * grads[n]
        self.Wy -= LR * (h.T @ dpred)
        self.by -= LR * dpred.sum(axis=0)
        return loss

    def weights(self) -> dict:
        return {**self.params, "Wy": self.Wy, "by": self.by}


class MinigradStep:
    label = "minigrad, primitive ops"
    fused = False

    def __init__(self, p: Problem):
        self.p = p
        options = {"fused": True} if self.fused else {}
        self.layer = lstm.LSTM(p.I, p.H, dtype=p.dtype, rng=0, **options)
        self.layer.load_state_dict({f"{n}_l0": p.params[n] for n in NAMES})
        self.Wy = mg.nn.Parameter(p.Wy, name="Wy")
        self.by = mg.nn.Parameter(p.by, name="by")
        self.x, self.y = mg.tensor(p.x), mg.tensor(p.y)
        self.params = [*self.layer.parameters(), self.Wy, self.by]

    def step(self) -> float:
        h = self.layer(self.x)
        loss = ((h @ self.Wy + self.by - self.y) ** 2).sum() / self.p.B
        loss.backward()
        with mg.no_grad():
            for q in self.params:
                q.data -= LR * q.grad.data
                q.grad = None
        return loss.item()

    def weights(self) -> dict:
        w = {n: getattr(self.layer, f"{n}_l0").data for n in NAMES}
        return {**w, "Wy": self.Wy.data, "by": self.by.data}


class FusedStep(MinigradStep):
    label = "minigrad, fused"
    fused = True


class TorchStep:
    label = "torch.nn.LSTM"

    def __init__(self, p: Problem):
        self.p = p
        dtype = {np.float64: torch.float64, np.float32: torch.float32}[p.dtype.type]
        self.model = torch.nn.LSTM(p.I, p.H, batch_first=True).to(dtype)
        with torch.no_grad():
            for n in NAMES:
                getattr(self.model, f"{n}_l0").copy_(torch.from_numpy(p.params[n]))
        self.Wy = torch.tensor(p.Wy, requires_grad=True)
        self.by = torch.tensor(p.by, requires_grad=True)
        self.x, self.y = torch.tensor(p.x), torch.tensor(p.y)
        self.params = [*self.model.parameters(), self.Wy, self.by]

    def step(self) -> float:
        out, _ = self.model(self.x)
        loss = ((out[:, -1] @ self.Wy + self.by - self.y) ** 2).sum() / self.p.B
        loss.backward()
        with torch.no_grad():
            for q in self.params:
                q -= LR * q.grad
                q.grad = None
        return loss.item()

    def weights(self) -> dict:
        w = {n: getattr(self.model, f"{n}_l0").detach().numpy() for n in NAMES}
        return {**w, "Wy": self.Wy.detach().numpy(), "by": self.by.detach().numpy()}


class TorchOpsStep:
    """The cell of `lstm.LSTMCell` (per gate: matmul, matmul, add, add, activation) in torch."""

    label = "torch, primitive ops"

    def __init__(self, p: Problem):
        self.p = p
        self.w = {n: torch.tensor(p.params[n], requires_grad=True) for n in NAMES}
        self.Wy = torch.tensor(p.Wy, requires_grad=True)
        self.by = torch.tensor(p.by, requires_grad=True)
        self.x, self.y = torch.tensor(p.x), torch.tensor(p.y)
        self.params = [*self.w.values(), self.Wy, self.by]

    def step(self) -> float:
        p, w = self.p, self.w
        W = [a.T for a in w["weight_ih"].chunk(4)]
        U = [a.T for a in w["weight_hh"].chunk(4)]
        b = (w["bias_ih"] + w["bias_hh"]).chunk(4)
        h = c = torch.zeros((p.B, p.H), dtype=self.x.dtype)
        for x in self.x.unbind(1):
            i = torch.sigmoid(x @ W[0] + h @ U[0] + b[0])
            f = torch.sigmoid(x @ W[1] + h @ U[1] + b[1])
            g = torch.tanh(x @ W[2] + h @ U[2] + b[2])
            o = torch.sigmoid(x @ W[3] + h @ U[3] + b[3])
            c = f * c + i * g
            h = o * torch.tanh(c)
        loss = ((h @ self.Wy + self.by - self.y) ** 2).sum() / p.B
        loss.backward()
        with torch.no_grad():
            for q in self.params:
                q -= LR * q.grad
                q.grad = None
        return loss.item()

    def weights(self) -> dict:
        w = {n: self.w[n].detach().numpy() for n in NAMES}
        return {**w, "Wy": self.Wy.detach().numpy(), "by": self.by.detach().numpy()}


def fused_available() -> bool:
    try:
        lstm.LSTM(1, 1, fused=True)
    except TypeError:
        return False
    return True


def implementations() -> dict:
    """Column key -> class, the NumPy baseline first."""
    impls = {"numpy": NumpyStep, "primitive": MinigradStep}
    if fused_available():
        impls["fused"] = FusedStep
    if torch is not None:
        impls["torch"] = TorchStep
        impls["torch ops"] = TorchOpsStep
    return impls


def check_agreement(p: Problem, steps: dict) -> None:
    """Run one step of each and compare the loss and the update with the NumPy step's."""
    tol = 1e-8 if p.dtype == np.float64 else 1e-3
    before = {k: np.array(v) for k, v in steps["numpy"].weights().items()}
    results = {key: (s.step(), {k: np.array(v) for k, v in s.weights().items()}) for key, s in steps.items()}
    loss0, w0 = results["numpy"]
    for key, (loss, w) in results.items():
        problems = []
        if abs(loss - loss0) > tol * max(abs(loss0), 1.0):
            problems.append(f"loss {loss} vs {loss0}")
        for n, a in w.items():
            update, update0 = before[n] - a, before[n] - w0[n]
            scale = max(np.abs(update0).max(), np.finfo(p.dtype).tiny)
            if np.abs(update - update0).max() > tol * scale:
                problems.append(f"the update of {n}")
        if problems:
            sys.exit(f"{steps[key].label} disagrees with the NumPy step at {p.size} {p.dtype}: "
                     + ", ".join(problems))


# ------------------------------------------------------------------------------------------- timing


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse rather than return it to the OS; True if it did.

    A step of the primitive-op LSTM keeps every value of its graph alive until the step ends (tens of MB at
    the medium size), then frees it all. By default glibc gives the freed top of the heap back to the OS
    and the next step page-faults it in again (about 800 faults per medium step here, 5-6% of the step).
    A high trim threshold, and a fixed mmap threshold (which otherwise moves, and the trim threshold with
    it), keep that memory. It is process-wide, so every implementation timed here runs with it; where
    malloc is not glibc's it does nothing and returns False. ``--default-allocator`` leaves malloc alone.
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # the option numbers of glibc's malloc.h
    return bool(mallopt(M_TRIM_THRESHOLD, 1 << 30)) and bool(mallopt(M_MMAP_THRESHOLD, 32 << 20))


def _faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource else 0


CLOCKS = {
    # CPU time of this process: on a shared machine, the time the step was not running is left out.
    "cpu": time.process_time,
    "wall": time.perf_counter,
}


def time_rounds(steps: dict, repeats: int, clock=time.process_time) -> tuple[dict, dict]:
    """Seconds and minor page faults of each step, ``repeats`` rounds, interleaved."""
    keys = list(steps)
    seconds = {k: [] for k in keys}
    faults = {k: [] for k in keys}
    for r in range(repeats):
        for k in keys[r % len(keys):] + keys[: r % len(keys)]:
            gc.collect()
            f0 = _faults()
            t0 = clock()
            steps[k].step()
            t1 = clock()
            faults[k].append(_faults() - f0)
            seconds[k].append(t1 - t0)
    return seconds, faults


def ratios(seconds: dict, base: str = "numpy") -> dict:
    """Median over rounds of time / the base's time in the same round."""
    return {k: statistics.median(a / b for a, b in zip(v, seconds[base])) for k, v in seconds.items()}


def peak_memory(step) -> int:
    """Bytes: the peak of what one call of ``step`` allocates through Python and NumPy (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def reference_cache_bytes(p: Problem) -> int:
    """What lstm.reference's forward keeps for the backward: i, f, g, o, c, tanh(c), h per step."""
    _, _, _, cache = reference.lstm_forward(p.x, None, None, p.params)
    return sum(a.nbytes for s in cache for a in (s.i, s.f, s.g, s.o, s.c, s.tanh_c, s.h))


class MatmulFloor:
    """Not a training step: the matrix products of one NumPy step and nothing else, timed in the same
    rounds as the steps. Per time step: x @ W_ih.T and h @ W_hh.T forward; da @ W_ih, da @ W_hh,
    da.T @ x and da.T @ h backward (FLOPs: 24 T B H (I + H) in all)."""

    label = "matmul floor"

    def __init__(self, p: Problem):
        rng = np.random.default_rng(1)
        B, I, H = p.B, p.I, p.H
        self.T = p.T
        x, h, da = (rng.standard_normal(s).astype(p.dtype) for s in ((B, I), (B, H), (B, 4 * H)))
        w_ih, w_hh = p.params["weight_ih"], p.params["weight_hh"]
        self.products = [(x, w_ih.T), (h, w_hh.T), (da, w_ih), (da, w_hh), (da.T, x), (da.T, h)]
        self.flops = p.T * 3 * 2 * B * 4 * H * (I + H)

    def step(self) -> None:
        for _ in range(self.T):
            for a, b in self.products:
                a @ b


def peak_gflops(dtype, clock, n: int = 512, repeats: int = 11) -> float:
    a = np.random.default_rng(2).standard_normal((n, n)).astype(dtype)
    times = []
    for _ in range(repeats):
        t0 = clock()
        a @ a
        times.append(clock() - t0)
    return 2 * n**3 / statistics.median(times) / 1e9


# ------------------------------------------------------------------------------------- per-op cost


def _chain(engine: str, n: int, accumulate: bool, clock) -> tuple[float, float]:
    """Seconds of (forward, forward + backward) of y = y + c, n times, from a leaf y0 on (1, 1) float64
    arrays: c is a constant, or with ``accumulate`` the leaf y0 itself, so that every step of the
    backward also adds into y0's gradient."""
    if engine == "torch":
        y0 = torch.ones((1, 1), dtype=torch.float64, requires_grad=True)
        c = y0 if accumulate else torch.ones((1, 1), dtype=torch.float64)
    elif engine == "minigrad":
        y0 = mg.tensor(np.ones((1, 1)), requires_grad=True)
        c = y0 if accumulate else mg.tensor(np.ones((1, 1)))
    else:
        y0 = c = np.ones((1, 1))
    t0 = clock()
    y = y0
    for _ in range(n):
        y = y + c
    t1 = clock()
    if engine == "NumPy":
        return t1 - t0, float("nan")
    y.backward()
    return t1 - t0, clock() - t0


def op_overhead(clock, n: int = 1000, repeats: int = 41) -> dict:
    """Median µs per op of the chains of `_chain`, per engine: (forward, forward + backward, forward +
    backward with accumulation)."""
    engines = ["NumPy", "minigrad"] + (["torch"] if torch is not None else [])
    times = {e: ([], [], []) for e in engines}
    for _ in range(repeats):
        for e in engines:
            gc.collect()
            fwd, both = _chain(e, n, False, clock)
            gc.collect()
            _, both_acc = _chain(e, n, True, clock)
            for k, v in enumerate((fwd, both, both_acc)):
                times[e][k].append(v)
    return {e: tuple(statistics.median(v) / n * 1e6 for v in vs) for e, vs in times.items()}


# ------------------------------------------------------------------------------------------- report


def _blas() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS: unknown (threadpoolctl not installed)"
    parts = [f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} thread(s))"
             for i in threadpool_info() if i.get("user_api") == "blas"]
    return "BLAS: " + (", ".join(parts) or "none found")


def run(sizes, dtypes, repeats, out_path, clock_name: str = "cpu", allocator: str = "default") -> str:
    clock = CLOCKS[clock_name]
    impls = implementations()
    lines = [
        "# LSTM training step: minigrad against the hand-derived NumPy step",
        "",
        f"Command: `{' '.join(['python -m benchmarks.lstm_step', *sys.argv[1:]])}`",
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, NumPy {np.__version__}, "
        f"{_blas()}" + (f", torch {torch.__version__}" if torch is not None else "")
        + f"; load average at start {os.getloadavg()[0]:.2f}.",
        f"Clock: {'CPU time of the process' if clock_name == 'cpu' else 'wall time'}. Allocator: "
        + ("glibc malloc keeping freed memory (mallopt)." if allocator == "kept" else "malloc's defaults."),
        "",
    ]
    print("\n".join(lines), flush=True)
    # First, in a fresh process: after the large steps the same chains measure 10% slower (heap state).
    cost = op_overhead(clock)
    table = [
        "## One training step: median ms (ratio to the NumPy step)",
        "",
        "| size (B, I, H, T) | dtype | " + " | ".join(impls[k].label for k in impls)
        + " | matmul floor |",
        "|---" * (len(impls) + 3) + "|",
    ]
    faults_table = [
        "## Minor page faults per step (median)",
        "",
        "| size | dtype | " + " | ".join(impls[k].label for k in impls) + " |",
        "|---" * (len(impls) + 2) + "|",
    ]
    memory_table = [
        "## Peak memory of one step (tracemalloc, MB; ratio to the NumPy step's peak / to its cache)",
        "",
        "| size | dtype | NumPy cache (i, f, g, o, c, tanh c, h) | "
        + " | ".join(impls[k].label for k in impls if k in ("numpy", "primitive", "fused")) + " |",
        "|---" * (3 + sum(k in ("numpy", "primitive", "fused") for k in impls)) + "|",
    ]
    floor_table = [
        "## Distance to the hardware floor (the step's matrix products alone)",
        "",
        "| size | dtype | matmul GFLOP per step | measured GFLOP/s at these shapes | floor ms | "
        "NumPy step / floor | peak GFLOP/s (512 x 512) |",
        "|---|---|---|---|---|---|---|",
    ]
    for size in sizes:
        for dtype in dtypes:
            p = make_problem(size, dtype)
            steps = {k: cls(p) for k, cls in impls.items()}
            check_agreement(p, steps)
            for s in steps.values():  # warm up: first-call costs, the allocator's first growth
                s.step()
            n = repeats or REPEATS[size]
            steps["floor"] = floor = MatmulFloor(p)
            floor.step()
            seconds, faults = time_rounds(steps, n, clock)
            r = ratios(seconds)
            med = {k: statistics.median(v) * 1e3 for k, v in seconds.items()}
            floor_ms = med["floor"]
            shape = f"{size} {SIZES[size]}"
            cells = [f"{med['numpy']:.3g}"] + [f"{med[k]:.3g} ({r[k]:.2f}x)" for k in impls if k != "numpy"]
            cells.append(f"{floor_ms:.3g} ({r['floor']:.2f}x)")
            row = f"| {shape} | {dtype} | " + " | ".join(cells) + " |"
            table.append(row)
            print(row, f"  [{n} rounds, load {os.getloadavg()[0]:.2f}]", flush=True)
            faults_table.append(f"| {size} | {dtype} | "
                                + " | ".join(f"{statistics.median(faults[k]):.0f}" for k in impls) + " |")
            cache = reference_cache_bytes(p)
            peaks = {k: peak_memory(steps[k].step) for k in impls if k in ("numpy", "primitive", "fused")}
            mem = [f"{cache / 1e6:.3g}"] + [
                f"{v / 1e6:.3g} ({v / peaks['numpy']:.2f}x / {v / cache:.2f}x)" for v in peaks.values()
            ]
            memory_table.append(f"| {size} | {dtype} | " + " | ".join(mem) + " |")
            floor_table.append(
                f"| {size} | {dtype} | {floor.flops / 1e9:.3g} | {floor.flops / floor_ms / 1e6:.3g} | "
                f"{floor_ms:.3g} | {1 / r['floor']:.2f} | {peak_gflops(p.dtype, clock):.3g} |"
            )
    op_table = [
        "## Cost per op: a chain of 1,000 adds y = y + c on (1, 1) float64 arrays (median µs per op)",
        "",
        "| engine | forward (recording) | forward + backward | forward + backward, c = the leaf y0 "
        "(every step also accumulates a gradient) |",
        "|---|---|---|---|",
    ] + [f"| {k} | " + " | ".join("—" if v != v else f"{v:.2f}" for v in vs) + " |" for k, vs in cost.items()]
    body = [*table, "", *op_table, "", *memory_table, "", *faults_table, "", *floor_table, ""]
    body.append(f"Load average at the end: {os.getloadavg()[0]:.2f}.")
    text = "\n".join(lines + body) + "\n"
    print("\n" + "\n".join(body), flush=True)
    if out_path != "-":
        Path(out_path).write_text(text)
        print(f"\nwritten to {out_path}")
    return text


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lstm_step",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(SIZES), help=f"comma-separated, from {', '.join(SIZES)}")
    parser.add_argument("--dtypes", default="float64,float32", help="comma-separated: float64, float32")
    parser.add_argument("--repeats", type=int, default=None,
                        help="rounds per size (default: " + ", ".join(f"{k} {v}" for k, v in REPEATS.items())
                        + ")")
    parser.add_argument("--output", default=str(Path(__file__).with_name("results.md")),
                        help="where the Markdown goes ('-': nowhere)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                        help="cpu: CPU time of this process (default; steadier on a shared machine); wall")
    parser.add_argument("--default-allocator", action="store_true",
                        help="leave malloc's settings alone (see keep_freed_memory)")
    args = parser.parse_args(argv)
    sizes = [s for s in args.sizes.split(",") if s]
    dtypes = [d for d in args.dtypes.split(",") if d]
    bad = [s for s in sizes if s not in SIZES] + [d for d in dtypes if d not in ("float64", "float32")]
    if bad or (args.repeats is not None and args.repeats < 1):
        parser.error(f"unknown size or dtype: {', '.join(bad)}" if bad else "--repeats must be at least 1")
    allocator = "default" if args.default_allocator or not keep_freed_memory() else "kept"
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        run(sizes, dtypes, args.repeats, args.output, args.clock, allocator)
        return
    with threadpool_limits(1):
        run(sizes, dtypes, args.repeats, args.output, args.clock, allocator)


if __name__ == "__main__":
    main()
