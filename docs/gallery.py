"""The gallery of drawings: every kind of picture `mg.viz` makes, from the calls the course uses.

    python docs/gallery.py    # rewrites docs/gallery.md, docs/img/gallery/*.svg, the README's docs/img/*.svg

Each figure is a few lines of code, shown in the gallery as they run; the last line is the drawing. The
gallery records a hash of each figure's DOT text, and tests/test_viz_render.py checks that the code still
gives the same text, so the pictures cannot drift from the code.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Run before every figure (not shown in each): a 5-step LSTM layer on a batch of 2, as in the README.
SETUP = """\
import numpy as np
import minigrad as mg
import lstm
from lstm import compare, reference

layer = lstm.LSTM(input_size=3, hidden_size=4, rng=0)
x = np.random.default_rng(0).standard_normal((2, 5, 3))   # (batch, time, features)
h_T = layer(x)
"""


@dataclass(frozen=True)
class Figure:
    name: str  # file name of the picture, without .svg
    title: str
    text: str  # what the picture shows, one or two sentences
    code: str  # run after SETUP; its last line is the drawing
    readme: bool = False  # also the README's docs/img/<name>.svg

    def drawing(self):
        """Run the figure's code and return its Drawing."""
        sys.path.insert(0, str(ROOT))
        try:
            scope: dict = {}
            exec(SETUP, scope)
            *body, last = self.code.strip().splitlines()
            exec("\n".join(body), scope)
            return eval(last, scope)
        finally:
            sys.path.remove(str(ROOT))

    @staticmethod
    def digest(source: str) -> str:
        return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


GATES = ("input_gate", "forget_gate", "cell_candidate", "output_gate", "cell_state", "hidden_state")


