"""One training step of a single-layer LSTM, timed against the best hand-written NumPy step.

    python -m benchmarks.lstm_step                                            # everything, a few minutes
    python -m benchmarks.lstm_step --sizes tiny,medium --dtypes float64 --repeats 5   # under a minute

The step, the same for every implementation: zero initial state; x (B, T, I) standard normal; the
forward over T steps; loss = sum((h_T @ Wy + by - y)**2) / B, a linear readout of the LAST hidden
state; full backpropagation through time to every parameter (x needs no gradient); a plain SGD update.
Weights are uniform in (-1/sqrt(H), 1/sqrt(H)) with a fixed seed and every implementation starts from
the same numbers; before anything is timed, each one's first step is checked against A's (same loss,
same update), so the timings are of the same computation.

The implementations (rows):
    A            hand-derived NumPy written for speed: per step one product [x_t, h_{t-1}] @ W into
                 preallocated buffers, the gates activated in place, dW accumulated per step
    A2           A with the input projection of all steps hoisted into one product and the weight
                 gradients as one product each after the loop: `lstm.fused_kernel` called on arrays,
                 the fastest NumPy step we know, and the baseline of every ratio
    reference    `lstm.reference`, the readable textbook step (allocates every temporary): a teaching row
    primitive    `lstm.LSTM`: the graph of primitive ops students draw (the input projection of all steps
                 as one op, then 17 ops per time step)
    dropped      `lstm.LSTM(keep_values=False)`: the same graph, each step's values that no backward reads
                 dropped as the step is built (`lstm.dropping`)
    fused        `lstm.LSTM(fused=True)`: the whole layer as one op (A2's kernel inside the engine)
    torch        `torch.nn.LSTM` (only when torch is installed)
    torch packed the packed cell in torch ops: a = x W_ih^T + h W_hh^T + b, one chunk, 4 activations
    torch graph  minigrad's own per-gate graph driven op by op in torch: the same projection, the same 17
                 ops per step

How it is timed: one BLAS thread (2-thread timings do not repeat on a shared 2-core machine), every
implementation in this one process, interleaved: each round runs one step of each, in an order that
rotates from round to round. The cyclic garbage collector runs between steps, outside the timing. A
ratio is the median over rounds of (the step's time / A2's time in the same round), which follows the
machine's load less than a ratio of two medians would. The clock is wall time by default, and the load
average is printed beside every row. malloc keeps its default settings (what a user's process has);
a second pass then times the rows again with glibc told to keep freed memory (`lstm.allocator`, what
`lstm.train` does), as variant rows.

It also measures the engine's cost per op (a chain of 1,000 adds on (1, 1) arrays), the peak memory of
a step (tracemalloc) against A's cache, minor page faults per step, and the matmul floor: the time of
the matrix products A does per time step, times T, on this machine.
"""

import os

# OpenBLAS reads this once, when NumPy is imported, so it is set before anything imports NumPy.
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import argparse  # noqa: E402
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
from lstm import allocator, fused_kernel, reference  # noqa: E402
from minigrad.files import atomic_write  # noqa: E402

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


class _NumpyTrainer:
    """The readout, the loss and the SGD update around a NumPy LSTM (subclasses: `lstm_grads`)."""

    def __init__(self, p: Problem):
        self.p = p
        self.params = {n: p.params[n].copy() for n in NAMES}
        self.Wy, self.by = p.Wy.copy(), p.by.copy()

    def step(self) -> float:
        p = self.p
        h_T, backward = self.lstm(self.params)
        err = h_T @ self.Wy + self.by - p.y
        loss = float((err * err).sum()) / p.B
        dpred = err * (2 / p.B)  # a Python float keeps float32 float32
        grads = backward(dpred @ self.Wy.T)
        for n in NAMES:
            self.params[n] -= LR * grads[n]
        self.Wy -= LR * (h_T.T @ dpred)
        self.by -= LR * dpred.sum(axis=0)
        return loss

    def weights(self) -> dict:
        return {**self.params, "Wy": self.Wy, "by": self.by}


class ReferenceStep(_NumpyTrainer):
    label = "reference (readable NumPy)"

    def lstm(self, params):
        _, h, _, cache = reference.lstm_forward(self.p.x, None, None, params)
        return h, lambda dh: reference.lstm_backward(None, cache, dh_T=dh)[3]


