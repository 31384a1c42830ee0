"""The table "The command line, files and checkpoints" of docs/errors.md is what the code says: every
row's example is run here, in a folder holding ``good.npz`` (a small character model's checkpoint), and
its error's class and full message are compared with the row (``…`` in a message stands for any text)."""

import io
import os
import re
from pathlib import Path

import errors_doc
import numpy as np
import pytest
from test_checkpoint_hostile import _members, _npy, _with_meta, _write

from lstm import train as train_mod
from lstm.checkpoint import load_checkpoint
from lstm.cli import main
from lstm.train import TrainConfig, check_memory, load_run_checkpoint, train
from lstm.validate import check_output, check_prime, check_temperature
from minigrad.files import FolderLock


def _meta(name, edit):
    _with_meta(Path("good.npz"), Path("."), edit).rename(name)
    return load_run_checkpoint(name)


def _members_with(name, **extra):
    _write(name, _members("good.npz") | {f"{k.replace('__', '/').replace('_dot_', '.')}.npy": v
                                           for k, v in extra.items()})
    return load_run_checkpoint(name)


def _fifo():
    os.mkfifo("pipe.npz")
    load_checkpoint("pipe.npz")


def _bomb():
    _write("bomb.npz", _members("good.npz") | {"junk.npy": _npy(np.zeros(8))})
    load_checkpoint("bomb.npz")


def _big():
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    _write("big.npz", _members("good.npz") | {"param/readout.bias.npy": header.getvalue() + bytes(64)})
    load_checkpoint("big.npz")


def _infinity():
    members = _members("good.npz")
    meta = str(np.lib.format.read_array(io.BytesIO(members["meta.npy"])))
    _write("inf.npz", members | {"meta.npy": _npy(np.array(meta.replace('"step": 2', '"step": Infinity')))})
    load_checkpoint("inf.npz")


def _resume_seed():
    config = TrainConfig(**{k: v for k, v in load_checkpoint("good.npz").config.items()
                            if k in ("task", "hidden", "seq_len", "batch", "eval_every")}, seed=4, steps=4)
    train(config, checkpoint="good.npz", resume=True, progress=False)


def _in_a_file():
    Path("notes.txt").write_text("keep")
    check_output(Path("notes.txt/run/checkpoint.npz"))


def _locked():
    with FolderLock("run"):
        FolderLock("run", "another run")


def _too_big():
    config = TrainConfig(task="chars", hidden=10**9)
    check_memory(config, train_mod.build_task(config))


def _diverges():
    config = TrainConfig(task="adding", seq_len=22, hidden=4, batch=4, steps=5, lr=1e200, optimizer="sgd",
                         clip=1e300)
    with np.errstate(all="ignore"):
        train(config, out_dir="run", progress=False)


SITUATIONS = {
    "C1": lambda: (Path("runs").mkdir(), load_checkpoint("runs")),
    "C2": _fifo,
    "C3": _bomb,
    "C4": _big,
    "C5": lambda: _members_with("strings.npz", param__readout_dot_bias=_npy(np.array(["abc"] * 4))),
    "C6": lambda: _meta("list.npz", lambda m: []),
    "C7": lambda: _meta("nostep.npz", lambda m: {k: v for k, v in m.items() if k != "step"}),
    "C8": _infinity,
    "C9": lambda: _meta("config.npz", lambda m: m | {"config": "x"}),
    "C10": lambda: _meta("rng.npz", lambda m: m | {"rng_state": 7}),
    "C11": lambda: _meta("hidden.npz", lambda m: m | {"config": m["config"] | {"hidden": "8"}}),
    "C12": lambda: _members_with("extra.npz", param__extra=_npy(np.zeros(3))),
    "C13": _resume_seed,
    "C14": lambda: check_temperature(float("nan")),
    "C15": lambda: check_prime("Zebra", "aber"),
    "C16": _in_a_file,
    "C17": lambda: (Path("runs").mkdir(), check_output(Path("runs"))),
    "C18": _locked,
    "C19": _too_big,
    "C20": _diverges,
    "C21": lambda: TrainConfig(lr=float("inf")),
}



def table_rows() -> dict:
    return errors_doc.table_rows("C")


def test_every_row_has_an_example_and_every_example_a_row():
    assert sorted(table_rows()) == sorted(SITUATIONS)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "good.npz"
    train(TrainConfig(task="chars", hidden=4, seq_len=8, batch=2, steps=2, eval_every=0), checkpoint=path,
          progress=False)
    return path.read_bytes()


@pytest.mark.parametrize("row", sorted(SITUATIONS, key=lambda r: int(r[1:])))
def test_the_table_is_what_the_code_says(row, good, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("good.npz").write_bytes(good)
    cls, message = table_rows()[row]
    with pytest.raises(Exception) as info:  # noqa: B017 - the class is checked by name below
        SITUATIONS[row]()
    assert type(info.value).__name__ == cls
    pattern = ".*".join(re.escape(part) for part in message.split("…"))
    assert re.fullmatch(pattern, " ".join(str(info.value).split())), str(info.value)


def test_the_cli_prints_each_as_one_line(good, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("good.npz").write_bytes(good)
    assert main(["sample", "--checkpoint", "good.npz", "--prime", "Zebra"]) == 2
    assert capsys.readouterr().err == "lstm sample: error: --prime has characters the model never saw: 'Z'\n"