def figures() -> list[Figure]:
    """Every drawing of the gallery, the README and the course's notebooks, in gallery order."""
    figs = [
        Figure(
            "forget_gate",
            "One gate",
            "The forget gate of the last step, f_t = sigmoid(x_t W_f + h_{t-1} U_f + b_f): the rows of x_t "
            "are "
            "the batch entries, and W_f (I, H) is the gate's block of weight_ih, transposed. What enters "
            "is drawn next to the op that reads it; what leaves, on the right.",
            'mg.viz.draw(h_T, scope="*/t4/forget_gate")',
            readme=True,
        ),
        Figure(
            "lstm_step",
            "One step",
            "x_t, h_{t-1} and c_{t-1} enter on the left, c_t and h_t leave on the right; the gates from top "
            "to bottom in the order input, forget, cell candidate, output, each with its own weights.",
            'mg.viz.draw(h_T, scope="*/t0")',
            readme=True,
        ),
        Figure(
            "gate_across_time",
            "A gate across time",
            "The forget gate of every step, in time order, each step's inputs drawn at that step.",
            'mg.viz.draw(h_T, scope="*/forget_gate")',
        ),
        Figure(
            "lstm_rolled",
            "Rolled",
            "Five steps drawn as one: x_t, h_{t-1} and c_{t-1} enter on the left, and the red arrows carry "
            "h_t and c_t back into the next step. The cutting of weight_ih and weight_hh into per-gate "
            "blocks is folded into one box (collapse=False unfolds it).",
            "mg.viz.draw(h_T, rolled=True)",
            readme=True,
        ),
        Figure(
            "collapsed",
            "Collapsed steps",
            "Every step folded into one box, the arrows between them labelled with what they carry.",
            'mg.viz.draw(h_T, collapse=["t*"])',
        ),
        Figure(
            "values_and_gradients",
            "Values and gradients",
            "After backward(), each tensor with a summary of its values and of its gradient.",
            "a = mg.tensor([1.0, -2.0, 0.5], requires_grad=True, name='a')\n"
            "b = mg.tensor([3.0, 0.5, -1.0], requires_grad=True, name='b')\n"
            "L = (a * b).tanh().sum()\n"
            "L.backward()\n"
            "mg.viz.draw(L, show_data=True, show_grad=True)",
        ),
        Figure(
            "backward_graph",
            "A backward graph",
            "The gradient of the forget gate's pre-activation, recorded with create_graph=True: the "
            "backward ops sit in a backward scope inside the scope of the forward op they differentiate.",
            "cell = lstm.LSTMCell(3, 4, rng=0)\n"
            "rng = np.random.default_rng(1)\n"
            "state = (mg.tensor(rng.standard_normal((2, 4)), name='h_prev'), "
            "mg.tensor(rng.standard_normal((2, 4)), name='c_prev'))\n"
            "step = cell.step(mg.tensor(rng.standard_normal((2, 3)), name='x'), state)\n"
            "a_f = step.f.parents[0]\n"
            "(da_f,) = mg.grad([step.h, step.c], [a_f], grad_outputs=[mg.tensor(np.ones((2, 4)), name='dh'), "
            "mg.tensor(np.ones((2, 4)), name='dc')], create_graph=True)\n"
            "da_f.name = 'da_f'\n"
            'mg.viz.draw(da_f, collapse=["input_gate", "cell_candidate", "output_gate"])',
        ),
        Figure(
            "disagreement",
            "A disagreement",
            "lstm.compare's drawing of a hand-derived backward with one slip (c for c_prev in df): the "
            "forget gate, where the gradients disagree, in red; the parts that agree in green.",
            "def slipped(dh, dc, cache):\n"
            "    return reference.lstm_step_backward(dh, dc, cache._replace(c_prev=cache.c))\n"
            "compare.draw_disagreement(compare.compare_gradients(slipped))",
        ),
        Figure(
            "rnn_cell",
            "An RNN cell",
            "h_t = tanh(x_t W + h_{t-1} U + b), one step.",
            "cell = lstm.RNNCell(3, 4, rng=0)\n"
            "mg.viz.draw(cell(mg.tensor(x[:, 0], name='x_t'), mg.tensor(np.zeros((2, 4)), name='h_prev')))",
        ),
        Figure(
            "gru_cell",
            "A GRU cell",
            "The reset gate, the update gate and the candidate, one step.",
            "cell = lstm.GRUCell(3, 4, rng=0)\n"
            "mg.viz.draw(cell(mg.tensor(x[:, 0], name='x_t'), mg.tensor(np.zeros((2, 4)), name='h_prev')))",
        ),
    ]
    # notebook 02 draws each part of a step alone, without a legend
    figs += [Figure(f"nb02_{g}", g, "", f'mg.viz.draw(h_T, scope="*/t0/{g}", legend=False)') for g in GATES]
    return figs


def gallery_figures() -> list[Figure]:
    return [f for f in figures() if not f.name.startswith("nb02_")]


def write() -> None:
    from minigrad.files import atomic_write

    lines = [
        "# Gallery: every kind of drawing",
        "",
        "Made by `python docs/gallery.py` from the code under each picture (the conventions they follow",
        "are in [drawings.md](drawings.md)), run after this setup:",
        "",
        "```python",
        SETUP.rstrip(),
        "```",
        "",
        'In Jupyter each drawing shows inline; `.render("file.svg")` writes it to a file. Labels follow the',
        "course's notation: rows are batch entries, so a gate computes `x_t W + h_{t-1} U + b` with `W`",
        "of shape (I, H), cut from `weight_ih`. tests/test_viz_render.py checks that the code below",
        "still makes these pictures (the hash after each is that of its DOT text).",
        "",
    ]
    for fig in figures():
        d = fig.drawing()
        svg = d.pipe("svg")
        # the README's pictures are docs/img/<name>.svg, the others docs/img/gallery/<name>.svg
        where = f"img/{fig.name}.svg" if fig.readme else f"img/gallery/{fig.name}.svg"
        if not fig.name.startswith("nb02_"):
            atomic_write(ROOT / "docs" / where, svg)
            lines += [
                f"## {fig.title}",
                "",
                fig.text,
                "",
                "```python",
                fig.code,
                "```",
                "",
                f"![{fig.title}]({where})",
                f"<!-- {fig.name} dot {Figure.digest(d.source)} -->",
                "",
            ]
    atomic_write(ROOT / "docs" / "gallery.md", "\n".join(lines))


if __name__ == "__main__":
    write()
