"""mg.viz: DOT text for computation graphs, and rendering it with Graphviz.

The DOT text is read back with a small parser below (one statement per line, as `to_dot` writes it), so
the structure is checked without Graphviz. Every DOT text a test makes is also laid out after the test with
``dot -Tsvg`` (or, without the Graphviz program, pip's ``graphviz-pure``), and must succeed without
warnings; under CI (``CI`` set) a missing layout program fails instead of being skipped.
"""

from __future__ import annotations

import html as htmllib
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import minigrad as mg
from minigrad import viz
from minigrad.nn import Module, Parameter
from minigrad.viz.dot import HEAT, KINDS, RECURRENT

DOT = shutil.which("dot") or viz.render._pure_program()  # the program that lays drawings out
GATES = {"input_gate": "i", "forget_gate": "f", "cell_candidate": "g", "output_gate": "o"}
STEP_SCOPES = [*GATES, "cell_state", "hidden_state"]

# -- rendering every drawing a test makes ---

_MADE: list[str] = []


def to_dot(*roots, **options) -> str:
    """viz.to_dot, remembered so that the fixture below renders it after the test."""
    text = viz.to_dot(*roots, **options)
    _MADE.append(text)
    return text


def svg(text: str) -> str:
    """Lay out DOT text with `dot` (or graphviz-pure); fail on an error or a warning."""
    proc = subprocess.run([DOT, "-Tsvg"], input=text.encode(), capture_output=True, timeout=120)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, err
    # graphviz-pure has no widths for non-ASCII characters (the "\u00b7" of value summaries): it says so
    metrics = "no value for width of non-ASCII character"
    warnings = [
        ln for ln in err.splitlines() if ln.strip() and not ln.startswith("Fontconfig") and metrics not in ln
    ]
    assert not warnings, warnings
    out = proc.stdout.decode()
    ET.fromstring(out)  # well-formed XML, so every label and tooltip was escaped right
    return out


def need_dot() -> None:
    if DOT is None:
        if os.environ.get("CI"):
            pytest.fail("the Graphviz program `dot` is not installed; CI must render every drawing")
        pytest.skip("the Graphviz program `dot` is not installed")


@pytest.fixture(autouse=True)
def _render_what_the_test_drew():
    _MADE.clear()
    yield
    made = list(_MADE)
    _MADE.clear()
    if made and DOT is None and os.environ.get("CI"):
        pytest.fail("the Graphviz program `dot` is not installed; CI must render every drawing")
    if DOT is not None:
        for text in made:
            svg(text)


def test_dot_is_installed_where_drawings_must_be_checked():
    need_dot()
    assert "graphviz" in subprocess.run([DOT, "-V"], capture_output=True, timeout=30).stderr.decode().lower()


# -- reading DOT text back ---


def _value(s: str, k: int) -> tuple[str, int]:
    if s[k] == "<":  # an HTML-like label: balanced angle brackets (text inside is escaped)
        depth, start = 0, k
        while True:
            depth += (s[k] == "<") - (s[k] == ">")
            k += 1
            if depth == 0:
                return s[start:k], k
    if s[k] == '"':
        m = re.compile(r'"((?:[^"\\]|\\.)*)"').match(s, k)
        return re.sub(r"\\(.)", r"\1", m.group(1)), m.end()
    m = re.compile(r"[^\s\]]+").match(s, k)
    return m.group(), m.end()


def attrs_of(s: str) -> dict:
    out, k = {}, 0
    key = re.compile(r"\s*(\w+)=")
    while (m := key.match(s, k)) is not None:
        out[m.group(1)], k = _value(s, m.end())
    return out


def text_of(label: str) -> str:
    """The text an HTML-like label shows, lines joined by newlines (Graphviz reads \\\\ as \\)."""
    inner = label[1:-1] if label.startswith("<") else label
    inner = inner.replace("<br/>", "\n").replace("\\\\", "\\")
    return htmllib.unescape(re.sub(r"<[^>]*>", "", inner))


