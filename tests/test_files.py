"""`minigrad.files.atomic_write`: the one way the project writes a file."""

from __future__ import annotations

import os
import stat

import pytest

import minigrad as mg
from minigrad.files import atomic_write


def test_writes_bytes_text_and_a_writer_function(tmp_path):
    assert atomic_write(tmp_path / "a.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    assert atomic_write(tmp_path / "b.txt", "h\u00e9").read_text(encoding="utf-8") == "h\u00e9"
    assert atomic_write(tmp_path / "c", lambda f: f.write(b"xyz")).read_bytes() == b"xyz"


def test_replaces_a_file_and_leaves_no_temporary_behind(tmp_path):
    target = tmp_path / "sub" / "m.json"
    atomic_write(target, "old")
    atomic_write(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.json"]


def test_mode_is_what_a_plain_open_gives(tmp_path):
    old = os.umask(0o027)
    try:
        plain = tmp_path / "plain"
        plain.write_text("x")
        written = atomic_write(tmp_path / "atomic", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(written.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode) == 0o640


def test_a_symlink_target_is_refused_and_its_victim_untouched(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    link = tmp_path / "out.json"
    link.symlink_to(victim)
    with pytest.raises(mg.FileError, match=r"out\.json: is a symbolic link; refusing to replace it"):
        atomic_write(link, "evil")
    assert victim.read_text() == "precious"
    assert link.is_symlink()


def test_a_planted_symlink_at_a_guessable_temporary_name_is_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "metrics.json.tmp").symlink_to(victim)
    atomic_write(tmp_path / "metrics.json", "{}")
    assert victim.read_text() == "precious"
    assert (tmp_path / "metrics.json").read_text() == "{}"


def test_folders_and_devices_are_refused(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(mg.FileError, match=r"d: is a folder, not a file"):
        atomic_write(tmp_path / "d", "x")
    with pytest.raises(mg.FileError, match=r"null: is a device, FIFO or socket, not a regular file"):
        atomic_write("/dev/null", "x")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(mg.FileError, match="is a device, FIFO or socket"):
        atomic_write(fifo, "x")


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path):
    target = tmp_path / "ckpt"
    target.write_text("old")

    def broken(f):
        f.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(mg.FileError, match=r"ckpt: could not be written \(No space left on device\)"):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]

