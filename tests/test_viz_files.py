"""`lstm graph --out`: the file named is the file written, and nothing else is touched."""

from __future__ import annotations

import os
import shutil

import pytest

from lstm.cli import main
from minigrad.viz import render

HAVE_RENDERER = shutil.which("dot") is not None or render._pure_program() is not None


def graph(tmp_path, capsys, *args) -> tuple[int, str, str]:
    code = main(["graph", "--gate", "forget", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_out_on_an_existing_file_that_is_not_a_drawing_refuses(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("a week of notes")
    code, _, err = graph(tmp_path, capsys, "--out", str(notes))
    assert code == 2
    assert err == (
        f"lstm graph: error: {notes}: exists and is not a drawing (svg, png, pdf or DOT text); refusing to "
        "replace it: name another file, or pass force=True (--force on the command line)\n"
    )
    assert notes.read_text() == "a week of notes" and os.listdir(tmp_path) == ["notes.txt"]


@pytest.mark.skipif(not HAVE_RENDERER, reason="needs dot or graphviz-pure")
def test_out_writes_exactly_the_path_named(tmp_path, capsys):
    (tmp_path / "f.gv").write_text("digraph mine { a -> b }")  # a file the command was not asked to write
    for name in ("f.svg", "x.png", "plain"):
        code, out, _ = graph(tmp_path, capsys, "--out", str(tmp_path / name))
        assert code == 0, name
    assert out == f"wrote {tmp_path / 'plain.svg'}\n"  # no extension: the format's is added
    assert sorted(os.listdir(tmp_path)) == ["f.gv", "f.svg", "plain.svg", "x.png"]
    assert (tmp_path / "f.gv").read_text() == "digraph mine { a -> b }"
    assert (tmp_path / "x.png").read_bytes()[:4] == b"\x89PNG" and "<svg" in (tmp_path / "f.svg").read_text()
    code, _, _ = graph(tmp_path, capsys, "--out", str(tmp_path / "f.svg"))  # a drawing: replaced
    assert code == 0
    notes = tmp_path / "notes.txt"
    notes.write_text("old notes")
    code, _, _ = graph(tmp_path, capsys, "--out", str(notes), "--format", "svg", "--force")
    assert code == 0 and "<svg" in notes.read_text()


def test_a_format_that_contradicts_the_extension_is_refused(tmp_path, capsys):
    code, _, err = graph(tmp_path, capsys, "--format", "png", "--out", str(tmp_path / "x.svg"))
    assert code == 2
    x = tmp_path / "x.svg"
    assert err == f"lstm graph: error: render: {x} ends in .svg but format='png'; name a .png file\n"
    assert os.listdir(tmp_path) == []