class FastNumpyStep(_NumpyTrainer):
    """A: per step one product of [x_t, h_{t-1}] with the stacked weights, in place where it can be."""

    label = "A: NumPy, per-step products"

    def __init__(self, p: Problem):
        super().__init__(p)
        B, T, I, H = p.B, p.T, p.I, p.H
        self.x_tb = np.ascontiguousarray(p.x.transpose(1, 0, 2))
        self.xh = np.empty((T, B, I + H), p.dtype)  # [x_t, h_{t-1}], kept for dW
        self.gates = np.empty((T, B, 4 * H), p.dtype)
        self.c = np.empty((T + 1, B, H), p.dtype)
        self.h = np.empty((T + 1, B, H), p.dtype)
        self.tanh_c = np.empty((T, B, H), p.dtype)
        self.da = np.empty((B, 4 * H), p.dtype)
        self.scratch = np.empty((B, H), p.dtype)

    def lstm(self, params):
        p, I = self.p, self.p.I
        W = np.concatenate([params["weight_ih"], params["weight_hh"]], axis=1).T  # (I + H, 4H)
        b = params["bias_ih"] + params["bias_hh"]
        xh, gates, c, h, tanh_c = self.xh, self.gates, self.c, self.h, self.tanh_c
        c[0] = h[0] = 0
        for t in range(p.T):
            xh[t, :, :I] = self.x_tb[t]
            xh[t, :, I:] = h[t]
            np.matmul(xh[t], W, out=gates[t])
            gates[t] += b
            fused_kernel.activate_step(gates[t], c[t], c[t + 1], tanh_c[t], h[t + 1], self.scratch)

        def backward(dh_T):
            dW, db = np.zeros(W.shape, W.dtype), np.zeros_like(b)  # row-major, like the products added
            dh, dc = dh_T.copy(), np.zeros_like(dh_T)
            W_h_T = W[I:].T  # (4H, H)
            for t in reversed(range(p.T)):
                fused_kernel.backward_step(dh, dc, gates[t], c[t], tanh_c[t], self.da, self.scratch)
                dW += xh[t].T @ self.da
                db += self.da.sum(axis=0)
                np.matmul(self.da, W_h_T, out=dh)
            return {"weight_ih": dW[:I].T, "weight_hh": dW[I:].T, "bias_ih": db, "bias_hh": db}

        return h[p.T], backward


class HoistedNumpyStep(_NumpyTrainer):
    """A2: `lstm.fused_kernel` on arrays, without the engine."""

    label = "A2: NumPy, hoisted projection"

    def __init__(self, p: Problem):
        super().__init__(p)
        self.x_tb = np.ascontiguousarray(p.x.transpose(1, 0, 2))
        self.zeros = np.zeros((p.B, p.H), p.dtype)

    def lstm(self, params):
        w_ih, w_hh = params["weight_ih"], params["weight_hh"]
        hs, _, cache = fused_kernel.forward(self.x_tb, self.zeros, self.zeros, w_ih, w_hh,
                                            params["bias_ih"] + params["bias_hh"])  # fmt: skip

        def backward(dh_T):
            _, _, _, dw_ih, dw_hh, db = fused_kernel.backward(None, dh_T, None, cache, need_dx=False)
            return {"weight_ih": dw_ih, "weight_hh": dw_hh, "bias_ih": db, "bias_hh": db}

        return hs[-1], backward


class MinigradStep:
    label = "minigrad, primitive ops"
    options: dict = {}

    def __init__(self, p: Problem):
        self.p = p
        options = self.options
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


class DroppingStep(MinigradStep):
    label = "minigrad, primitive ops, values dropped"
    options = {"keep_values": False}


class FusedStep(MinigradStep):
    label = "minigrad, fused"
    options = {"fused": True}