class Parsed:
    """Nodes (id -> text, attributes, path of cluster names), edges and clusters of a DOT text."""

    def __init__(self, text: str) -> None:
        self.nodes: dict = {}
        self.edges: list = []
        self.clusters: list = []  # (path of names, label text)
        self.legend = ""
        stack: list = []
        for line in text.splitlines():
            s = line.strip()
            if s.startswith("subgraph cluster_"):
                stack.append(None)
            elif s == "}":
                if stack:
                    stack.pop()
            elif s.startswith("graph [label="):
                label = text_of(attrs_of(s[len("graph [") :])["label"])
                if stack:
                    stack[-1] = label.split("\n")[0]
                    self.clusters.append((tuple(stack), label))
                else:
                    self.legend = label
            elif m := re.fullmatch(r"(n\d+) -> (n\d+)(?: \[(.*)\])?", s):
                a = attrs_of(m.group(3) or "")
                self.edges.append((m.group(1), m.group(2), a, text_of(a.get("label", ""))))
            elif m := re.fullmatch(r"(n\d+) \[(.*)\]", s):
                a = attrs_of(m.group(2))
                self.nodes[m.group(1)] = {"text": text_of(a["label"]), "attrs": a, "path": tuple(stack)}

    def ops(self, path_prefix: tuple = ()) -> list[str]:
        return [
            n["text"].split("\n")[0]
            for n in self.nodes.values()
            if n["attrs"]["shape"] == "ellipse" and n["path"][: len(path_prefix)] == path_prefix
        ]

    def named(self, title: str) -> list[dict]:
        """The tensor nodes whose first label line is ``title``."""
        return [
            n
            for n in self.nodes.values()
            if n["attrs"]["shape"] != "ellipse" and n["text"].split("\n")[0] == title
        ]

    def kind(self, node: dict) -> str:
        fill = node["attrs"]["fillcolor"]
        return next(k for k, (c, _) in KINDS.items() if c == fill)


# -- graphs to draw ---


def lstm_graph(T: int = 3, seed: int = 0, B: int = 2, I: int = 3, H: int = 4):
    """An LSTM unrolled by hand over T steps with mg ops, in scopes lstm/l0/t{k}/{gate}: per gate
    z = x @ W + h @ U + b and an activation; then c = f * c + i * g and h = o * tanh(c). The
    Parameters (W, U, b of each gate) are shared by every step."""
    rng = np.random.default_rng(seed)
    P = {
        s: tuple(
            Parameter(rng.standard_normal(shape), name=f"{w}_{s}")
            for w, shape in (("W", (I, H)), ("U", (H, H)), ("b", (H,)))
        )
        for s in GATES.values()
    }
    xs = [mg.tensor(rng.standard_normal((B, I)), name=f"x{k}") for k in range(T)]
    h = mg.tensor(np.zeros((B, H)), name="h0")
    c = mg.tensor(np.zeros((B, H)), name="c0")
    with mg.scope("lstm"), mg.scope("l0"):
        for k in range(T):
            with mg.scope(f"t{k}"):
                a = {}
                for gate, s in GATES.items():
                    W, U, b = P[s]
                    with mg.scope(gate):
                        z = xs[k] @ W + h @ U + b
                        a[s] = mg.tanh(z) if s == "g" else mg.sigmoid(z)
                with mg.scope("cell_state"):
                    c = a["f"] * c + a["i"] * a["g"]
                with mg.scope("hidden_state"):
                    h = a["o"] * mg.tanh(c)
    return h, c, P, xs


GATE_OPS = ["matmul", "matmul", "add", "add"]  # then sigmoid or tanh
OPS_PER_STEP = 4 * 5 + 3 + 2  # four gates; cell_state mul, mul, add; hidden_state tanh, mul


# -- clusters ---


def test_every_scope_is_a_cluster_nested_like_the_scopes():
    h, c, _, _ = lstm_graph(T=3)
    p = Parsed(to_dot(h))
    paths = {path for path, _ in p.clusters}
    expected = {("lstm",), ("lstm", "l0")}
    for k in range(3):
        expected |= {("lstm", "l0", f"t{k}")} | {("lstm", "l0", f"t{k}", s) for s in STEP_SCOPES}
    assert paths == expected
    for k in range(3):
        step = ("lstm", "l0", f"t{k}")
        for gate, s in GATES.items():
            act = "tanh" if s == "g" else "sigmoid"
            assert sorted(p.ops((*step, gate))) == sorted([*GATE_OPS, act])
        assert sorted(p.ops((*step, "cell_state"))) == ["add", "mul", "mul"]
        assert sorted(p.ops((*step, "hidden_state"))) == ["mul", "tanh"]
    assert len(p.ops()) == 3 * OPS_PER_STEP


def test_one_step_shows_four_gates_plus_cell_and_hidden_state():
    h, _, _, _ = lstm_graph(T=1)
    p = Parsed(to_dot(h))
    under_step = {path[-1] for path, _ in p.clusters if len(path) == 4}
    assert under_step == {
        "input_gate",
        "forget_gate",
        "cell_candidate",
        "output_gate",
        "cell_state",
        "hidden_state",
    }


# -- what a picture shows ---


