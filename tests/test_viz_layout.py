"""The drawings of the course laid out as figures: checked on the DOT text (what is where) and, where a
Graphviz program is installed, on the rendered picture (where it ends up)."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

import lstm
import minigrad as mg
from minigrad import viz
from minigrad.viz import render

GATES = ["input_gate", "forget_gate", "cell_candidate", "output_gate"]


def layer_output(T: int = 5):
    layer = lstm.LSTM(3, 4, rng=0)
    return layer(np.random.default_rng(0).standard_normal((2, T, 3)))


def labels(text: str) -> dict[str, str]:
    """node id -> the first line of its label (bold name or op)."""
    out = {}
    for node, label in re.findall(r"^\s*(n\d+) \[label=<(.*?)> ", text, flags=re.M):
        out[node] = re.sub(r"<[^>]+>", "", label.split("<br/>")[0])
    return out


def test_rolled_names_the_step_x_t_h_t_minus_1_and_folds_the_weight_plumbing():
    text = viz.to_dot(layer_output(), rolled=True)
    names = set(labels(text).values())
    assert {"x_t W_f + b_f", "h_{t-1}", "c_{t-1}", "h_t", "c_t"} <= names
    assert not names & {"x_4 W_f + b_f", "x_3 W_f + b_f", "h_3", "h_4", "c_3", "c_4"}
    assert "split" not in names and "transpose" not in names  # folded into one box
    assert "weights" in names and "6 ops folded" in text
    assert list(names).count("input_projection") == 1  # before the loop, once
    unfolded = viz.to_dot(layer_output(), rolled=True, collapse=False)
    assert "split" in set(labels(unfolded).values()) and "ops folded" not in unfolded


def test_the_gates_of_a_step_are_written_so_that_they_read_top_down_in_textbook_order():
    text = viz.to_dot(layer_output(), scope="*/t0")
    order = re.findall(r"graph \[label=<<b>(\w+)</b>", text)
    # Laid out left to right, Graphviz stacks sibling clusters bottom-up in the order it meets them
    gates = [c for c in order if c in GATES]
    assert gates == GATES[::-1]


RENDERERS = {"dot": shutil.which("dot"), "graphviz-pure": render._pure_program()}


def version(program: str) -> tuple[int, int] | None:
    if RENDERERS[program] is None:
        pytest.skip(f"{program} is not installed")
    out = subprocess.run([RENDERERS[program], "-V"], capture_output=True, timeout=60)
    return render.parse_version((out.stderr + out.stdout).decode())


def test_the_graphviz_version_is_read_from_what_the_program_prints():
    assert render.parse_version("dot - graphviz version 2.43.0 (0)") == (2, 43)
    pure = "graphviz-pure - graphviz-pure version 0.2.2 (Rust port of Graphviz 16.1.0)"
    assert render.parse_version(pure) == (16, 1)
    assert render.parse_version("dot: command not found") is None
    if RENDERERS["dot"] is not None:
        assert render.graphviz_version() == version("dot")


def test_the_steps_are_written_for_the_graphviz_that_lays_them_out():
    def written(text):  # the layer's clusters in the order the text writes them
        return [c for ln in text.splitlines() for c in ("inputs", "t0", "t1", "t2") if f'"lstm/l0/{c}"' in ln]

    older, newer = (viz.to_dot(layer_output(3), graphviz=v) for v in ((9, 0), (10, 0)))
    assert written(older) == ["inputs", "t0", "t1", "t2"]
    assert written(newer) == ["t2", "t1", "t0", "inputs"]
    assert viz.to_dot(layer_output(3)) == older  # no version given: written for Graphviz before 10


def laid_out(program: str, source: str) -> str:
    if RENDERERS[program] is None:
        pytest.skip(f"{program} is not installed")
    out = subprocess.run(
        [RENDERERS[program], "-Tsvg"], input=source.encode(), capture_output=True, timeout=300
    )
    return out.stdout.decode()


@pytest.mark.parametrize("program", RENDERERS)
def test_rendered_the_gates_stand_top_down_in_textbook_order(program):
    for view in ({"scope": "*/t0"}, {"rolled": True}):
        tops = cluster_tops(laid_out(program, viz.to_dot(layer_output(), **view)))
        assert sorted(GATES, key=lambda g: tops[g]) == GATES, view


@pytest.mark.parametrize("program", RENDERERS)
def test_rendered_the_steps_stand_top_down_in_time_order(program):
    # Graphviz 10 and later stack unconnected parts from the bottom: the text is written for the version.
    svg = laid_out(program, viz.to_dot(layer_output(3), graphviz=version(program)))
    tops = cluster_tops(svg, key=lambda title: title.rsplit("/", 1)[-1] if title.count("/") == 2 else None)
    assert sorted(["t0", "t1", "t2"], key=lambda s: tops[s]) == ["t0", "t1", "t2"]


@pytest.mark.parametrize("program", RENDERERS)
@pytest.mark.parametrize("rolled", [False, True])
def test_rendered_the_input_projection_stands_above_the_steps(program, rolled):
    # It runs once, before the time loop: drawn above t0 (and above the rolled step), not below the steps.
    svg = laid_out(program, viz.to_dot(layer_output(3), rolled=rolled, graphviz=version(program)))
    tops = cluster_tops(svg, key=lambda title: title.rsplit("/", 1)[-1] if title.count("/") == 2 else None)
    assert tops["inputs"] < min(tops[t] for t in tops if t.startswith("t")), tops


def cluster_tops(svg: str, key=lambda title: title.rsplit("/", 1)[-1]) -> dict[str, float]:
    """cluster name -> the y of its top edge (smallest y of its outline), from the rendered SVG."""
    tops = {}
    for title, points in re.findall(
        r'<g id="clust\d+" class="cluster">\s*<title>cluster_\d+</title>\s*<g id="a_clust\d+">'
        r'<a xlink:title="([^"]+)">\s*<path[^>]* d="([^"]+)"',
        svg,
    ):
        name = key(title)
        if name is not None:
            ys = [float(y) for y in re.findall(r"[\d.-]+,([\d.-]+)", points)]
            tops.setdefault(name, min(ys))
    return tops


def test_several_steps_each_step_has_its_inputs_and_the_states_it_reads():
    text = viz.to_dot(layer_output(3), scope="*/forget_gate")
    # x_k's share (from the projection before the loop) and h_{k-1} are drawn inside step k, nothing outside
    # the steps but what leaves them
    for k in range(3):
        block = text.split(f"<b>t{k}</b>")[1].split("<b>t")[0]
        assert f"<b>x_{k} W_f + b_f</b>" in block
        assert ("<b>h_init</b>" if k == 0 else f"<b>h_{k - 1}</b>") in block
    top = [ln for ln in text.splitlines() if re.match(r"^  n\d+ \[", ln)]
    assert all("to lstm/l0/t" in ln for ln in top)


def test_the_step_pattern_is_an_option():
    x = mg.tensor(np.ones((1, 2)), name="x")
    w = mg.nn.Parameter(np.eye(2) * 0.5, name="w")
    h = mg.tensor(np.zeros((1, 2)), name="h_init")
    with mg.scope("rnn"):
        for k in range(3):
            with mg.scope(f"step{k}"):
                h = mg.tanh(x @ w + h)
                h.name = f"h_{k}"
    with pytest.raises(viz.DrawingError, match=r"rolled=True needs scopes with time steps"):
        viz.to_dot(h, rolled=True)
    text = viz.to_dot(h, rolled=True, step=r"step(\d+)")
    assert "one step drawn for 3 (step0..step2)" in text and "<b>h_t</b>" in text and "<b>h_{t-1}</b>" in text


def test_labels_use_the_course_notation():
    # rows are batch entries: x_t (B, I) @ W_f (I, H), W_f cut from weight_ih (4H, I)
    text = viz.to_dot(layer_output(), scope="*/t4/forget_gate")
    assert "<b>x_4 W_f + b_f</b><br/>(2, 4) float64" in text and "<b>U_f</b><br/>(4, 4) float64" in text
    assert "\u1d40" not in text and "^T" not in text
    cell = lstm.LSTMCell(3, 4, rng=0)  # one step by hand: x_t W_f + b_f inside the gate
    text = viz.to_dot(cell(mg.tensor(np.ones((2, 3)), name="x_t"))[0], scope="forget_gate")
    assert "<b>W_f</b><br/>(3, 4) float64" in text and "<b>x_t</b><br/>(2, 3) float64" in text


def test_the_disagreement_drawing_takes_its_colours_and_layout_from_viz():
    from lstm import compare, reference
    from minigrad.viz.dot import AGREE, DISAGREE

    assert (compare.WRONG_COLOUR, compare.RIGHT_COLOUR) == (DISAGREE, AGREE)

    def slipped(dh, dc, cache):
        return reference.lstm_step_backward(dh, dc, cache._replace(c_prev=cache.c))

    text = compare.draw_disagreement(compare.compare_gradients(slipped)).source
    assert "12 ops folded" in text  # the weight plumbing folded, as in every drawing
    assert re.search(rf'fillcolor="{DISAGREE}".*tooltip="matmul in forget_gate"', text)
