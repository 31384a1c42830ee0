"""The command line: the main job end to end, and one-line errors for every bad argument."""

import argparse
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lstm.cli import _positive_float, _positive_int, main

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--hidden", "8", "--batch", "4", "--seq-len", "16", "--eval-every", "5", "--no-progress"]


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_train_writes_checkpoint_metrics_loss_curve_and_gate_graphs(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = _run(["train", "--steps", "10", "--out", str(out),
                            "--metrics-out", str(tmp_path / "m.json"), *TINY], capsys)
    assert code == 0
    assert "seed 0" in stdout and "sample at step 5:" in stdout and "bits_per_char" in stdout
    for name in ("checkpoint.npz", "metrics.json", "loss.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    for gate in ("input", "forget", "cell", "output", "step"):
        svg = (out / "gates" / f"{gate}.svg").read_text()
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "forget_gate" in (out / "gates" / "forget.svg").read_text()
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["task"] == "chars" and metrics["steps"] == 10
    assert metrics["bits_per_char"] > 0 and metrics["unigram_bits_per_char"] > 0


def test_sample_from_a_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--steps", "3", "--out", str(out), "--no-pictures", *TINY]) == 0
    capsys.readouterr()
    code, stdout, _ = _run(["sample", "--checkpoint", str(out / "checkpoint.npz"), "--length", "40",
                            "--prime", "The "], capsys)
    assert code == 0
    assert stdout.startswith("The ") and len(stdout.rstrip("\n")) == 44


def test_graph_writes_one_gate(tmp_path, capsys):
    path = tmp_path / "forget.dot"
    code, _, _ = _run(["graph", "--gate", "forget", "--steps", "2", "--format", "dot", "--out", str(path)],
                      capsys)
    assert code == 0
    dot = path.read_text()
    assert "forget_gate" in dot and "input_gate" not in dot


def test_gradcheck_command_prints_the_verdict_and_the_table_with_verbose(capsys):
    code, stdout, _ = _run(["gradcheck"], capsys)
    assert code == 0
    assert "mg.gradcheck of a 5-step LSTM layer" in stdout and "OK" in stdout
    assert "(hand-derived): B=2, T=5, I=3, H=4, float64, seed 0: PASS" in stdout
    assert "weight_hh" not in stdout and len(stdout.splitlines()) <= 5
    assert "lstm gradcheck --verbose" in stdout
    code, stdout, _ = _run(["gradcheck", "--verbose"], capsys)
    assert code == 0
    assert "weight_hh" in stdout and "t=4" in stdout and len(stdout.splitlines()) > 30


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--task", "nope"], "argument --task: invalid choice: 'nope'"),
        (["train", "--hidden", "-4"], "argument --hidden: expected a positive integer, got -4"),
        (["train", "--steps", "0"], "argument --steps: expected a positive integer, got 0"),
        (["train", "--lr", "abc"], "argument --lr: expected a positive number, got 'abc'"),
        (["sample"], "the following arguments are required: --checkpoint"),
    ],
)
def test_argument_errors_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def _one_line_error(argv, capsys):
    code, _, err = _run(argv, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_a_missing_text_file(tmp_path, capsys):
    err = _one_line_error(["train", "--text", str(tmp_path / "absent.txt"), *TINY], capsys)
    assert "lstm train: error: corpus file not found:" in err


def test_a_text_file_that_is_not_utf8(tmp_path, capsys):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9 au lait".encode("latin-1"))
    err = _one_line_error(["train", "--text", str(bad), *TINY], capsys)
    assert "is not UTF-8 text (bad byte at offset 3)" in err


def test_a_checkpoint_of_another_architecture(tmp_path, capsys):
    ckpt = tmp_path / "c.npz"
    assert main(["train", "--steps", "2", "--checkpoint", str(ckpt), "--out", str(tmp_path / "a"),
                 "--no-pictures", *TINY]) == 0
    capsys.readouterr()
    err = _one_line_error(["train", "--steps", "4", "--resume", "--checkpoint", str(ckpt), "--out",
                           str(tmp_path / "b"), "--no-pictures", *TINY[:-1], "--hidden", "16"], capsys)
    assert "is from a different model: hidden=8 (this run: 16)" in err


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_pickled_checkpoint_never_runs(tmp_path, capsys):
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil.npz"
    evil.write_bytes(pickle.dumps(_Payload(marker)))
    err = _one_line_error(["sample", "--checkpoint", str(evil)], capsys)
    assert "refused, it is a pickle" in err
    assert not marker.exists()


def test_sampling_needs_a_character_model(tmp_path, capsys):
    ckpt = tmp_path / "adding.npz"
    assert main(["train", "--task", "adding", "--seq-len", "22", "--steps", "2", "--checkpoint",
                 str(ckpt), "--out", str(tmp_path / "r"), "--no-pictures", "--hidden", "4",
                 "--no-progress"]) == 0
    capsys.readouterr()
    err = _one_line_error(["sample", "--checkpoint", str(ckpt)], capsys)
    assert "is a 'adding' model; only a chars model can sample text" in err


def test_python_dash_m_lstm_runs_as_a_program(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run([sys.executable, "-m", "lstm", "train", "--steps", "2", "--out", str(tmp_path / "r"),
                         "--no-pictures", *TINY], capture_output=True, text=True, env=env, timeout=300)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([sys.executable, "-m", "lstm", "train", "--text", str(tmp_path / "none.txt")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("lstm train: error: corpus file not found")
    assert "Traceback" not in bad.stderr
    assert np.isfinite(json.loads((tmp_path / "r" / "metrics.json").read_text())["eval_loss"])


def _subcommands():
    from lstm.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return parser, sub.choices


def test_every_option_of_every_command_says_what_it_does_and_its_default():
    parser, commands = _subcommands()
    assert set(commands) == {"train", "sample", "graph", "gradcheck"}
    for name, command in commands.items():
        text = command.format_help()
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            flag = action.option_strings[0]
            words = " ".join((action.help or "").split())
            assert len(words) > 25, f"{name} {flag}: no description"
            if action.required:
                assert "(required)" in words, f"{name} {flag}"
            else:
                assert "default: " in words, f"{name} {flag}: no default"
            if action.type is _positive_int or action.type is _positive_float:
                assert "a positive " in words, f"{name} {flag}: no range"
            if action.choices:
                assert all(str(c) in words for c in action.choices), f"{name} {flag}: choices"
            # what --help prints: the default filled in, not the template
            assert "%(default)s" not in text and flag in text
    top = parser.format_help()
    for name in commands:
        assert f"python -m lstm {name} --" in top, f"no example of {name} in lstm --help"


def test_help_shows_the_defaults_it_uses(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert ("--hidden H hidden units (the size of h and c) of each LSTM layer "
            "(a positive integer; default: 128)") in out
    assert "--seed SEED seed of the initial weights and the batches" in out
    with pytest.raises(SystemExit):
        main(["graph", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "default: all)" in out and "--checkpoint FILE" in out


def test_the_top_level_examples_parse():
    import re

    parser, _ = _subcommands()
    for line in re.findall(r"^  python -m lstm (.+)$", parser.epilog, re.M):
        parser.parse_args(line.split())


def test_train_compares_with_the_baseline_and_lists_what_it_wrote(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = _run(["train", "--task", "temporal_order", "--steps", "2", "--out", str(out),
                            "--hidden", "4", "--no-progress"], capsys)
    assert code == 0
    final = next(line for line in stdout.splitlines() if line.startswith("final: "))
    assert "error_rate 1 (baseline 1)" in final and "accuracy " in final
    assert ("did NOT beat the baseline: error_rate 1 against 1 for chance: equal odds for the 4 classes; "
            "it has not learned the task yet (try more --steps)") in stdout
    listing = stdout.split(f"wrote {out}/:\n")[1].splitlines()
    names = [line.split()[0] for line in listing]
    assert names == ["checkpoint.npz", "metrics.json", "loss.png", "gates/input.svg", "gates/forget.svg",
                     "gates/cell.svg", "gates/output.svg", "gates/cell_state.svg", "gates/hidden_state.svg",
                     "gates/step.svg"]
    for name, line in zip(names, listing):
        assert (out / name).stat().st_size > 0, name
        assert len(line.split()) > 4, f"{name}: says nothing about what it is"
    assert "forget gate" in listing[4]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["baseline"]["predictor"] == "chance: equal odds for the 4 classes"
    assert metrics["baseline"]["error_rate"] == 1.0 and metrics["beat_baseline"] is False


def test_the_file_list_names_a_checkpoint_outside_the_run_folder(tmp_path, capsys):
    ckpt = tmp_path / "elsewhere.npz"
    code, stdout, _ = _run(["train", "--steps", "2", "--out", str(tmp_path / "r"), "--checkpoint", str(ckpt),
                            "--no-pictures", *TINY], capsys)
    assert code == 0
    listing = stdout.split("/r/:\n")[1].splitlines()
    assert listing[0].split()[0] == str(ckpt) and listing[1].split()[0] == "metrics.json"
    assert len(listing) == 2


@pytest.mark.slow
def test_the_readme_quick_training_command_beats_its_baseline(tmp_path, capsys):
    import re

    readme = (ROOT / "README.md").read_text()
    command = re.search(r"`bash setup.sh run (--task adding [^`]+)`", readme).group(1).split()
    argv = ["train", *command, "--out", str(tmp_path / "r"), "--no-pictures", "--no-progress"]
    code, stdout, _ = _run(argv, capsys)
    assert code == 0
    assert "beat the baseline: error_rate " in stdout and "NOT" not in stdout
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    # the README promises a handful wrong of the 2560, where answering the mean gets about 2140 wrong
    assert metrics["wrong"] < 100 < 2000 < metrics["baseline"]["wrong"]


def test_graph_draws_a_trained_checkpoint(tmp_path, capsys):
    ckpt = tmp_path / "adding.npz"
    assert main(["train", "--task", "adding", "--seq-len", "22", "--steps", "2", "--checkpoint", str(ckpt),
                 "--out", str(tmp_path / "r"), "--no-pictures", "--hidden", "5", "--no-progress"]) == 0
    capsys.readouterr()
    path = tmp_path / "forget.dot"
    code, stdout, _ = _run(["graph", "--checkpoint", str(ckpt), "--gate", "forget", "--steps", "2",
                            "--format", "dot", "--out", str(path)], capsys)
    assert code == 0 and stdout.strip() == f"wrote {path}"
    dot = path.read_text()
    assert "forget_gate" in dot and "input_gate" not in dot
    # the checkpoint's hidden size (H=5), not the random LSTM's (H=4): U_f is (H, H)
    assert "(5, 5)" in dot and "(4, 4)" not in dot
    err = _one_line_error(["graph", "--checkpoint", str(tmp_path / "none.npz"), "--format", "dot",
                           "--out", str(path)], capsys)
    assert "lstm graph: error: checkpoint" in err and "no such file" in err
    err = _one_line_error(["graph", "--checkpoint", str(ckpt), "--steps", "500", "--format", "dot",
                           "--out", str(path)], capsys)
    assert f"lstm graph: error: --steps 500: the sequences of {ckpt}'s task have only" in err