def test_kinds_shapes_marks_and_legend():
    W = Parameter(np.ones((3, 2)), name="W")
    x = mg.tensor(np.ones((4, 3)), name="x")  # data
    s = mg.tensor([0.5, 1.5], requires_grad=True, name="s")  # a leaf input that requires grad
    y = (1 - mg.sigmoid(x @ W)) * s
    y.name = "y"
    p = Parsed(to_dot(y))
    (wn,), (xn,), (sn,), (yn,) = p.named("W"), p.named("x"), p.named("s"), p.named("y")
    assert [p.kind(n) for n in (wn, xn, sn, yn)] == ["parameter", "input", "input", "output"]
    (const,) = [n for n in p.nodes.values() if n["text"] == "1"]
    assert p.kind(const) == "constant"
    assert wn["text"] == "W\n(3, 2) float64" and xn["text"] == "x\n(4, 3) float64"
    assert {n["attrs"]["shape"] for n in (wn, xn, sn, yn, const)} == {"box"}
    assert sorted(p.ops()) == ["matmul", "mul", "sigmoid", "sub"]
    # requires grad: a thick border
    assert wn["attrs"].get("penwidth") == "2" and sn["attrs"].get("penwidth") == "2"
    assert "penwidth" not in xn["attrs"] and "penwidth" not in const["attrs"]
    # the kinds have distinct colours, and the legend names those present
    assert len({c for c, _ in KINDS.values()}) == len(KINDS)
    for word in ("parameter", "input", "constant", "output", "op", "thick border: requires grad"):
        assert word in p.legend
    assert "folded scope" not in p.legend
    assert Parsed(to_dot(y, legend=False)).legend == ""


def test_op_labels_show_their_non_tensor_arguments():
    x = mg.tensor(np.ones((2, 6)), requires_grad=True, name="x")
    a, b = x.split(2, axis=1)
    y = (a.sum(axis=1) + b.reshape(6).sum()).sum()
    p = Parsed(to_dot(y))
    texts = sorted(n["text"] for n in p.nodes.values() if n["attrs"]["shape"] == "ellipse")
    assert "split\nsizes=[3, 3] axis=1" in texts and "sum\naxis=1" in texts and "reshape\nshape=(6,)" in texts
    # the outputs of a several-output op are told apart on their arrows
    split = next(k for k, n in p.nodes.items() if n["text"].startswith("split"))
    assert sorted(lbl for s, _, _, lbl in p.edges if s == split) == ["[0]", "[1]"]


def test_intermediate_tensors_are_boxes_when_named_or_asked_for():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    z = mg.tanh(x)
    z.name = "z"
    y = mg.exp(z * 2.0).sum()
    auto = Parsed(to_dot(y))
    assert len(auto.named("z")) == 1 and p_tensor_count(auto) == 4  # x, z, the constant 2, the output
    none = Parsed(to_dot(y, intermediates="none"))
    assert none.named("z") == [] and p_tensor_count(none) == 3
    assert [lbl for _, _, _, lbl in none.edges if lbl] == ["z"]  # named on its arrow instead
    every = Parsed(to_dot(y, intermediates="all"))
    assert p_tensor_count(every) == 6  # plus z * 2 and its exp


def p_tensor_count(p: Parsed) -> int:
    return sum(n["attrs"]["shape"] != "ellipse" for n in p.nodes.values())


def test_names_from_a_module():
    class Net(Module):
        def __init__(self):
            self.weight = Parameter(np.ones((3, 2)))
            self.bias = Parameter(np.zeros(2))

    net = Net()
    y = (mg.tensor(np.ones((1, 3))) @ net.weight + net.bias).sum()
    p = Parsed(to_dot(y, names=net))
    assert len(p.named("weight")) == 1 and len(p.named("bias")) == 1


# -- shared parameters drawn per cluster ---


def test_a_shared_leaf_is_drawn_once_in_each_cluster_that_uses_it():
    h, _, _, _ = lstm_graph(T=3)
    p = Parsed(to_dot(h))
    copies = p.named("W_f")
    assert sorted(n["path"] for n in copies) == [("lstm", "l0", f"t{k}", "forget_gate") for k in range(3)]
    assert all("dashed" in n["attrs"]["style"] for n in copies)
    # x1 feeds the four gates of step 1: it is data, drawn once, entering step 1 on its left
    assert [n["path"] for n in p.named("x1")] == [("lstm", "l0", "t1")]
    # each copy has exactly one arrow, into its own cluster's matmul
    ids = {k for k, n in p.nodes.items() if n["text"].startswith("W_f\n")}
    assert sorted(p.nodes[d]["text"] for s, d, _, _ in p.edges if s in ids) == ["matmul"] * 3
    assert "dashed border" in p.legend
    hub = Parsed(to_dot(h, copy_shared=False))
    (w,) = hub.named("W_f")
    assert w["path"] == ("lstm", "l0") and "dashed" not in w["attrs"]["style"]
    wid = next(k for k, n in hub.nodes.items() if n is w)
    assert sum(s == wid for s, _, _, _ in hub.edges) == 3


