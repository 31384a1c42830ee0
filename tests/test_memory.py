"""Long graphs are safe: backpropagation through 2,000 LSTM steps needs no recursion, a training loop does
not grow, truncated BPTT drops each chunk's graph, and inference under ``no_grad`` runs in constant memory.

Memory is measured with ``tracemalloc`` (every allocation of Python and NumPy, since NumPy reports its
buffers to it). Two caches of the interpreter hold on to small objects made during a step (the type
attribute cache keeps the attribute names it has seen, up to a fixed number of entries): they are
cleared before each reading, so what remains is what minigrad keeps. Bounds are stated next to each test;
the graph of one step of the models used is hundreds of times larger than any bound, so a leaked graph
per iteration cannot pass.

Graph-freeing by reference counting alone (no cycle collector) is checked node by node in
tests/test_engine.py; here it is the whole loop that is measured.
"""

import gc
import inspect
import sys
import tracemalloc

import numpy as np
import pytest

import lstm
import minigrad as mg

KiB = 1024


def traced_now() -> int:
    """Bytes currently allocated and traced, after clearing the interpreter's caches (see module doc)."""
    sys._clear_type_cache()
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


@pytest.fixture
def traced():
    tracemalloc.start()
    yield
    tracemalloc.stop()


@pytest.fixture
def low_recursion_limit():
    """Any recursion over time steps would fail: the limit is far below the number of steps."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + 150)
    yield
    sys.setrecursionlimit(old)


def training_step(layer: lstm.LSTM, x: np.ndarray, opt) -> float:
    opt.zero_grad()
    loss = (layer(x) ** 2).mean()
    loss.backward()
    opt.step()
    return loss.item()


@pytest.mark.slow
def test_bptt_through_2000_steps_releases_its_graph_after_each_iteration(low_recursion_limit):
    # About 70,000 ops per iteration: forward, backward through all of them, an SGD step.
    layer = lstm.LSTM(2, 4, rng=0)
    opt = mg.optim.SGD(layer.parameters(), lr=0.01)
    x = np.random.default_rng(0).normal(size=(1, 2000, 2))
    losses = [training_step(layer, x, opt)]  # warm-up, untraced: first-call allocations
    tracemalloc.start()
    after = [traced_now()]
    peaks = []
    for _ in range(2):
        tracemalloc.reset_peak()
        losses.append(training_step(layer, x, opt))
        peaks.append(tracemalloc.get_traced_memory()[1])
        after.append(traced_now())
    tracemalloc.stop()
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]  # it trained
    growth = max(after) - after[0]
    assert growth < 64 * KiB, f"memory after each iteration: {after}"
    # While it ran, the graph held megabytes (every step's saved values); afterwards none of it is left.
    assert min(peaks) > 8 * 1024 * KiB
    assert max(after) < min(peaks) / 20


def test_200_training_iterations_of_a_short_sequence_do_not_grow(traced):
    layer = lstm.LSTM(3, 5, num_layers=2, rng=1)
    opt = mg.optim.Adam(layer.parameters(), lr=0.01)
    x = np.random.default_rng(1).normal(size=(4, 8, 3))
    for _ in range(5):
        training_step(layer, x, opt)
    start = traced_now()
    readings = []
    for i in range(200):
        training_step(layer, x, opt)
        if i % 20 == 19:
            readings.append(traced_now() - start)
    assert max(readings) < 32 * KiB, f"growth every 20 iterations (bytes): {readings}"


def test_truncated_bptt_drops_each_chunks_graph(traced):
    # The state carried into the next chunk is detached: a view of the last chunk's values that must not
    # keep that chunk's graph alive (it shares a version cell with it, not a reference).
    layer = lstm.LSTM(2, 6, return_state=True, rng=2)
    opt = mg.optim.SGD(layer.parameters(), lr=0.01)
    chunks = np.random.default_rng(2).normal(size=(60, 3, 10, 2))
    state = None
    readings = []
    for k, x in enumerate(chunks):
        opt.zero_grad()
        out, h_n, c_n = layer(x, state)
        (out**2).mean().backward()
        opt.step()
        state = (h_n.detach(), c_n.detach())
        del out, h_n, c_n
        if k == 9:
            start = traced_now()
        elif k > 9 and k % 10 == 9:
            readings.append(traced_now() - start)
    assert max(readings) < 32 * KiB, f"growth every 10 chunks (bytes): {readings}"


@pytest.mark.slow
def test_inference_over_100000_steps_under_no_grad_holds_constant_memory():
    # One cell stepped one step at a time, carrying (h, c), as in generation. Tracing slows every
    # allocation several times, so the first 90,000 steps run untraced and are watched through the
    # interpreter's count of allocated blocks; the last 10,000 are traced: anything a step kept would
    # show as growth of the traced memory, and the peak is one step's working set.
    cell = lstm.LSTMCell(3, 16, rng=3)
    xs = mg.tensor(np.random.default_rng(3).normal(size=(64, 1, 3)))
    with mg.no_grad():
        weights = cell.gate_weights()
        x, h, c = cell.check_inputs(xs[0], None)
        blocks = []
        for t in range(90_000):
            step = cell.step_unchecked(xs[t % 64], h, c, weights)
            h, c = step.h, step.c
            if t % 10_000 == 999:
                gc.collect()
                blocks.append(sys.getallocatedblocks())
        tracemalloc.start()
        try:
            start = traced_now()
            tracemalloc.reset_peak()
            for t in range(10_000):
                step = cell.step_unchecked(xs[t % 64], h, c, weights)
                h, c = step.h, step.c
            peak = tracemalloc.get_traced_memory()[1] - start
            growth = traced_now() - start
        finally:
            tracemalloc.stop()
    assert not h.requires_grad and h.grad_fn is None
    assert np.isfinite(h.data).all() and np.abs(h.data).max() < 1
    assert max(blocks) - blocks[0] < 1000, f"allocated blocks every 10,000 steps: {blocks}"
    assert growth < 16 * KiB, f"{growth} bytes more after 10,000 traced steps"
    assert peak < 64 * KiB, f"peak {peak} bytes above the start"
