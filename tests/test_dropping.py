"""``lstm.LSTM(keep_values=False)``: the values no backward reads are dropped as each step is built; the
gradients are the same, the memory smaller, and a drawing that asks for those values says why it cannot."""

import re
import tracemalloc

import numpy as np
import pytest

import lstm
import minigrad as mg
from lstm.dropping import DroppedValues


def run(keep_values: bool, x, **options):
    layer = lstm.LSTM(x.shape[-1], 4, rng=0, keep_values=keep_values, return_sequences=True, **options)
    out, gates = layer(x, return_gates=True)
    (out * np.linspace(-1, 1, out.size).reshape(out.shape)).sum().backward()
    return layer, out, gates


OPTIONS = [{}, {"num_layers": 2}, {"variant": "peephole"}, {"variant": "coupled"},
           {"variant": "vanilla1997", "cells_per_block": 2, "truncated_gradient": True}]


@pytest.mark.parametrize("options", OPTIONS)
def test_the_gradients_and_the_gate_values_are_the_same(options):
    x = np.random.default_rng(0).normal(size=(2, 5, 3))
    (kept, out_k, gates_k), (dropped, out_d, gates_d) = (run(keep, x, **options) for keep in (True, False))
    np.testing.assert_array_equal(out_k.data, out_d.data)
    for (name, p), q in zip(kept.named_parameters(), dropped.parameters()):
        np.testing.assert_array_equal(p.grad.data, q.grad.data, err_msg=name)
    for steps_k, steps_d in zip(gates_k, gates_d):
        for s_k, s_d in zip(steps_k, steps_d):
            for a, b in zip(s_k, s_d):
                assert (a is None) == (b is None)
                if a is not None:
                    np.testing.assert_array_equal(a.data, b.data)


def graph_tensors(root):
    """Every tensor of the graph behind root, with the scope and op that made it."""
    out, stack, seen = [], [root], set()
    while stack:
        node = stack.pop().grad_fn
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        for t in node.inputs:
            if isinstance(t, mg.Tensor) and t.grad_fn is not None:
                out.append((t.grad_fn.scope, t.grad_fn.op, t))
                stack.append(t)
    return out


def test_what_is_dropped_is_each_steps_sums_and_products_nothing_a_backward_reads():
    x = np.random.default_rng(1).normal(size=(2, 4, 3))
    layer = lstm.LSTM(3, 4, rng=0, keep_values=False)
    h = layer(x)
    made = graph_tensors(h)
    gone = sorted((re.sub(r"t\d+", "t", s), op) for s, op, t in made if type(t.data) is DroppedValues)
    per_step = [("lstm/l0/t/cell_state", "mul")] * 2 + [
        (f"lstm/l0/t/{gate}", op) for gate in ("cell_candidate", "forget_gate", "input_gate", "output_gate")
        for op in ("add", "matmul")]  # fmt: skip
    # the last step's h_3 is the root: its gates are dropped like any step's
    assert gone == sorted(per_step * 4)
    dropped = next(t for s, op, t in made if type(t.data) is DroppedValues)
    assert dropped.shape == (2, 4) and dropped.dtype == np.float64
    assert dropped.data.strides == (0, 0)  # no memory behind it
    # printed, it says it was dropped instead of passing zeros off as the values
    said = "<values dropped by lstm.LSTM(keep_values=False): shape (2, 4), float64>"
    assert repr(dropped.data) == str(dropped.data) == said


def test_the_forward_keeps_less_memory():
    x = np.random.default_rng(2).normal(size=(8, 20, 16))
    kept = []
    for keep in (True, False):
        layer = lstm.LSTM(16, 32, rng=0, keep_values=keep)
        tracemalloc.start()
        h = layer(x)
        kept.append(tracemalloc.get_traced_memory()[0])
        tracemalloc.stop()
        del h
    # 10 arrays (B, H) per step no longer held: 4 h U, 4 pre-activations, f * c, i * g (less the small
    # objects that stand for them)
    assert kept[0] - kept[1] >= 0.8 * 10 * 20 * 8 * 32 * 8


def test_drawing_works_without_values_and_refuses_dropped_values_naming_the_switch():
    x = np.random.default_rng(3).normal(size=(2, 3, 3))
    drawings = []
    for keep in (True, False):
        h = lstm.LSTM(3, 4, rng=0, keep_values=keep)(x)
        drawings.append(mg.viz.to_dot(h, scope="*/t2/forget_gate"))
        if keep:
            assert "data " in mg.viz.to_dot(h, scope="*/t2/forget_gate", show_data=True)
    assert drawings[0] == drawings[1]
    with pytest.raises(mg.viz.DrawingError) as e:
        mg.viz.to_dot(h, scope="*/t2/forget_gate", show_data=True)
    assert str(e.value) == (
        "to_dot: show_data=True, but the values of the matmul in lstm/l0/t2/forget_gate were dropped by "
        "lstm.LSTM(keep_values=False); run the forward again with keep_values=True to draw them, or draw "
        "without show_data"
    )
    assert isinstance(e.value, mg.MinigradError)