def test_node_count_of_the_full_lstm_picture():
    h, _, _, _ = lstm_graph(T=3)
    # per step 25 ops, 12 weight copies (W, U, b in each gate) and x; step 0 also h0 and c0, the others
    # the h and c of the step before, entering on their left; the output
    p = Parsed(to_dot(h))
    assert len(p.nodes) == 3 * (OPS_PER_STEP + 12 + 1) + 2 + 2 * 2 + 1
    entering = [n["path"] for n in p.nodes.values() if n["path"][-1:] in [("t1",), ("t2",)]]
    assert sorted(entering) == [("lstm", "l0", "t1")] * 3 + [("lstm", "l0", "t2")] * 3  # x, h, c


# -- scope= ---


@pytest.mark.parametrize(
    "pattern", ["t1/forget_gate", "*/t1/forget_gate", "lstm/l0/t1/forget_gate", "/lstm/l0/t1/forget_gate",
                "lstm/**/t1/forget_gate", "t[1]/forget_*"],
)  # fmt: skip
def test_scope_draws_only_that_scope_with_its_boundary(pattern):
    h, c, _, _ = lstm_graph(T=3)
    text = to_dot(h, c, scope=pattern)
    assert text == viz.to_dot(h, c, scope="lstm/l0/t1/forget_gate")
    p = Parsed(text)
    assert sorted(p.ops()) == sorted(["matmul", "matmul", "add", "add", "sigmoid"])
    assert all(
        n["path"] == ("lstm", "l0", "t1", "forget_gate")
        for n in p.nodes.values()
        if n["attrs"]["shape"] == "ellipse"
    )
    tensors = sorted(n["text"] for n in p.nodes.values() if n["attrs"]["shape"] != "ellipse")
    assert tensors == sorted([
        "x1\n(2, 3) float64", "W_f\n(3, 4) float64", "U_f\n(4, 4) float64", "b_f\n(4,) float64",
        "(2, 4) float64\nfrom lstm/l0/t0/hidden_state", "(2, 4) float64\nto lstm/l0/t1/cell_state",
    ])  # fmt: skip
    # what enters is drawn next to the op reading it, inside the gate; what leaves, outside it
    for n in p.nodes.values():
        leaving = n["text"].endswith("to lstm/l0/t1/cell_state")
        assert n["path"] == (() if leaving else ("lstm", "l0", "t1", "forget_gate"))
    assert len(p.edges) == 10


def test_scope_without_a_path_matches_it_in_every_step():
    h, _, _, _ = lstm_graph(T=3)
    p = Parsed(to_dot(h, scope="forget_gate"))
    assert len(p.ops()) == 3 * 5
    assert sorted(path for path, _ in p.clusters if path[-1] == "forget_gate") == [
        ("lstm", "l0", f"t{k}", "forget_gate") for k in range(3)
    ]
    assert len(Parsed(to_dot(h, scope="t2")).ops()) == OPS_PER_STEP


def test_scope_pattern_rule():
    path = ("lstm", "l0", "t3", "forget_gate")
    yes = [
        "forget_gate",
        "t3/forget_gate",
        "*/forget_gate",
        "lstm/l0/t3/forget_gate",
        "/lstm/*/t3/forget_gate",
        "lstm/**/forget_gate",
        "**",
        "t?/forget*",
        "/lstm/**",
    ]
    no = ["t3", "gate", "/forget_gate", "lstm/*/forget_gate", "/l0/t3/forget_gate", "forget", "*/*/*/*/*"]
    for pattern in yes:
        assert viz.ScopePattern(pattern, "test").matches(path), pattern
    for pattern in no:
        assert not viz.ScopePattern(pattern, "test").matches(path), pattern


def test_a_scope_that_matches_nothing_is_an_error():
    h, _, _, _ = lstm_graph(T=1)
    with pytest.raises(
        ValueError, match=r"scope='forget' matches no scope of the graph; its scopes are: lstm/l0/t0/cel"
    ):
        viz.to_dot(h, scope="forget")
    with pytest.raises(ValueError, match="non-empty string"):
        viz.to_dot(h, scope="/")


# -- collapse= ---


