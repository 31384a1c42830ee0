"""What differs under WebAssembly (Pyodide, where the course runs in a browser), checked on CPython.

On wasm32 ``np.intp`` is int32, so an int64 index array that NumPy must cast to intp (``np.bincount``,
``np.add.at``) fails there with "Cannot cast ... from int64 to int32" while it works on a 64-bit machine.
And a browser has no threads: ``threading.Thread.start`` raises RuntimeError.
"""

import ast
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from lstm.tasks import TASKS, make_task
from lstm.train import TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(p for package in ("minigrad", "lstm") for p in (ROOT / package).rglob("*.py"))


def _names_int64(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr in ("int64", "uint64")
    return isinstance(node, ast.Constant) and node.value in ("int64", "uint64", "i8", "<i8")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_fixed_64_bit_integer_dtype(path):
    # A 64-bit machine cannot see the difference between int64 and intp: only the source can.
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [f"line {node.lineno}" for node in ast.walk(tree) if _names_int64(node)]
    assert not found, f"{path.name}: a 64-bit integer dtype at {', '.join(found)}; use np.intp"


@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_targets_are_intp(name):
    options = {"T": 30} if name == "adding" else {}
    batch = make_task(name, **options).batch(3, np.random.default_rng(0))
    if batch.y.dtype.kind in "iu":
        assert batch.y.dtype == np.intp


def test_char_ids_count_and_index_as_on_wasm32():
    task = make_task("chars", seq_len=16)
    # bincount under the rule wasm32 applies: only a safe cast to the platform's index type, int32 there
    # (the ids are stored compactly, as the smallest unsigned type that holds the vocabulary)
    for ids in (task.train_ids, task.val_ids):
        assert np.can_cast(ids.dtype, np.int32, casting="safe"), ids.dtype
    assert task.batch(2, np.random.default_rng(0)).y.dtype == np.intp
    assert task.encode("ab" if "a" in task.vocab else task.vocab[:2]).dtype == np.intp


def test_training_starts_no_thread(monkeypatch, tmp_path):
    # As in a browser: starting a thread fails. A progress bar must not need one (tqdm's monitor does).
    def refuse(self):
        raise RuntimeError("can't start new thread")

    from tqdm.auto import tqdm

    monkeypatch.setattr(sys, "platform", "emscripten")
    monkeypatch.setattr(threading.Thread, "start", refuse)
    monkeypatch.setattr(tqdm, "monitor_interval", tqdm.monitor_interval)  # restored afterwards
    monkeypatch.setattr(tqdm, "monitor", None)
    config = TrainConfig(task="adding", hidden=4, seq_len=30, batch=2, steps=3, eval_every=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = train(config, out_dir=tmp_path, progress=True)
    assert len(result.history) == 3
