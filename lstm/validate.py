"""What the command line checks before it starts, so that a mistake ends a command at once, with one
line naming the option or the file, and never after training: numbers that must be finite, the prime
text of samples, and every file a run will write (each must be a regular file or absent, in a folder
that can be written). The run folder is then locked, so two runs never write into one folder.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from minigrad.errors import FileError, MinigradError
from minigrad.files import FolderLock, check_writable_target


class OptionError(MinigradError, ValueError):
    """A command-line option whose value the command cannot use."""


def check_temperature(value: float, option: str = "--temperature") -> float:
    """A sampling temperature: a finite number >= 0 (0: always the most likely character)."""
    if not (math.isfinite(value) and value >= 0):
        raise OptionError(f"{option} must be a finite number >= 0, got {value}")
    return value


def check_prime(prime: str, vocab: str, option: str = "--prime") -> str:
    """A prime text made only of characters the model was trained on."""
    unknown = sorted(set(prime) - set(vocab))
    if unknown:
        raise OptionError(f"{option} has characters the model never saw: {''.join(unknown)!r}")
    return prime


def check_output(path: Path) -> Path:
    """A file the command will write: absent or a regular file (never a folder, a device or a symbolic
    link), in a folder that exists or can be created, and can be written."""
    folder = path.parent
    while not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent  # the folder that will hold the new ones
    if not folder.is_dir():
        raise FileError(f"{path}: cannot be written ({folder} is not a folder)")
    check_writable_target(path)
    if not os.access(folder, os.W_OK | os.X_OK):  # also False on a read-only file system
        raise FileError(f"{path}: cannot be written (no permission to write in {folder}, or it is "
                        "on a read-only file system)")
    return path


def train_outputs(args, out: Path) -> list[Path]:
    """Every file ``lstm train`` with these arguments will write."""
    from lstm.cli import GATES  # the drawings of one step of the trained LSTM, beside the loss curve

    paths = [args.checkpoint or out / "checkpoint.npz", out / "metrics.json"]
    if args.metrics_out is not None:
        paths.append(args.metrics_out)
    if not args.no_pictures:
        paths.append(out / "loss.png")
        paths += [out / "gates" / f"{name}.svg" for name in (*GATES, "step")]
    return [Path(p) for p in paths]


def prepare_train(args, out: Path) -> FolderLock:
    """Check the options and the outputs of ``lstm train``, then create and lock the run folder ``out``;
    the caller releases the lock when the run is over."""
    check_temperature(args.temperature)
    for path in train_outputs(args, out):
        check_output(path)
    return FolderLock(out, "another run")