def test_collapse_folds_each_step_into_one_box():
    h, _, _, _ = lstm_graph(T=3)
    full = Parsed(to_dot(h))
    p = Parsed(to_dot(h, collapse=["t*"]))
    boxes = [n for n in p.nodes.values() if n["attrs"]["shape"] == "box3d"]
    assert sorted(n["text"].split("\n")[:2] for n in boxes) == [
        [f"t{k}", f"{OPS_PER_STEP} ops folded"] for k in range(3)
    ]
    assert all(n["path"] == ("lstm", "l0") for n in boxes)
    params = {f"{w}_{s}" for w in "WUb" for s in GATES.values()}
    for n in boxes:  # the twelve parameters: four named, and how many more
        shown, more = re.fullmatch(r"reads (.*) \+(\d+)", n["text"].split("\n")[2]).groups()
        assert set(shown.split(", ")) <= params and len(shown.split(", ")) + int(more) == 12
    # three boxes, x0..x2, h0, c0 and the output; the parameters are listed in the boxes
    assert len(p.nodes) == 9 < len(full.nodes)
    ids = {n["text"].split("\n")[0]: k for k, n in p.nodes.items()}
    between = [
        (lbl) for s, d, _, lbl in p.edges if (s, d) in {(ids["t0"], ids["t1"]), (ids["t1"], ids["t2"])}
    ]
    assert between == ["2 tensors", "2 tensors"]  # h and c merged into one arrow
    assert "folded scope" in p.legend


def test_collapse_with_a_function_keeps_the_last_step():
    h, _, _, _ = lstm_graph(T=3)
    p = Parsed(
        to_dot(h, collapse=lambda s: re.fullmatch(r".*/t\d+", s) is not None and not s.endswith("/t2"))
    )
    assert sorted(n["text"].split("\n")[0] for n in p.nodes.values() if n["attrs"]["shape"] == "box3d") == [
        "t0",
        "t1",
    ]
    assert len(p.ops(("lstm", "l0", "t2"))) == OPS_PER_STEP
    # 2 boxes, x0, x1, h0, c0; the last step's 25 ops, 12 weight copies and x2; the output
    assert len(p.nodes) == 2 + 4 + OPS_PER_STEP + 12 + 1 + 1


def test_a_collapse_pattern_that_matches_nothing_is_an_error():
    h, _, _, _ = lstm_graph(T=1)
    with pytest.raises(ValueError, match="collapse pattern 'step' matches no drawn scope"):
        viz.to_dot(h, collapse=["t*", "step"])


# -- max_nodes ---


def test_max_nodes_names_the_count():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    y = x
    for _ in range(10):
        y = mg.tanh(y)
    # x, ten tanh, the output
    with pytest.raises(viz.GraphTooLargeError) as e:
        viz.to_dot(y, max_nodes=11)
    msg = str(e.value)
    assert msg.startswith("to_dot: the picture would have 12 nodes, more than max_nodes=11; ")
    assert "scope='...'" in msg and "collapse=[...]" in msg and "rolled=True" not in msg
    assert len(Parsed(to_dot(y, max_nodes=12)).nodes) == 12
    with pytest.raises(viz.GraphTooLargeError, match="draw: the picture would have 12 nodes"):
        viz.draw(y, max_nodes=5)


def test_max_nodes_suggests_rolling_a_recurrence():
    h, _, _, _ = lstm_graph(T=3)
    with pytest.raises(
        viz.GraphTooLargeError, match=r"would have 121 nodes, more than max_nodes=100; .*rolled=True"
    ):
        viz.to_dot(h, max_nodes=100)


def test_a_long_chain_is_walked_without_recursion():
    x = mg.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(20_000):
        y = mg.tanh(y)
    with pytest.raises(viz.GraphTooLargeError, match="would have 20002 nodes, more than max_nodes=500"):
        viz.to_dot(y)
    with mg.scope("chain"):
        z = mg.exp(y)
    assert len(Parsed(to_dot(z, collapse=["chain"], scope="chain")).nodes) == 3


# -- rolled view ---


