"""experiments/paper_tasks.py never counts a run whose figures are not numbers as reaching its target,
and a diverging trial ends as a row that says so instead of stopping the experiment."""

import importlib.util
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from lstm.train import TrainConfig

SCRIPT = Path(__file__).resolve().parent.parent / "experiments" / "paper_tasks.py"


@pytest.fixture(scope="module")
def paper_tasks():
    spec = importlib.util.spec_from_file_location("paper_tasks", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["paper_tasks"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules["paper_tasks"]


def test_a_run_with_a_nan_figure_does_not_reach_the_target(paper_tasks, tmp_path):
    # What a diverged adding run used to report: every output NaN, "0 wrong" because NaN >= tol is False.
    exp = paper_tasks.EXPERIMENTS["temporal_order"]
    config = replace(exp.config, **exp.quick)
    metrics = {
        "task": "temporal_order", "steps": 3, "sequences_seen": 12, "seed": 0, "wall_seconds": 1.0,
        "load_average": [0, 0], "stopped_early": False,
        "evals": [{"step": 3, "loss": float("nan"), "wrong": 0, "error_rate": 0.0, "accuracy": 1.0}],
    }
    for seed, folder in ((0, tmp_path / "temporal_order"), (1, tmp_path / "temporal_order" / "seed1")):
        folder.mkdir(parents=True)
        built = paper_tasks.build_config(replace(config, seed=seed))
        trial = metrics | {"seed": seed, "config": asdict(built)}
        (folder / "metrics.json").write_text(json.dumps(trial))
    row = paper_tasks.run("temporal_order", tmp_path, quick=True, from_runs=True)
    assert row["reached"] == "seed 0: NO; 0 of 2 trials"
    assert row["ours"].startswith("seed 0: diverged (a loss or a figure is not a number). 0 of 2 seeded")


def test_a_diverging_trial_is_recorded_and_does_not_stop_the_experiment(paper_tasks, tmp_path):
    config = TrainConfig(task="adding", seq_len=22, hidden=4, batch=4, steps=5, eval_every=2, lr=1e200,
                         optimizer="sgd", clip=1e300)
    lines = []
    with np.errstate(all="ignore"):
        metrics = paper_tasks.train_once("adding", config, tmp_path, log=lines.append)
    assert metrics["diverged"].startswith("training stopped at step 2: the loss is inf")
    assert any("training stopped at step 2" in line for line in lines)
    assert not paper_tasks._reached(paper_tasks.EXPERIMENTS["adding"], metrics)
    saved = json.loads((tmp_path / "metrics.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    assert saved["steps"] == 1 and saved["diverged"] == metrics["diverged"]
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
