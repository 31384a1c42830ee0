"""mg.viz rendering: which renderer lays a drawing out, what a notebook shows, which files are written.

Sizes are read from the RENDERED svg (its width, and the scale Graphviz applied), never from DOT text.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad import viz
from minigrad.nn import Parameter
from minigrad.viz import render

ROOT = Path(__file__).resolve().parent.parent
DOT = shutil.which("dot")
PURE = render._pure_program()


def need(program) -> None:
    if program is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs both `dot` (setup.sh) and graphviz-pure (pyproject.toml)")
        pytest.skip("a Graphviz program is not installed")


def small_graph():
    W = Parameter(np.ones((3, 2)), name="W")
    with mg.scope("layer"):
        return mg.tanh(mg.tensor(np.ones((1, 3)), name="x") @ W)


def counts(svg: str) -> tuple[int, int]:
    return svg.count('class="node"'), svg.count('class="edge"')


def no_renderer(monkeypatch, tmp_path) -> None:
    """Hide `dot` and graphviz-pure: an empty PATH, an empty scripts folder."""
    monkeypatch.setenv("PATH", str(tmp_path))
    real = sysconfig.get_path
    monkeypatch.setattr(
        sysconfig,
        "get_path",
        lambda name, *a, **k: str(tmp_path) if name == "scripts" else real(name, *a, **k),
    )


# -- the renderer chain ---


def test_with_dot_hidden_from_the_path_graphviz_pure_still_gives_an_svg(monkeypatch, tmp_path):
    need(PURE)
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot, no graphviz-pure: found in the scripts folder
    assert shutil.which("dot") is None and shutil.which("graphviz-pure") is None
    d = viz.draw(small_graph())
    svg = d.pipe("svg", encoding="utf-8")
    assert "<svg" in svg and "graphviz-pure" in svg and counts(svg) == (5, 4)
    bundle = d._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"])[:4] == b"\x89PNG"


def test_without_any_renderer_a_notebook_shows_the_dot_text_and_a_hint(monkeypatch, tmp_path):
    no_renderer(monkeypatch, tmp_path)
    d = viz.draw(small_graph())
    with pytest.raises(viz.GraphvizNotFoundError) as e:
        d.render(tmp_path / "g.svg")
    msg = str(e.value)
    assert msg.startswith("render: no Graphviz to lay out drawings (dot and graphviz-pure are missing): ")
    assert "'pip install graphviz-pure'" in msg and "mg.viz.to_dot() gives the DOT text" in msg
    assert isinstance(e.value, mg.MinigradError) and isinstance(e.value, RuntimeError)
    assert not (tmp_path / "g.svg").exists()
    bundle = d._repr_mimebundle_()
    hint, rest = bundle["text/plain"].split("\n", 1)
    assert list(bundle) == ["text/plain"] and hint == msg and rest == d.source


@pytest.mark.parametrize(
    "platform, says, never",
    [("linux", "sudo apt-get install graphviz", "winget"), ("win32", "winget install graphviz", "apt-get"),
     ("darwin", "brew install graphviz", "apt-get")],
)  # fmt: skip
def test_the_hint_fits_the_platform(monkeypatch, tmp_path, platform, says, never):
    no_renderer(monkeypatch, tmp_path)
    monkeypatch.setattr(sys, "platform", platform)
    with pytest.raises(viz.GraphvizNotFoundError) as e:
        viz.draw(small_graph()).pipe()
    assert says in str(e.value) and never not in str(e.value)


def test_in_the_browser_the_webassembly_renderer_is_used(monkeypatch, tmp_path):
    no_renderer(monkeypatch, tmp_path)
    monkeypatch.setattr(sys, "platform", "emscripten")
    seen = []

    class Browser:  # stands in for minigrad.viz.browser, which only loads under Pyodide
        @staticmethod
        def render_svg(source: str) -> str:
            seen.append(source)
            return '<svg width="75pt" height="30pt"><g id="graph0" class="graph"></g></svg>'

    monkeypatch.setitem(sys.modules, "minigrad.viz.browser", Browser)
    monkeypatch.setattr(viz, "browser", Browser, raising=False)
    d = viz.draw(small_graph())
    bundle = d._repr_mimebundle_()
    assert seen == [d.source] and bundle["image/svg+xml"].startswith("<svg") and "image/png" not in bundle


def test_pdf_needs_the_real_dot(monkeypatch, tmp_path):
    need(PURE)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        viz.GraphvizNotFoundError, match=r"^render: pdf output needs the Graphviz program `dot`"
    ):
        viz.draw(small_graph()).render(tmp_path / "g.pdf")
    assert not (tmp_path / "g.pdf").exists()


# -- what a notebook stores ---


def test_a_notebook_gets_svg_and_png():
    need(DOT or PURE)
    bundle = viz.draw(small_graph())._repr_mimebundle_()
    assert sorted(bundle) == ["image/png", "image/svg+xml", "text/plain"]
    assert "<svg" in bundle["image/svg+xml"] and base64.b64decode(bundle["image/png"])[:4] == b"\x89PNG"
    assert bundle["text/plain"].startswith("<minigrad drawing of 5 nodes")


# -- files: exactly the path named, never anything else ---


def test_render_writes_exactly_the_path_named(tmp_path):
    need(DOT or PURE)
    d = viz.draw(small_graph())
    assert d.render(tmp_path / "g.svg") == str(tmp_path / "g.svg")
    assert d.render(tmp_path / "pic", format="png") == str(tmp_path / "pic.png")  # no extension: added
    assert d.render(tmp_path / "g.dot") == str(tmp_path / "g.dot")
    assert sorted(os.listdir(tmp_path)) == ["g.dot", "g.svg", "pic.png"]  # no .gv, no temporary file
    assert "<svg" in (tmp_path / "g.svg").read_text() and (tmp_path / "g.dot").read_text() == d.source
    assert (tmp_path / "pic.png").read_bytes()[:4] == b"\x89PNG"
    d.render(tmp_path / "g.svg")  # a drawing may be replaced by a drawing
    assert d.render(tmp_path / "notes.txt", format="svg") == str(tmp_path / "notes.txt")  # as named


def test_render_refuses_to_replace_a_file_that_is_not_a_drawing(tmp_path):
    d = viz.draw(small_graph())
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    with pytest.raises(mg.errors.FileError) as e:
        d.render(notes)
    assert str(e.value) == (
        f"{notes}: exists and is not a drawing (svg, png, pdf or DOT text); refusing to replace it: name "
        "another file, or pass force=True (--force on the command line)"
    )
    assert notes.read_text() == "my notes" and os.listdir(tmp_path) == ["notes.txt"]
    with pytest.raises(viz.DrawingError, match=r"x.svg ends in .svg but format='png'; name a .png file"):
        d.render(tmp_path / "x.svg", format="png")
    with pytest.raises(
        viz.DrawingError, match=r"^render: unknown format 'nope'; one of svg, png, pdf, dot, gv$"
    ):
        d.render(tmp_path / "x", format="nope")
    assert os.listdir(tmp_path) == ["notes.txt"]  # checked before anything is written
    need(DOT or PURE)
    d.render(notes, format="svg", force=True)
    assert "<svg" in notes.read_text()


# -- sizes, from the rendered picture ---


def wide_graph(n: int = 40):
    """A chain of n ops in one row: far wider than a page."""
    x = mg.tensor([1.0], requires_grad=True, name="x")
    y = x
    for k in range(n):
        with mg.scope(f"s{k}"):
            y = mg.tanh(y)
    return y


def test_a_picture_too_wide_for_the_page_is_drawn_at_the_smallest_legible_scale_and_says_so():
    need(DOT or PURE)
    d = viz.draw(wide_graph(), legend=False)
    svg = d.pipe("svg", encoding="utf-8")
    width, _, scale = viz.svg_size(svg)
    assert scale == pytest.approx(render.MIN_SCALE, abs=0.01) and width > 1000
    assert width == pytest.approx(d.natural_width * render.MIN_SCALE, rel=0.02)
    assert d.too_wide and "wider than the page: draw part of it with scope='...'" in repr(d)
    assert "rolled=True" in repr(d) and "collapse=[...]" in repr(d)
    small = viz.draw(small_graph())
    assert not small.too_wide and "wider" not in repr(small)


def test_svg_size_reads_points_and_the_scale():
    svg = (
        '<svg width="750pt" height="300pt" viewBox="0 0 750 300">\n'
        '<g id="graph0" class="graph" transform="scale(0.62 0.62) rotate(0)">'
    )
    assert viz.svg_size(svg) == (1000.0, 400.0, 0.62)
    with pytest.raises(viz.DrawingError, match="no <svg width"):
        viz.svg_size("<html/>")


@pytest.mark.skipif(os.name == "nt", reason="runs a Python subprocess with a blocked import")
def test_import_minigrad_and_to_dot_need_numpy_alone():
    code = (
        "import sys\n"
        "for name in ('graphviz', 'matplotlib', 'IPython'):\n"
        "    sys.modules[name] = None  # importing it raises ImportError\n"
        "import minigrad as mg\n"
        "x = mg.tensor([1.0], requires_grad=True, name='x')\n"
        "print(mg.viz.to_dot(mg.exp(x)).count('->'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2"


def test_every_viz_error_is_a_minigrad_error():
    y = small_graph()
    cases = [
        (
            lambda: viz.to_dot(y, max_nodes="10"),
            "to_dot: max_nodes must be a positive integer or None, got '10'",
        ),
        (lambda: viz.to_dot(y, max_nodes=0), "to_dot: max_nodes must be a positive integer or None, got 0"),
        (
            lambda: viz.draw(y, scop="layer"),
            "draw: unknown option 'scop'; the options are scope, show_data, ",
        ),
        (lambda: viz.to_dot(y, scope="nothing"), "to_dot: scope='nothing' matches no scope of the graph"),
        (lambda: viz.to_dot(y, step="t"), "to_dot: step='t' needs a group for the step's number"),
        (lambda: viz.to_dot(y, rankdir="up"), "to_dot: rankdir must be one of"),
        (lambda: viz.to_dot(y, names=3), "names= must be a dict"),
        (lambda: viz.to_dot(), "to_dot: give at least one Tensor"),
        (lambda: viz.to_dot(y, max_nodes=2), "to_dot: the picture would have 5 nodes, more than max_nodes=2"),
    ]
    for call, message in cases:
        with pytest.raises(mg.MinigradError) as e:
            call()
        assert str(e.value).startswith(message), str(e.value)
        assert isinstance(e.value, (ValueError, TypeError))


def test_huge_names_are_cut_in_labels_and_tooltips_but_stay_on_the_tensor():
    name = "w" * 5000
    x = mg.tensor([1.0], requires_grad=True, name=name)
    text = viz.to_dot(mg.exp(x))
    assert x.name == name and len(text) < 3000
    assert "w" * 59 + "\u2026" in text and "w" * 61 not in text.split("tooltip=")[0]
    tips = re.findall(r'tooltip="([^"]*)"', text)
    assert max(len(t) for t in tips) == 300 and any(t.endswith("\u2026") for t in tips)


# -- graphviz-pure lays out the course's drawings like dot ---


def gallery():
    """docs/gallery.py, the generator of the gallery: its figures are the course's drawings."""
    spec = importlib.util.spec_from_file_location("gallery", ROOT / "docs" / "gallery.py")
    module = sys.modules["gallery"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def course_drawings():
    """The drawings of the README and the notebooks, with the calls they use."""
    return gallery().figures()


def test_the_gallery_is_fresh():
    g = gallery()
    page = (ROOT / "docs" / "gallery.md").read_text()
    stored = dict(re.findall(r"<!-- (\w+) dot (\w+) -->", page))
    figs = g.gallery_figures()
    assert sorted(stored) == sorted(f.name for f in figs), "run: python docs/gallery.py"
    for fig in figs:
        assert stored[fig.name] == g.Figure.digest(fig.drawing().source), (
            f"{fig.name}: run python docs/gallery.py"
        )
        assert (ROOT / "docs" / ("img" if fig.readme else "img/gallery") / f"{fig.name}.svg").is_file()
        assert fig.code in page


@pytest.mark.parametrize("name", [f.name for f in course_drawings()])
def test_every_course_drawing_fits_the_page_and_graphviz_pure_agrees_with_dot(name):
    need(DOT)
    need(PURE)
    (fig,) = [f for f in course_drawings() if f.name == name]
    d = fig.drawing()
    by_dot = d.pipe("svg", encoding="utf-8")
    width, _, scale = viz.svg_size(by_dot)
    assert width <= 1000.5 and scale >= render.MIN_SCALE - 0.005, (width, scale)
    by_pure = subprocess.run(
        [PURE, "-Tsvg"], input=d.fitted_source().encode(), capture_output=True, timeout=300, check=True
    ).stdout.decode()
    assert counts(by_pure) == counts(by_dot)
    assert viz.svg_size(by_pure)[0] <= 1000.5 and viz.svg_size(by_pure)[2] >= render.MIN_SCALE - 0.005
