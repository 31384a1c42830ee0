"""The paper-experiment script's plumbing (tiny models, a few steps) and early stopping in `train`.

The real runs take half an hour; experiments/results.md holds what they measured.
"""

import importlib.util
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from lstm.train import TrainConfig, train

SCRIPT = Path(__file__).resolve().parent.parent / "experiments" / "paper_tasks.py"


@pytest.fixture(scope="module")
def paper_tasks():
    spec = importlib.util.spec_from_file_location("paper_tasks", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["paper_tasks"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules["paper_tasks"]


def test_quick_run_writes_metrics_loss_curves_and_the_table(paper_tasks, tmp_path, capsys):
    assert paper_tasks.main(["--quick", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "results.md").read_text()
    assert "not results" in text  # a quick run says so
    for name, exp in paper_tasks.EXPERIMENTS.items():
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())
        steps = exp.quick["steps"]
        assert metrics["steps"] == steps
        assert metrics["sequences_seen"] == steps * exp.quick["batch"]
        assert metrics["wall_seconds"] > 0
        assert len(metrics["history"]) == steps
        assert (tmp_path / name / "loss.png").stat().st_size > 0
        # the row: our figure, the paper's and the training sequences, side by side
        row = next(line for line in text.splitlines() if line.startswith(f"| {name} |"))
        assert exp.paper in row and exp.paper_sequences in row
        assert f"| {steps * exp.quick['batch']} ({steps} steps) |" in row
    # reber runs several seeds (two with --quick) and counts how many reach the target
    assert json.loads((tmp_path / "reber" / "seed1" / "metrics.json").read_text())["seed"] == 1
    assert "0 of 2 seeded trials reach the target" in text
    out = capsys.readouterr().out
    assert out.count("\n| ") == len(paper_tasks.EXPERIMENTS) + 1  # header + one row per task

    # --from-runs trains nothing and rebuilds the same table from the runs' metrics
    again = tmp_path / "again.md"
    assert paper_tasks.main(["--quick", "--out", str(tmp_path), "--from-runs", "--results", str(again)]) == 0
    assert again.read_text() == text
    with pytest.raises(ValueError, match="no earlier run: .*metrics.json does not exist"):
        paper_tasks.main(["--quick", "--out", str(tmp_path / "empty"), "--from-runs"])
    path = tmp_path / "chars" / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["config"]["hidden"] += 1
    path.write_text(json.dumps(metrics))
    with pytest.raises(ValueError, match="metrics.json was made with another configuration: hidden differ"):
        paper_tasks.main(["--quick", "--out", str(tmp_path), "--tasks", "chars", "--from-runs"])


def test_every_task_has_a_bounded_seeded_configuration(paper_tasks):
    for name, exp in paper_tasks.EXPERIMENTS.items():
        assert exp.config.task == name
        assert 0 < exp.config.steps <= 10_000
        assert exp.config.eval_every > 0
        assert isinstance(exp.config.seed, int)


def test_the_validation_set_is_not_the_test_set(paper_tasks):
    for name in ("adding", "temporal_order", "reber"):
        exp = paper_tasks.EXPERIMENTS[name]
        config = paper_tasks.replace(exp.config, **exp.quick)
        val = paper_tasks.validation_task(config)
        test = paper_tasks.build_task(config)
        a, b = val.test_batches()[0], test.test_batches()[0]
        assert a.x.shape != b.x.shape or not (a.x == b.x).all(), name
    reber = paper_tasks.validation_task(paper_tasks.EXPERIMENTS["reber"].config)
    fresh = reber.test_strings[:256]
    assert reber.test_strings[256:] == reber.train_strings
    assert not set(fresh) & set(reber.train_strings)
    assert not set(fresh) & set(paper_tasks.build_task(paper_tasks.EXPERIMENTS["reber"].config).test_strings)


def test_on_eval_returning_true_stops_training_at_that_step(tmp_path):
    config = TrainConfig(task="reber", hidden=4, batch=2, steps=20, eval_every=3, seed=0)
    seen = []

    def on_eval(result, metrics):
        seen.append(metrics["step"])
        return metrics["step"] == 6

    result = train(config, out_dir=tmp_path, progress=False, on_eval=on_eval)
    assert seen == [3, 6]  # no evaluation after the stop: the step-6 one is the last
    assert [h["step"] for h in result.history] == list(range(1, 7))
    assert result.metrics()["steps"] == 6
    assert result.metrics()["sequences_seen"] == 12
    assert json.loads((tmp_path / "metrics.json").read_text())["steps"] == 6

    # the checkpoint is that of step 6: resuming continues to the configured 20 steps
    resumed = train(config, out_dir=tmp_path, resume=True, progress=False)
    assert [h["step"] for h in resumed.history] == list(range(1, 21))
    again = train(config, progress=False)
    for (name, p), (_, q) in zip(resumed.model.named_parameters(), again.model.named_parameters()):
        assert (p.data == q.data).all(), name


# -- a run whose figures are not numbers never reaches its target ---
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


def test_protocol_1997_quick_run_writes_its_section_beside_the_papers_rows(paper_tasks, tmp_path, capsys):
    results = tmp_path / "results.md"
    results.write_text("<!-- modern: begin -->\nmodern table\n<!-- modern: end -->\n")
    argv = ["--protocol", "1997", "--quick", "--trials", "1", "--tasks", "adding", "reber",
            "--out", str(tmp_path), "--results", str(results)]
    assert paper_tasks.main(argv) == 0
    text = results.read_text()
    assert text.startswith("<!-- modern: begin -->\nmodern table\n<!-- modern: end -->\n")  # kept
    assert "not results" in text
    assert "| paper, Table 7 | 10 | - | 74,000 (mean of 10 trials) | 1 of 2560 |" in text
    assert "| ours, 1997 protocol (at most 50 sequences) | 1 | 0 of 1 |" in text
    assert "### reber (3 blocks of 2 cells" in text and "### temporal_order" not in text
    trial = json.loads((tmp_path / "adding.json").read_text())["trials"][0]
    assert trial["sequences"] == 50 and not trial["stopped"]
    # --from-runs rebuilds the same section, once
    assert paper_tasks.main([*argv, "--from-runs"]) == 0
    assert results.read_text() == text


def test_a_non_finite_output_is_never_right():
    from lstm.paper1997 import right

    legal = np.array([[True, False, False], [False, True, True]])
    y = np.array([[np.nan, 0.0, 0.0], [0.1, 0.9, np.nan]])
    assert not right(y, legal).any()
    assert right(np.array([[0.9, 0.1, 0.2], [0.1, 0.8, 0.7]]), legal).all()


def test_reber_updated_per_string_has_its_own_runs_file_and_table_row(paper_tasks, tmp_path):
    sys.path.insert(0, str(Path(paper_tasks.__file__).parent))
    import protocol1997

    protocol1997.run_1997(["reber"], 1, out=tmp_path, log=lambda s: None, limit=3)
    protocol1997.run_1997(["reber"], 1, out=tmp_path, log=lambda s: None, limit=3, update="string")
    assert json.loads((tmp_path / "reber.json").read_text())["update"] == "symbol"
    per_string = json.loads((tmp_path / "reber_per_string.json").read_text())
    assert per_string["update"] == "string" and per_string["trials"][0]["sequences"] == 3
    text = paper_tasks.tables_1997(tmp_path)
    assert "| ours, 1997 protocol, the weights changed after every symbol (at most 3 sequences) |" in text
    assert ("| ours, 1997 protocol, the weights changed once per string, not after every symbol "
            "(at most 3 sequences) | 1 | 0 of 1 | - |") in text


def test_more_trials_the_table_1_rows_and_the_full_gradient_have_their_files_and_rows(paper_tasks, tmp_path):
    sys.path.insert(0, str(Path(paper_tasks.__file__).parent))
    import protocol1997

    def run(tasks, trials, **kw):
        protocol1997.run_1997(tasks, trials, out=tmp_path, log=lambda s: None, limit=2, **kw)

    run(["adding"], 1)
    run(["adding"], 2, first_seed=5)
    run(["reber"], 1)
    run(["reber"], 2, network="4x1", lr=0.1)
    run(["reber"], 1, network="4x1", lr=0.1, first_seed=10)
    run(["reber"], 1, update="string", full_gradient=True)
    more = json.loads((tmp_path / "adding_from_seed5.json").read_text())
    assert [t["seed"] for t in more["trials"]] == [5, 6]
    row = json.loads((tmp_path / "reber_4x1_lr0.1.json").read_text())
    assert (row["network"], row["lr"], len(row["trials"])) == ("4x1", 0.1, 2)
    assert json.loads((tmp_path / "reber_per_string_full_gradient.json").read_text())["full_gradient"]
    text = paper_tasks.tables_1997(tmp_path)
    assert "| ours, 1997 protocol, more trials (at most 2 sequences) | 2 | 0 of 2 | - | seed 5: " in text
    assert "| 4 blocks of 1, 264 weights, lr 0.1 | 100 % of 30, 39,740 | 0 of 3 | - | 2 |" in text
    assert "- 4 blocks of 1, 264 weights, lr 0.1, seeds 10-10: commit " in text
    assert "| 3 blocks of 2, 276 weights, lr 0.5 | 100 % of 30, 8,440 | 0 of 1 | - | 2 |" in text
    assert "| ours, once per string with the exact gradient (BPTT), not the truncated one (at most 2" in text
