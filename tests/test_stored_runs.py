"""The stored 1997 runs ship with the package and are read through `lstm.paper1997.load_run`, so notebook
06 finds them in a checkout, an installed package and the browser alike; a missing or damaged file is one
`StoredRunError` naming it."""

import json
import re

import numpy as np
import pytest

import minigrad as mg
from lstm import paper1997
from lstm.paper1997 import StoredRunError, load_run, stored_runs

STORED = ["ablation.json", "ablation.png", "adding.json", "continual_cell_states.npz", "continual_reber.json",
          "reber.json", "reber_3x2_lr0.1.json", "reber_3x2_lr0.1_from_seed10.json", "reber_3x2_lr0.2.json",
          "reber_3x2_lr0.2_from_seed10.json", "reber_4x1_lr0.1.json", "reber_4x1_lr0.1_from_seed10.json",
          "reber_4x1_lr0.5.json", "reber_4x1_lr0.5_from_seed10.json", "reber_legal_targets.json",
          "reber_per_string.json", "reber_per_string_full_gradient.json", "temporal_order.json",
          "temporal_order_3.json", "temporal_order_3_from_seed2.json"]


def raises(text: str):
    return pytest.raises(StoredRunError, match="^" + re.escape(text) + "$")


def test_the_stored_runs_are_listed_and_read_from_the_package():
    assert stored_runs() == STORED
    assert paper1997.RUNS_DIR.parent.name == "lstm"
    continual = load_run("continual_reber.json")
    assert continual == json.loads((paper1997.RUNS_DIR / "continual_reber.json").read_text())
    assert {"test_cap", "trials"} <= set(continual)
    states = load_run("continual_cell_states.npz")
    assert isinstance(states, dict) and states["ids"].ndim == 1 and states["forget_s"].ndim == 2
    assert load_run("ablation.png").startswith(b"\x89PNG\r\n\x1a\n")


def test_a_missing_run_is_named_with_the_nearest_one_there_is():
    with raises("load_run: no stored run lstm/runs1997/reber1997.json (did you mean reber.json?); "
                "stored_runs() lists them") as info:
        load_run("reber1997.json")
    assert isinstance(info.value, mg.MinigradError) and isinstance(info.value, OSError)
    with raises("load_run: no stored run lstm/runs1997/weights.npz; stored_runs() lists them"):
        load_run("weights.npz")


@pytest.mark.parametrize("name", ["../paper1997.py", "/etc/passwd", "runs1997/adding.json", ""])
def test_only_the_stored_files_are_read_never_a_path(name):
    with pytest.raises(StoredRunError, match=f"^load_run: no stored run lstm/runs1997/{re.escape(name)}[ ;]"):
        load_run(name)


def test_damaged_runs_are_named(tmp_path, monkeypatch):
    monkeypatch.setattr(paper1997, "RUNS_DIR", tmp_path)
    (tmp_path / "adding.json").write_text('{"trials": [')
    np.savez(tmp_path / "states.npz", s=np.zeros(3))
    (tmp_path / "cut.npz").write_bytes((tmp_path / "states.npz").read_bytes()[:40])
    (tmp_path / "notes.txt").write_text("not a run")
    assert stored_runs() == ["adding.json", "cut.npz", "states.npz"]
    with raises("load_run: lstm/runs1997/adding.json cannot be read "
                "(Expecting value: line 1 column 13 (char 12))"):
        load_run("adding.json")
    with pytest.raises(StoredRunError, match=r"^load_run: lstm/runs1997/cut\.npz cannot be read \(.+\)$"):
        load_run("cut.npz")
    assert load_run("states.npz")["s"].tolist() == [0.0, 0.0, 0.0]


def test_a_missing_folder_holds_no_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(paper1997, "RUNS_DIR", tmp_path / "gone")
    assert stored_runs() == []
    with raises("load_run: no stored run lstm/runs1997/adding.json; stored_runs() lists them"):
        load_run("adding.json")
