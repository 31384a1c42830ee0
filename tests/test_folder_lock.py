"""`minigrad.files.FolderLock`: one writer per folder, with flock where it exists and an exclusive lock
file elsewhere; and a full disk is reported naming the file."""

import multiprocessing

import pytest

import minigrad as mg
from lstm.cli import main
from minigrad import files
from minigrad.files import FolderLock


def _try_lock(folder, queue):
    try:
        FolderLock(folder, "another run")
        queue.put("locked")
    except mg.FileError as e:
        queue.put(str(e))


def test_a_second_process_is_refused_until_the_first_releases(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    lock = FolderLock(tmp_path / "run")
    worker = ctx.Process(target=_try_lock, args=(tmp_path / "run", queue))
    worker.start()
    worker.join(60)
    assert queue.get(timeout=5) == (f"{tmp_path / 'run'}: another run is writing into this folder; wait "
                                    "for it to finish or choose another folder")
    lock.release()
    worker = ctx.Process(target=_try_lock, args=(tmp_path / "run", queue))
    worker.start()
    worker.join(60)
    assert queue.get(timeout=5) == "locked"
    assert list((tmp_path / "run").iterdir()) == []  # flock leaves nothing behind


def test_without_fcntl_a_lock_file_is_used_and_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "fcntl", None)
    with FolderLock(tmp_path):
        assert (tmp_path / ".lock").exists()
        with pytest.raises(mg.FileError, match=r"folder; .* \(if none is, delete .*\.lock\)"):
            FolderLock(tmp_path)
        assert (tmp_path / ".lock").exists()  # the refused one does not remove the holder's lock
    assert not (tmp_path / ".lock").exists()


def test_a_full_disk_is_one_line_naming_the_file(tmp_path, capsys, monkeypatch):
    def no_space(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", no_space)
    out = tmp_path / "run"
    assert main(["train", "--steps", "2", "--hidden", "4", "--batch", "2", "--seq-len", "8",
                 "--out", str(out), "--no-pictures", "--no-progress"]) == 2
    err = capsys.readouterr().err
    checkpoint = out / "checkpoint.npz"
    assert err == f"lstm train: error: {checkpoint}: could not be written (No space left on device)\n"
    assert sorted(p.name for p in out.iterdir()) == []  # no temporary file left behind