def test_rolled_draws_one_step_with_recurrent_edges_looping_back():
    h, c, _, _ = lstm_graph(T=3)
    p = Parsed(to_dot(h, c, rolled=True))
    ops = [n for n in p.nodes.values() if n["attrs"]["shape"] == "ellipse"]
    assert len(ops) == OPS_PER_STEP and all(n["path"][:3] == ("lstm", "l0", "t2") for n in ops)
    (label,) = [lbl for path, lbl in p.clusters if path == ("lstm", "l0", "t2")]
    assert "3" in label.split("\n")[1]
    assert p.named("x2") and not p.named("x0") and not p.named("x1") and not p.named("h0")
    loops = [(s, d, lbl) for s, d, a, lbl in p.edges if a.get("color") == RECURRENT]
    assert all(lbl == "3 steps" for _, _, lbl in loops)
    # h and c loop back, each once, into a box of the previous value entering the step on its left;
    # from there h goes into the U matmul of each gate, c into the forget term of the cell state
    outs = {k for k, n in p.nodes.items() if p.kind(n) == "output"}
    assert all(s in outs for s, _, _ in loops) and len(loops) == 2
    assert all(p.nodes[d]["path"] == ("lstm", "l0", "t2") for _, d, _ in loops)
    previous = {d for _, d, _ in loops}
    readers = sorted((p.nodes[d]["path"][-1], p.nodes[d]["text"]) for s, d, _, _ in p.edges if s in previous)
    assert readers == sorted([(g, "matmul") for g in GATES] + [("cell_state", "mul")])
    assert "red arrows" in p.legend


def test_rolled_needs_time_steps():
    x = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(
        ValueError, match=r"rolled=True needs scopes with time steps \(a component t0, t1, ... matching step="
    ):
        viz.to_dot(mg.exp(x), rolled=True)


# -- determinism ---


@pytest.mark.parametrize(
    "options", [{}, {"rolled": True}, {"collapse": ["t0", "t1"]}, {"scope": "cell_state", "show_data": True}]
)
def test_the_same_graph_gives_the_same_text(options):
    a = lstm_graph(T=3)
    b = lstm_graph(T=3)
    text = to_dot(a[0], a[1], **options)
    assert text == viz.to_dot(b[0], b[1], **options) == viz.to_dot(a[0], a[1], **options)
    ids = sorted(int(k) for k in re.findall(r"^\s*n(\d+) \[", text, flags=re.M))
    assert ids == list(range(len(ids)))  # numbered by a counter, not by id()


# -- escaping ---

HOSTILE = 'q"uote <lt> &amp; back\\slash \\N\\G\\L\\\\\nline two: ünï 🙂 \x07 {x} [y] tail\\'


class Weird(mg.Function):
    op = 'we<ir>d"op&\\'

    @staticmethod
    def forward(ctx, x):
        return x * 2.0

    @staticmethod
    def backward(ctx, g):
        return g * 2.0


def hostile_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name=HOSTILE)
    with mg.scope('sc"o<p>e&\\G'), mg.scope("t0"):
        y = Weird.apply(x)
    y.name = "</b></font>]]>"
    return mg.exp(y)


def test_hostile_names_are_escaped():
    text = to_dot(hostile_graph())
    p = Parsed(text)
    seen = "\n".join(n["text"] for n in p.nodes.values())
    assert HOSTILE.replace("\x07", "\\x07") in seen
    assert 'we<ir>d"op&\\' in seen and "</b></font>]]>" in seen
    assert [path for path, _ in p.clusters] == [('sc"o<p>e&\\G',), ('sc"o<p>e&\\G', "t0")]
    assert "\x07" not in text
    long = mg.exp(mg.tensor([1.0], requires_grad=True, name="n" * 100))
    (node,) = [n for n in Parsed(to_dot(long)).nodes.values() if n["text"].startswith("n")]
    assert node["text"].split("\n")[0] == "n" * 59 + "\u2026"  # cut in labels, whole in the tooltip
    assert node["attrs"]["tooltip"].startswith("n" * 100 + ": ")


def test_hostile_names_render_as_written():
    need_dot()
    out = ET.fromstring(svg(to_dot(hostile_graph(), show_data=True)))
    texts = {t.text for t in out.iter("{http://www.w3.org/2000/svg}text")}
    first, second = HOSTILE.replace("\x07", "\\x07").split("\n")
    assert {first, second, 'we<ir>d"op&\\', "</b></font>]]>", 'sc"o<p>e&\\G'} <= texts


