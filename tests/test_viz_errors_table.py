"""The drawing errors of docs/errors.md (rows V1, V2, ...): each example run, its message compared."""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

import errors_doc
import numpy as np
import pytest

import lstm
import minigrad as mg


def table_rows() -> dict:
    return errors_doc.table_rows("V")


def y():
    with mg.scope("layer"):
        return mg.exp(mg.tensor([1.0], requires_grad=True, name="x"))


def _no_renderer(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "platform", "linux")
    real = sysconfig.get_path
    monkeypatch.setattr(
        sysconfig,
        "get_path",
        lambda name, *a, **k: str(tmp_path) if name == "scripts" else real(name, *a, **k),
    )
    mg.viz.draw(y()).render("y.svg")


def _notes(monkeypatch, tmp_path):
    Path("notes.txt").write_text("my notes")
    mg.viz.draw(y()).render("notes.txt")


SITUATIONS = {
    "V1": lambda mp, tp: mg.viz.to_dot(y(), max_nodes="10"),
    "V2": lambda mp, tp: mg.viz.to_dot(y(), scope="forget"),
    "V3": lambda mp, tp: mg.viz.to_dot(y(), max_nodes=2),
    "V4": lambda mp, tp: mg.viz.draw(y(), scop="layer"),
    "V5": lambda mp, tp: mg.viz.to_dot(y(), rolled=True),
    "V6": _notes,
    "V7": lambda mp, tp: mg.viz.draw(y()).render("y.svg", format="png"),
    "V8": _no_renderer,
    "V9": lambda mp, tp: mg.viz.to_dot(lstm.LSTM(3, 4, keep_values=False)(np.ones((2, 3, 3))),
                                       scope="*/t2/forget_gate", show_data=True),
}


def test_every_row_has_an_example_and_every_example_a_row():
    assert sorted(table_rows()) == sorted(SITUATIONS)


@pytest.mark.parametrize("row", sorted(SITUATIONS, key=lambda r: int(r[1:])))
def test_the_drawing_errors_are_what_the_code_says(row, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    cls, message = table_rows()[row]
    with pytest.raises(mg.MinigradError) as info:
        SITUATIONS[row](monkeypatch, tmp_path)
    assert type(info.value).__name__ == cls
    assert str(info.value) == message
    assert not Path("y.svg").exists()
