"""Everything a run needs is checked before its first step, and what a run reached is never lost: one
line and exit status 2 for every mistake, naming the option or the file."""

import json
import os

import numpy as np
import pytest

import minigrad as mg
from lstm import train as train_mod
from lstm.checkpoint import load_checkpoint
from lstm.cli import main
from lstm.train import TrainConfig, TrainingError, train
from minigrad.files import FolderLock

TINY = ["--hidden", "8", "--batch", "4", "--seq-len", "16", "--eval-every", "5", "--no-progress"]


def _error(argv, capsys) -> str:
    """The one line a failing command prints (its exit status must be 2, and no traceback)."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err.strip()


def test_a_text_without_a_newline_trains_and_samples(tmp_path, capsys):
    text = tmp_path / "nonl.txt"
    text.write_text("hello world " * 40)
    assert main(["train", "--text", str(text), "--steps", "6", "--out", str(tmp_path / "r"), "--no-pictures",
                 *TINY]) == 0
    out = capsys.readouterr().out
    assert "sample at step 5:" in out
    assert main(["sample", "--checkpoint", str(tmp_path / "r" / "checkpoint.npz"), "--length", "10"]) == 0
    assert set(capsys.readouterr().out) <= set("helo wrd\n")


@pytest.mark.parametrize(("options", "message"), [
    (["--temperature", "nan"], "--temperature must be a finite number >= 0, got nan"),
    (["--temperature", "-1"], "--temperature must be a finite number >= 0, got -1.0"),
    (["--lr", "inf"], "lr must be a positive finite number, got inf"),
    (["--lr", "1e309"], "lr must be a positive finite number, got inf"),
    (["--forget-bias", "nan"], "forget-bias must be a finite number, got nan"),
    (["--hidden", "1000000000"], "hidden 1000000000 x 1 layer(s), batch 4 and sequences of up to 16 steps "
                                 "would need about "),
    (["--batch", "100000000"], "hidden 8 x 1 layer(s), batch 100000000 and sequences of up to 16 steps "
                               "would need about "),
])  # fmt: skip
def test_bad_options_are_refused_before_anything_runs_or_is_written(tmp_path, capsys, options, message):
    out = tmp_path / "run"
    err = _error(["train", "--steps", "5", "--out", str(out), *TINY, *options], capsys)
    assert err.startswith(f"lstm train: error: {message}")
    assert not out.exists() or not any(out.iterdir())


def test_the_memory_estimate_is_in_the_message_with_what_is_available(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(train_mod, "available_memory", lambda: 2**30)
    err = _error(["train", "--hidden", "4000", "--batch", "64", "--seq-len", "16", "--steps", "1",
                  "--out", str(tmp_path / "r"), "--no-progress"], capsys)
    assert err.endswith("GiB of memory, and 1 GiB is available; choose a smaller --hidden, --batch, "
                        "--seq-len or --layers")


def test_an_output_that_cannot_be_written_is_refused_before_training(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "cdir"
    folder.mkdir()
    err = _error(["train", "--steps", "5", "--checkpoint", str(folder), "--out", str(tmp_path / "r"), *TINY],
                 capsys)
    assert err == f"lstm train: error: {folder}: is a folder, not a file"
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    err = _error(["train", "--steps", "5", "--out", str(a_file / "run"), *TINY], capsys)
    assert err == f"lstm train: error: {a_file}/run/checkpoint.npz: cannot be written ({a_file} is not a " \
                  "folder)"
    # a read-only file system (or a folder without write permission) looks the same to os.access
    readonly = tmp_path / "ro"
    readonly.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: str(p) != str(readonly) and real_access(p, mode))
    err = _error(["train", "--steps", "5", "--out", str(tmp_path / "r"), "--metrics-out",
                  str(readonly / "m.json"), *TINY], capsys)
    assert err == (f"lstm train: error: {readonly}/m.json: cannot be written (no permission to write in "
                   f"{readonly}, or it is on a read-only file system)")
    assert not (tmp_path / "r" / "checkpoint.npz").exists() and a_file.read_text() == "keep me"


def test_a_planted_symbolic_link_is_refused_and_its_target_kept(tmp_path, capsys):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    out = tmp_path / "run"
    (out / "gates").mkdir(parents=True)
    for name in ("loss.png", "gates/forget.svg"):
        (out / name).symlink_to(victim)
        err = _error(["train", "--steps", "2", "--out", str(out), *TINY], capsys)
        assert err == (f"lstm train: error: {out / name}: is a symbolic link; refusing to replace it (name "
                       "the file it points to)")
        (out / name).unlink()
    assert victim.read_text() == "precious"


def test_a_second_run_in_the_same_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    with FolderLock(out):
        err = _error(["train", "--steps", "2", "--out", str(out), *TINY], capsys)
    assert err == (f"lstm train: error: {out}: another run is writing into this folder; wait for it to "
                   "finish or choose another folder")
    assert main(["train", "--steps", "2", "--out", str(out), "--no-pictures", *TINY]) == 0  # released


def test_a_failure_after_training_started_saves_what_was_reached_first(tmp_path):
    def on_eval(result, metrics):
        if metrics["step"] == 4:
            raise RuntimeError("the disk went away")

    config = TrainConfig(task="adding", seq_len=22, hidden=4, batch=4, steps=8, eval_every=2)
    with pytest.raises(RuntimeError, match="the disk went away"):
        train(config, out_dir=tmp_path, progress=False, on_eval=on_eval)
    assert load_checkpoint(tmp_path / "checkpoint.npz").step == 4
    assert json.loads((tmp_path / "metrics.json").read_text())["steps"] == 4


def test_a_diverging_run_stops_naming_the_step_and_the_op_after_saving(tmp_path, capsys):
    out = tmp_path / "run"
    err = _error(["train", "--task", "adding", "--seq-len", "22", "--hidden", "4", "--batch", "4",
                  "--steps", "5", "--lr", "1e200", "--optimizer", "sgd", "--clip", "1e300", "--out", str(out),
                  "--no-pictures", "--no-progress"], capsys)
    assert err.startswith("lstm train: error: training stopped at step 2: the loss is inf; the first op to "
                          "make one: mul in mse_loss: forward output contains inf;")
    assert err.endswith(f"saved the state after step 1 to {out / 'checkpoint.npz'}")
    assert load_checkpoint(out / "checkpoint.npz").step == 1
    metrics = json.loads((out / "metrics.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    assert metrics["steps"] == 1


def test_metrics_are_strict_json_with_null_for_a_non_finite_figure(tmp_path):
    result = train(TrainConfig(task="adding", seq_len=22, hidden=4, batch=4, steps=2, eval_every=0),
                   progress=False)
    result.evals[-1]["mse"] = float("nan")
    train_mod.write_metrics(result, tmp_path / "m.json")
    text = (tmp_path / "m.json").read_text()
    assert "NaN" not in text and json.loads(text)["mse"] is None


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # the sum of squares, on purpose
def test_gradients_whose_norm_overflows_are_still_clipped():
    p = mg.tensor(np.zeros(3), requires_grad=True)
    p.grad = mg.tensor(np.array([3e200, -4e200, 0.0]))
    assert train_mod._clip([p], 1.0)
    np.testing.assert_allclose(p.grad.data, [0.6, -0.8, 0.0], rtol=1e-12)
    p.grad = mg.tensor(np.array([np.nan, 1.0, 0.0]))
    assert not train_mod._clip([p], 1.0)


def test_a_non_finite_gradient_stops_training(tmp_path, monkeypatch):
    def nan_gradients(model, task, batch, bptt=None):
        for q in model.parameters():
            q.grad = mg.tensor(np.full(q.shape, np.nan))
        return 1.0

    monkeypatch.setattr(train_mod, "train_step", nan_gradients)
    with pytest.raises(TrainingError, match="^training stopped at step 1: a gradient holds NaN or inf"):
        train(TrainConfig(task="adding", seq_len=22, hidden=4, batch=4, steps=3), out_dir=tmp_path,
              progress=False)


def test_resuming_applies_a_changed_lr_and_records_it(tmp_path, capsys):
    out = tmp_path / "run"
    base = ["train", "--out", str(out), "--no-pictures", *TINY]
    assert main([*base, "--steps", "3"]) == 0
    assert main([*base, "--steps", "6", "--resume", "--lr", "0.5"]) == 0
    ckpt = load_checkpoint(out / "checkpoint.npz")
    assert ckpt.optimizer["param_groups.0.lr"] == 0.5 and ckpt.config["lr"] == 0.5
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["resumes"] == [{"step": 3, "changed": {"steps": [3, 6], "lr": [0.003, 0.5]}}]
    capsys.readouterr()
    err = _error([*base, "--steps", "8", "--resume", "--seed", "4", "--forget-bias", "2"], capsys)
    assert err == (f"lstm train: error: checkpoint {out / 'checkpoint.npz'} cannot be resumed with these "
                   "options changed, which only shaped the start of its run: seed=0 (this run: 4), "
                   "forget_bias=1.0 (this run: 2.0)")


@pytest.mark.parametrize(("temperature", "ok"),
                         [("nan", False), ("inf", False), ("1e-320", True), ("0", True)])
def test_sample_temperatures(tmp_path, capsys, temperature, ok):
    out = tmp_path / "run"
    assert main(["train", "--steps", "2", "--out", str(out), "--no-pictures", *TINY]) == 0
    capsys.readouterr()
    argv = ["sample", "--checkpoint", str(out / "checkpoint.npz"), "--length", "20",
            "--temperature", temperature]
    if ok:
        assert main(argv) == 0
        assert len(capsys.readouterr().out) == 22
    else:
        assert _error(argv, capsys) == ("lstm sample: error: --temperature must be a finite number >= 0, "
                                        f"got {float(temperature)}")


def test_graph_too_large_for_memory_is_one_line(capsys):
    assert _error(["graph", "--hidden", "100000", "--format", "dot", "--out", os.devnull], capsys) == (
        "lstm graph: error: out of memory; choose smaller sizes (--hidden, --batch, --seq-len, --layers)")


def test_a_run_writes_only_the_files_it_names_and_leaves_the_rest(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / ".metrics.json.abc123.tmp").write_text("left by a killed run")  # never read, never replaced
    assert main(["train", "--steps", "2", "--out", str(out), *TINY]) == 0
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    gates = [f"gates/{name}.svg"
             for name in ("cell", "cell_state", "forget", "hidden_state", "input", "output", "step")]
    assert written == sorted([".metrics.json.abc123.tmp", "checkpoint.npz", "loss.png", "metrics.json",
                              "notes.txt", *gates])
    assert (out / "notes.txt").read_text() == "mine"
    modes = {(out / name).stat().st_mode & 0o777 for name in ("checkpoint.npz", "metrics.json", "loss.png")}
    assert len(modes) == 1  # the checkpoint's mode is the other outputs'
