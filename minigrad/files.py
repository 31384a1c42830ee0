"""Writing files without ever losing one: every file minigrad and lstm write goes through `atomic_write`.

The new content goes to a temporary file with an unpredictable name in the target's own folder (so a
symlink planted under a guessable name is never followed), is flushed to disk, then renamed over the
target in one step (`os.replace`), and the folder's entry is flushed too. A reader, or a crash at any
moment, sees the old file or the new one, never half of one. A temporary file left by a killed process
starts with ``.<name>.`` and ends with ``.tmp``; it is never read, and `atomic_write` removes its own on
any failure.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from minigrad.errors import FileError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

Content = bytes | str | Callable[[BinaryIO], object]


def _umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it, and put it back at once
    os.umask(mask)
    return mask


def check_writable_target(path: str | os.PathLike) -> Path:
    """Refuse, with a `FileError` naming ``path``, a target that `atomic_write` must not replace: a
    symlink, a folder, a device, a FIFO or a socket. Returns ``path`` as a `Path`."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    except OSError as e:
        raise FileError(f"{path}: cannot be written ({e.strerror})") from e
    if stat.S_ISLNK(st.st_mode):
        raise FileError(f"{path}: is a symbolic link; refusing to replace it (name the file it points to)")
    if stat.S_ISDIR(st.st_mode):
        raise FileError(f"{path}: is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise FileError(f"{path}: is a device, FIFO or socket, not a regular file; refusing to replace it")
    return path


def atomic_write(path: str | os.PathLike, content: Content, *, make_parents: bool = True) -> Path:
    """Write ``content`` (bytes, text as UTF-8, or a function that writes to a binary file) to ``path``
    atomically and return the path.

    The file gets the mode a plain ``open(path, "w")`` would give it (0666 less the umask). The parent
    folder is created when ``make_parents``. Raises `FileError` naming the path when the target is not a
    regular file (see `check_writable_target`) or the write fails (a full disk, no permission).
    """
    path = check_writable_target(path)
    parent = path.parent
    try:
        if make_parents:
            parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as e:
        raise FileError(f"{path}: cannot be written ({e.strerror})") from e
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(content.encode("utf-8") if isinstance(content, str) else content)
            f.flush()
            os.fsync(f.fileno())
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise FileError(f"{path}: could not be written ({e.strerror or e})") from e
        raise
    _sync_folder(parent)
    return path


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries, so that a rename survives a power cut (not possible on Windows)."""
    if sys.platform == "win32":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the rename itself has happened
    finally:
        os.close(fd)


class FolderLock:
    """An exclusive claim on a folder, so that two processes never write into it at once.

    On POSIX the lock is ``flock`` on the folder itself: nothing is created, and the system drops it when
    the process ends however it ends. Elsewhere (Windows) it is a file ``.lock`` created exclusively in
    the folder and removed by `release`; one left by a killed process must be deleted by hand, which the
    message says. The lock is released by `release`, on leaving a ``with`` block, or when the object is
    collected.
    """

    def __init__(self, folder: str | os.PathLike, who: str = "another process"):
        self.folder = Path(folder)
        self._fd: int | None = None
        self._file: Path | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if fcntl is not None:
                self._fd = os.open(self.folder, os.O_RDONLY)
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:
                lock_file = self.folder / ".lock"
                os.close(os.open(lock_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                self._file = lock_file  # ours only once created: never remove another process's
        except (BlockingIOError, FileExistsError):
            self.release()
            hint = "" if fcntl is not None else f" (if none is, delete {self.folder / '.lock'})"
            raise FileError(f"{self.folder}: {who} is writing into this folder; wait for it to finish or "
                            f"choose another folder{hint}") from None
        except OSError as e:
            self.release()
            raise FileError(f"{self.folder}: cannot be used as an output folder ({e.strerror})") from e

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
        if self._file is not None:
            self._file.unlink(missing_ok=True)
            self._file = None

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()