class _TorchTrainer:
    """The readout, the loss and the SGD update around a torch LSTM (subclasses: `last_hidden`)."""

    def __init__(self, p: Problem):
        self.p = p
        self.w = {n: torch.tensor(p.params[n], requires_grad=True) for n in NAMES}
        self.Wy = torch.tensor(p.Wy, requires_grad=True)
        self.by = torch.tensor(p.by, requires_grad=True)
        self.x, self.y = torch.tensor(p.x), torch.tensor(p.y)

    def parameters(self) -> list:
        return [*self.w.values(), self.Wy, self.by]

    def step(self) -> float:
        loss = ((self.last_hidden() @ self.Wy + self.by - self.y) ** 2).sum() / self.p.B
        loss.backward()
        with torch.no_grad():
            for q in self.parameters():
                q -= LR * q.grad
                q.grad = None
        return loss.item()

    def weights(self) -> dict:
        w = {n: self.w[n].detach().numpy() for n in NAMES}
        return {**w, "Wy": self.Wy.detach().numpy(), "by": self.by.detach().numpy()}


class TorchStep(_TorchTrainer):
    label = "torch.nn.LSTM"

    def __init__(self, p: Problem):
        super().__init__(p)
        self.model = torch.nn.LSTM(p.I, p.H, batch_first=True).to(self.x.dtype)
        self.w = {n: getattr(self.model, f"{n}_l0") for n in NAMES}
        with torch.no_grad():
            for n in NAMES:
                self.w[n].copy_(torch.from_numpy(p.params[n]))

    def last_hidden(self):
        return self.model(self.x)[0][:, -1]


class TorchPackedStep(_TorchTrainer):
    """The packed cell in torch ops: per step 2 products, 3 adds, a chunk, 4 activations, then c and h."""

    label = "torch, packed cell"

    def last_hidden(self):
        p, w = self.p, self.w
        W_ih_T, W_hh_T, b = w["weight_ih"].T, w["weight_hh"].T, w["bias_ih"] + w["bias_hh"]
        h = c = torch.zeros((p.B, p.H), dtype=self.x.dtype)
        for x in self.x.unbind(1):
            a_i, a_f, a_g, a_o = (x @ W_ih_T + h @ W_hh_T + b).chunk(4, dim=1)
            c = torch.sigmoid(a_f) * c + torch.sigmoid(a_i) * torch.tanh(a_g)
            h = torch.sigmoid(a_o) * torch.tanh(c)
        return h


class TorchSameGraphStep(_TorchTrainer):
    """minigrad's graph of `lstm.LSTM` driven op by op in torch: the input projection of all steps as one
    product plus the bias, cut into each step's and gate's piece; per step and gate h @ U, the add, the
    activation; then c = f * c + i * g, h = o * tanh(c) (17 ops per step)."""

    label = "torch, minigrad's graph"

    def last_hidden(self):
        p, w = self.p, self.w
        U = [a.T for a in w["weight_hh"].chunk(4)]
        x_tb = self.x.transpose(0, 1).reshape(p.T * p.B, p.I)
        xw = (x_tb @ w["weight_ih"].T + (w["bias_ih"] + w["bias_hh"])).view(p.T, p.B, 4, p.H).unbind(0)
        h = c = torch.zeros((p.B, p.H), dtype=self.x.dtype)
        for xw_t in xw:
            xw_i, xw_f, xw_g, xw_o = xw_t.unbind(1)
            i = torch.sigmoid(xw_i + h @ U[0])
            f = torch.sigmoid(xw_f + h @ U[1])
            g = torch.tanh(xw_g + h @ U[2])
            o = torch.sigmoid(xw_o + h @ U[3])
            c = f * c + i * g
            h = o * torch.tanh(c)
        return h


def implementations() -> dict:
    """Row key -> class. A first: every other row is checked against it."""
    impls = {"A": FastNumpyStep, "A2": HoistedNumpyStep, "reference": ReferenceStep,
             "primitive": MinigradStep, "dropped": DroppingStep, "fused": FusedStep}  # fmt: skip
    if torch is not None:
        impls.update({"torch": TorchStep, "torch packed": TorchPackedStep, "torch graph": TorchSameGraphStep})
    return impls


def check_agreement(p: Problem, steps: dict) -> None:
    """Run one step of each and compare the loss and the update with A's."""
    tol = 1e-8 if p.dtype == np.float64 else 1e-3
    before = {k: np.array(v) for k, v in steps["A"].weights().items()}
    results = {key: (s.step(), {k: np.array(v) for k, v in s.weights().items()}) for key, s in steps.items()}
    loss0, w0 = results["A"]
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
            sys.exit(f"{steps[key].label} disagrees with A at {p.size} {p.dtype}: "
                     + ", ".join(problems))