def test_escaping_functions():
    assert viz.quote('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    assert viz.html('<a href="x">&</a>\n') == "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;<br/>"
    assert viz.html("\x00\ud800") == "\\\\x00\ufffd"
    assert viz.html("a\\N") == "a\\\\N"  # else Graphviz would put the node's name there
    assert viz.tooltip('a\\N"') == '"a\u29f5N\\""'


# -- values ---


def test_value_summaries():
    assert viz.summary(np.array(2.5)) == "2.5"
    assert viz.summary(np.array([1.0, 2.0, 3.0])) == "[1, 2, 3]"
    assert viz.summary(np.array([[1.0, 2.0], [3.0, 4.0]])) == "[[1, 2], [3, 4]]"
    assert viz.summary(np.arange(100.0)) == "min 0 \u00b7 mean 49.5 \u00b7 max 99"
    assert viz.summary(np.array([1.0, np.nan, np.inf, 2.0, 3.0, 4.0, 5.0])) == (
        "min 1 \u00b7 mean 3 \u00b7 max 5 \u00b7 1 nan \u00b7 1 inf"
    )
    assert viz.summary(np.full(8, np.nan)) == "all 8 nan"
    assert viz.summary(np.zeros((0, 3))) == "empty (0, 3)"
    assert viz.summary(np.arange(10)) == "min 0 \u00b7 mean 4.5 \u00b7 max 9"


def test_show_data_and_show_grad():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True, name="x")
    big = mg.tensor(np.arange(100.0), name="big")
    s = mg.tensor(0.5, requires_grad=True, name="s")
    y = (x * x).sum() + (big * s).sum()
    before = Parsed(to_dot(y, show_grad=True))
    assert before.named("x")[0]["text"].endswith("grad none")
    assert "no gradients yet" in before.legend
    y.backward()
    p = Parsed(to_dot(y, show_data=True, show_grad=True))
    (xn,) = p.named("x")
    assert xn["text"] == "x\n(3,) float64\ndata [1, 2, 3]\ngrad [2, 4, 6]"  # d/dx sum(x^2) = 2x
    (bn,) = p.named("big")
    assert bn["text"] == "big\n(100,) float64\ndata min 0 \u00b7 mean 49.5 \u00b7 max 99\ngrad none"
    (sn,) = p.named("s")
    assert sn["text"] == "s\nscalar float64\ndata 0.5\ngrad 4950"  # d/ds sum(big * s) = sum(big)
    # intermediates are drawn, with their values: x * x, its sum, big * s, its sum
    datas = sorted(n["text"].split("\n")[1] for n in p.nodes.values() if p.kind(n) == "intermediate")
    assert datas == ["data 14", "data 2475", "data [1, 4, 9]", "data min 0 \u00b7 mean 24.75 \u00b7 max 49.5"]
    (out,) = [n for n in p.nodes.values() if p.kind(n) == "output"]
    assert out["text"] == "scalar float64\ndata 2489\ngrad none"  # 1 + 4 + 9 + 0.5 * 4950


# -- gradients ---


def test_the_graph_of_a_create_graph_gradient():
    x = Parameter([0.5, -1.0], name="x")
    w = Parameter([2.0, 3.0], name="w")
    with mg.scope("gate"):
        y = mg.sigmoid(x * w)
    (gx,) = mg.grad(y.sum(), [x], create_graph=True)
    p = Parsed(to_dot(gx, show_data=True))
    paths = [path for path, _ in p.clusters]
    assert paths == [("gate",), ("gate", "backward")]
    # the backward of sigmoid(x * w): g * s * (1 - s) * w, recorded in gate/backward
    assert sorted(p.ops(("gate", "backward"))) == ["mul", "mul", "mul", "sub"]
    assert sorted(p.ops(("gate",))) == ["mul", "mul", "mul", "mul", "sigmoid", "sub"]
    s = 1 / (1 + np.exp(-np.array([1.0, -3.0])))
    hand = s * (1 - s) * np.array([2.0, 3.0])
    (out,) = [n for n in p.nodes.values() if p.kind(n) == "output"]
    assert out["text"].split("\n")[1] == "data [" + ", ".join(f"{v:.4g}" for v in hand) + "]"
    # the seed of the backward pass is a constant, not an input
    assert [n["text"] for n in p.nodes.values() if p.kind(n) == "constant"] == ["[1, 1]\n(2,) float64", "1"]


def test_show_backward_draws_gradients_flowing_back():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True, name="x")
    z = x * x
    z.retain_grad()
    y = z.sum()
    y.backward()
    p = Parsed(to_dot(y, show_backward=True))
    forward = [(s, d) for s, d, a, _ in p.edges if a.get("style") != "dashed"]
    back = [(s, d, a, lbl) for s, d, a, lbl in p.edges if a.get("style") == "dashed"]
    assert sorted((d, s) for s, d, _, _ in back) == sorted(forward)  # one reverse arrow per arrow
    labels = {p.nodes[d]["text"].split("\n")[0]: lbl for _, d, _, lbl in back}
    assert labels == {"x": "grad x [2, 4, 6]", "mul": "grad [1, 1, 1]", "sum": ""}  # y keeps no grad
    assert all(a["constraint"] == "false" for _, _, a, _ in back)
    assert "gradients flowing back" in p.legend
    d = viz.draw_backward(y)
    assert d.source == viz.to_dot(y, show_backward=True)


