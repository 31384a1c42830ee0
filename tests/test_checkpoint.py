"""Checkpoints: exact round trip, atomic writes, and refusal of anything that would need unpickling."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from lstm import checkpoint as ckpt_mod
from lstm.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from minigrad import files


def _example(step=7) -> Checkpoint:
    rng = np.random.default_rng(3)
    return Checkpoint(
        params={"lstm.weight_ih_l0": rng.standard_normal((8, 3)), "readout.bias": np.zeros(2, np.float32)},
        optimizer={"lr": 0.01, "step": 5, "state": {"0": {"exp_avg": rng.standard_normal((8, 3))}}},
        step=step,
        rng_state=rng.bit_generator.state,
        config={"task": "adding", "hidden": 4, "name": "quotes \" and ünïcode"},
    )


def test_round_trip_is_exact(tmp_path):
    original = _example()
    path = save_checkpoint(tmp_path / "run" / "ckpt.npz", original)
    loaded = load_checkpoint(path)
    assert loaded.step == 7
    assert loaded.config == original.config
    assert loaded.rng_state == original.rng_state  # 128-bit PCG state survives JSON
    for k, v in original.params.items():
        np.testing.assert_array_equal(loaded.params[k], v)
        assert loaded.params[k].dtype == v.dtype
    assert loaded.optimizer["lr"] == 0.01 and loaded.optimizer["step"] == 5
    np.testing.assert_array_equal(loaded.optimizer["state"]["0"]["exp_avg"],
                                  original.optimizer["state"]["0"]["exp_avg"])


def test_rng_state_restores_the_same_stream(tmp_path):
    rng = np.random.default_rng(11)
    rng.standard_normal(5)
    c = _example()
    c.rng_state = rng.bit_generator.state
    expected = rng.standard_normal(4)
    loaded = load_checkpoint(save_checkpoint(tmp_path / "c.npz", c))
    again = np.random.default_rng()
    again.bit_generator.state = loaded.rng_state
    np.testing.assert_array_equal(again.standard_normal(4), expected)


def test_a_failed_write_leaves_the_old_checkpoint_and_no_temporary_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "c.npz", _example(step=1))
    before = path.read_bytes()

    def crash_midway(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")  # some bytes reach the disk, then the process "dies"
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt_mod.np, "savez", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, _example(step=2))
    assert path.read_bytes() == before
    assert load_checkpoint(path).step == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]


def test_the_rename_is_the_commit_point(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "c.npz", _example(step=1))
    monkeypatch.setattr(files.os, "replace", lambda *a: (_ for _ in ()).throw(OSError(28, "disk full")))
    with pytest.raises(mg.FileError, match=r"c\.npz: could not be written \(disk full\)"):
        save_checkpoint(path, _example(step=2))
    assert load_checkpoint(path).step == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]


class _Payload:
    """Unpickling this object creates a marker file: the proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_pickle_file_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil.npz"
    evil.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(CheckpointError, match="refused, it is a pickle, not an .npz checkpoint"):
        load_checkpoint(evil)
    assert not marker.exists()


def test_an_npz_holding_an_object_array_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil.npz"
    payload = np.empty(1, dtype=object)
    payload[0] = _Payload(marker)
    np.savez(evil, format=np.array(ckpt_mod.FORMAT), meta=np.array("{}"), **{"param/w": payload})
    with pytest.raises(CheckpointError, match="refused, it holds pickled Python objects"):
        load_checkpoint(evil)
    assert not marker.exists()


def test_other_files_are_refused_with_a_clear_message(tmp_path):
    with pytest.raises(CheckpointError, match=r"checkpoint .*missing\.npz: no such file"):
        load_checkpoint(tmp_path / "missing.npz")
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="refused, it is not a zip archive, not an .npz checkpoint"):
        load_checkpoint(text)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, w=np.ones(3))
    with pytest.raises(CheckpointError, match="not a minigrad-lstm checkpoint"):
        load_checkpoint(foreign)


def test_writes_create_the_folder_and_leave_no_temporary_files(tmp_path):
    path = save_checkpoint(tmp_path / "a" / "b" / "c.npz", _example())
    assert path.exists()
    assert os.listdir(path.parent) == ["c.npz"]