# ------------------------------------------------------------------------------------------- timing


def _faults() -> int:
    return allocator.minor_faults() or 0


CLOCKS = {
    "wall": time.perf_counter,
    # CPU time of this process: on a shared machine, the time the step was not running is left out.
    "cpu": time.process_time,
}


def time_rounds(steps: dict, repeats: int, clock=time.perf_counter) -> tuple[dict, dict]:
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


def ratios(seconds: dict, base: str = "A2") -> dict:
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


def _timed(p: Problem, impls: dict, repeats: int, clock) -> tuple[dict, dict, dict, dict]:
    """Build, check and warm every implementation, then time them interleaved with the matmul floor.
    Returns (steps, median ms, ratios to A2, median faults)."""
    steps = {k: cls(p) for k, cls in impls.items()}
    if "A" in steps:
        check_agreement(p, steps)
    for s in steps.values():  # warm up: first-call costs, the allocator's first growth
        s.step()
    steps["floor"] = floor = MatmulFloor(p)
    floor.step()
    seconds, faults = time_rounds(steps, repeats, clock)
    med = {k: statistics.median(v) * 1e3 for k, v in seconds.items()}
    return steps, med, ratios(seconds), {k: statistics.median(v) for k, v in faults.items()}


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def _table(title: str, header: list, rows: list) -> list:
    """A Markdown table with a title, as a list of lines."""
    return [f"## {title}", "", "| " + " | ".join(header) + " |", "|---" * len(header) + "|",
            *("| " + " | ".join(str(c) for c in row) + " |" for row in rows), ""]  # fmt: skip


MEMORY_ROWS = ("A", "A2", "primitive", "dropped", "fused")
TARGETS = (  # ratio name, numerator, denominator
    ("minigrad primitive / torch on minigrad's graph", "primitive", "torch graph"),
    ("minigrad fused / A2", "fused", "A2"),
    ("minigrad fused / torch.nn.LSTM", "fused", "torch"),
)