# -- colours ---


def test_colors_from_a_dict_and_from_a_function_on_a_heat_scale():
    a = Parameter([1.0, 1.0], name="a")
    b = Parameter([1.0, 1.0], name="b")
    y = (a * 3.0 + b).sum()
    y.backward()  # grad a = [3, 3], grad b = [1, 1]
    p = Parsed(to_dot(y, colors={a: "red", y.grad_fn: "#00ff00"}))
    assert p.named("a")[0]["attrs"]["fillcolor"] == "red"
    assert [n["attrs"]["fillcolor"] for n in p.nodes.values() if n["text"] == "sum"] == ["#00ff00"]

    def grad_norm(t):
        return None if t.grad is None else float(np.linalg.norm(t.grad.data))

    p = Parsed(to_dot(y, colors=grad_norm))
    hexes = ["#" + "".join(f"{v:02x}" for v in rgb) for rgb in HEAT]
    assert p.named("a")[0]["attrs"]["fillcolor"] == hexes[-1]  # the largest, sqrt(18)
    assert p.named("b")[0]["attrs"]["fillcolor"] == hexes[0]  # the smallest, sqrt(2)
    assert p.named("a")[0]["attrs"]["fontcolor"] == "white"
    assert "colour: grad_norm" in p.legend and "4.24" in p.legend and "1.41" in p.legend
    with pytest.raises(TypeError, match=r"to_dot: colors= gave list \[1\] for tensor 'a'"):
        viz.to_dot(y, colors={a: [1]})
    p = Parsed(to_dot(y, colors={a: float("nan")}))  # no finite number: grey, and no scale
    assert p.named("a")[0]["attrs"]["fillcolor"] == "#9e9e9e" and "colour:" not in p.legend


# -- drawing and rendering ---


def small_graph():
    W = Parameter(np.ones((3, 2)), name="W")
    with mg.scope("layer"):
        return mg.tanh(mg.tensor(np.ones((1, 3)), name="x") @ W)


def test_draw_returns_a_drawing_holding_the_dot_text():
    y = small_graph()
    d = viz.draw(y)
    assert isinstance(d, viz.Drawing)
    assert d.source == viz.to_dot(y) and d.n_nodes == 5
    _MADE.append(d.source)


def _fake_dot(tmp_path, body: str) -> None:
    fake = tmp_path / "dot"
    fake.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    fake.chmod(0o755)


@pytest.mark.skipif(os.name == "nt", reason="the stand-in `dot` is a script run through its #! line")
def test_a_layout_past_the_timeout_is_stopped_with_a_clear_error(monkeypatch, tmp_path):
    _fake_dot(tmp_path, "time.sleep(60)")
    monkeypatch.setenv("PATH", str(tmp_path))
    d = viz.draw(small_graph(), timeout=0.3)
    _MADE.append(d.source)
    with pytest.raises(viz.RenderTimeoutError) as e:
        d.render(tmp_path / "g.svg")
    assert str(e.value) == (
        "render: `dot -Tsvg` did not finish laying out 5 nodes within 0.3 s; draw less (scope=..., "
        "collapse=[...], rolled=True) or pass a longer timeout="
    )
    assert isinstance(e.value, TimeoutError) and isinstance(e.value, mg.MinigradError)
    assert not (tmp_path / "g.svg").exists()
    bundle = d._repr_mimebundle_()
    assert bundle["text/plain"].startswith("render: `dot -Tsvg` did not finish")


@pytest.mark.skipif(os.name == "nt", reason="the stand-in `dot` is a script run through its #! line")
def test_a_failing_layout_reports_what_dot_said(monkeypatch, tmp_path):
    _fake_dot(tmp_path, "sys.stderr.write('Error: syntax error in line 1\\n'); sys.exit(1)")
    monkeypatch.setenv("PATH", str(tmp_path))
    said = r"`dot -Tsvg` failed \(exit 1\): Error: syntax error in line 1"
    with pytest.raises(viz.GraphvizError, match=said):
        viz.draw(small_graph()).pipe()


def test_bad_arguments():
    y = small_graph()
    with pytest.raises(TypeError, match="draw: root 1 is a list, not a Tensor"):
        viz.draw(y, [y])
    with pytest.raises(TypeError, match="to_dot: give at least one Tensor"):
        viz.to_dot()
    with pytest.raises(ValueError, match="rankdir must be one of"):
        viz.to_dot(y, rankdir="up")
    with pytest.raises(ValueError, match="intermediates must be 'auto', 'all' or 'none'"):
        viz.to_dot(y, intermediates="some")
    assert to_dot([y]) == viz.to_dot(y)