def run(sizes, dtypes, repeats, out_path, clock_name: str = "wall", variant: bool = True) -> str:
    clock = CLOCKS[clock_name]
    impls = implementations()
    head = [
        "# LSTM training step: minigrad against the best hand-written NumPy step and PyTorch",
        "",
        f"Command: `{' '.join(['python -m benchmarks.lstm_step', *sys.argv[1:]])}`",
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, NumPy {np.__version__}, "
        f"{_blas()}" + (f", torch {torch.__version__}" if torch is not None else "")
        + f"; load average at start {_load()}.",
        f"Clock: {'wall time' if clock_name == 'wall' else 'CPU time of the process'}. "
        "Allocator: malloc's defaults, then (variant rows) glibc keeping freed memory.",
        "",
    ]
    print("\n".join(head), flush=True)
    # First, in a fresh process: after the large steps the same chains measure 10% slower (heap state).
    cost = op_overhead(clock)
    runs = [(dtype, size) for dtype in dtypes for size in sizes]
    results, memory, floors = {}, [], []  # results: (dtype, size) -> (med, ratios, faults, load)
    for dtype, size in runs:
        p = make_problem(size, dtype)
        steps, med, r, faults = _timed(p, impls, repeats or REPEATS[size], clock)
        results[dtype, size] = (med, r, faults, _load())
        print(f"{size} {dtype}: " + ", ".join(f"{k} {med[k]:.3g} ms ({r[k]:.2f}x)" for k in med)
              + f"  [load {_load()}]", flush=True)
        cache = reference_cache_bytes(p)
        peaks = [peak_memory(steps[k].step) for k in MEMORY_ROWS]
        memory.append([size, dtype, f"{cache / 1e6:.3g}",
                       *(f"{v / 1e6:.3g} ({v / cache:.2f}x)" for v in peaks)])  # fmt: skip
        floor_flops, floor_ms = steps["floor"].flops, med["floor"]
        floors.append([size, dtype, f"{floor_flops / 1e9:.3g}", f"{floor_flops / floor_ms / 1e6:.3g}",
                       f"{floor_ms:.3g}", f"{med['A2'] / floor_ms:.2f}",
                       f"{peak_gflops(p.dtype, clock):.3g}"])  # fmt: skip
    kept = {}  # the same, for the second pass with glibc keeping freed memory
    if variant and allocator.keep_freed_memory():
        rows = {k: impls[k] for k in ("A2", "primitive", "fused")}
        for dtype, size in runs:
            _, med, r, faults = _timed(make_problem(size, dtype), rows, repeats or REPEATS[size], clock)
            kept[dtype, size] = (med, r, faults, _load())
            done = ", ".join(f"{k} {med[k]:.3g} ms, {faults[k]:.0f} faults" for k in rows)
            print(f"{size} {dtype}, memory kept: {done}  [load {_load()}]", flush=True)

    def cells(table, key, what):  # what: 0 ms (ratio), 2 faults
        if what == 0:
            return [f"{table[d, s][0][key]:.3g} ({table[d, s][1][key]:.2f}x)" for d, s in runs]
        return [f"{table[d, s][2][key]:.0f}" for d, s in runs]

    columns = [f"{size} {SIZES[size]} {dtype}" for dtype, size in runs]
    kept_label = ", freed memory kept"
    labels = {**{k: c.label for k, c in impls.items()}, "floor": MatmulFloor.label}
    step_rows = [[labels[k], *cells(results, k, 0)] for k in labels]
    step_rows += [[labels[k] + kept_label, *cells(kept, k, 0)] for k in ("primitive", "fused") if kept]
    step_rows.append(["load average after the rounds", *(results[r][3] for r in runs)])
    body = _table("One training step: median ms (ratio to A2 in the same rounds)",
                  ["implementation", *columns], step_rows)
    if torch is not None:
        body += _table("Against the targets (ratios of the medians above)", ["ratio", *columns],
                       [[name, *(f"{results[r][0][a] / results[r][0][b]:.2f}" for r in runs)]
                        for name, a, b in TARGETS])
    fault_rows = [[labels[k], *cells(results, k, 2)] for k in MEMORY_ROWS]
    fault_rows += [[labels[k] + kept_label, *cells(kept, k, 2)] for k in ("primitive", "fused") if kept]
    body += _table("Minor page faults per step (median)", ["implementation", *columns], fault_rows)
    body += _table("Peak memory of one step (tracemalloc, MB; ratio to A's cache: i, f, g, o, c, tanh c, h)",
                   ["size", "dtype", "A's cache", *(labels[k] for k in MEMORY_ROWS)], memory)
    body += _table("Cost per op: a chain of 1,000 adds y = y + c on (1, 1) float64 arrays (median µs per op)",
                   ["engine", "forward (recording)", "forward + backward",
                    "forward + backward, c = the leaf y0 (every step also accumulates a gradient)"],
                   [[k, *("—" if v != v else f"{v:.2f}" for v in vs)] for k, vs in cost.items()])
    body += _table("Distance to the hardware floor (the step's matrix products alone)",
                   ["size", "dtype", "matmul GFLOP per step", "GFLOP/s at these shapes", "floor ms",
                    "A2 / floor", "peak GFLOP/s (512 x 512)"], floors)
    body.append(f"Load average at the end: {_load()}.")
    text = "\n".join(head + body) + "\n"
    print("\n" + "\n".join(body), flush=True)
    if out_path != "-":
        atomic_write(out_path, text)
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
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall: wall time (default); cpu: CPU time of this process")
    parser.add_argument("--no-variant", action="store_true",
                        help="skip the second pass with glibc keeping freed memory")
    args = parser.parse_args(argv)
    sizes = [s for s in args.sizes.split(",") if s]
    dtypes = [d for d in args.dtypes.split(",") if d]
    bad = [s for s in sizes if s not in SIZES] + [d for d in dtypes if d not in ("float64", "float32")]
    if bad or (args.repeats is not None and args.repeats < 1):
        parser.error(f"unknown size or dtype: {', '.join(bad)}" if bad else "--repeats must be at least 1")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        run(sizes, dtypes, args.repeats, args.output, args.clock, not args.no_variant)
        return
    with threadpool_limits(1):
        run(sizes, dtypes, args.repeats, args.output, args.clock, not args.no_variant)


if __name__ == "__main__":
    main()
