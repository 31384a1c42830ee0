"""Checkpoints: one ``.npz`` file, written atomically, read without ever unpickling.

Layout of the archive (every entry a plain NumPy array; nothing needs pickle):
    ``format``         the string ``minigrad-lstm-checkpoint/1``
    ``meta``           a JSON string: step, RNG state, the run's configuration, and the optimizer's
                       non-array state
    ``param/<name>``   each model parameter, by its dotted name
    ``optim/<key>``    each array of the optimizer's state_dict (flattened with ``/``)

Writing goes to a temporary file in the same folder, is flushed to disk, then renamed over the target:
a crash at any moment leaves either the old checkpoint or the new one, never half of one.
Reading uses ``allow_pickle=False``: a file that holds pickled objects is refused, because unpickling a
stranger's file can run arbitrary code.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minigrad.files import atomic_write

FORMAT = "minigrad-lstm-checkpoint/1"


class CheckpointError(ValueError):
    """A file that is not a loadable minigrad-lstm checkpoint, or one that does not fit the model."""


@dataclass
class Checkpoint:
    params: dict[str, np.ndarray]
    optimizer: dict = field(default_factory=dict)
    step: int = 0
    rng_state: dict | None = None
    config: dict = field(default_factory=dict)


def _flatten(tree, prefix: str, arrays: dict, meta: dict) -> None:
    """Split a nested dict into arrays (for the archive) and JSON-able leaves (for ``meta``)."""
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, name + "/", arrays, meta)
        elif isinstance(value, np.ndarray):
            arrays[name] = value
        else:
            meta[name] = value.item() if isinstance(value, np.generic) else value


def _unflatten(flat: dict) -> dict:
    tree: dict = {}
    for name, value in flat.items():
        node = tree
        *parents, leaf = name.split("/")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return tree


def save_checkpoint(path, ckpt: Checkpoint) -> Path:
    """Write ``ckpt`` to ``path`` atomically; returns the path."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {"format": np.array(FORMAT)}
    for name, a in ckpt.params.items():
        arrays[f"param/{name}"] = np.asarray(a)
    optim_arrays: dict = {}
    optim_meta: dict = {}
    _flatten(ckpt.optimizer, "", optim_arrays, optim_meta)
    for name, a in optim_arrays.items():
        arrays[f"optim/{name}"] = a
    meta = {"step": int(ckpt.step), "rng_state": ckpt.rng_state, "config": ckpt.config,
            "optim": optim_meta}
    arrays["meta"] = np.array(json.dumps(meta))
    atomic_write(path, lambda f: np.savez(f, **arrays))
    return path


def load_checkpoint(path) -> Checkpoint:
    """Read a checkpoint written by `save_checkpoint`; refuses anything else with `CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":  # every .npz is a zip archive
        what = "a pickle" if magic[:1] == b"\x80" else "not a zip archive"
        raise CheckpointError(
            f"checkpoint {path}: refused, it is {what}, not an .npz checkpoint"
            + (" (pickles are never loaded because unpickling a file can run arbitrary code)"
               if what == "a pickle" else "")
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            entries = {k: z[k] for k in z.files}
    except ValueError as e:
        if "pickle" in str(e):
            raise CheckpointError(
                f"checkpoint {path}: refused, it holds pickled Python objects, which are never loaded "
                "because unpickling a file can run arbitrary code"
            ) from e
        raise CheckpointError(f"checkpoint {path}: not a minigrad-lstm checkpoint ({e})") from e
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise CheckpointError(f"checkpoint {path}: not a readable .npz file ({e})") from e
    if not isinstance(entries, dict) or str(entries.get("format", "")) != FORMAT:
        raise CheckpointError(
            f"checkpoint {path}: not a minigrad-lstm checkpoint (no '{FORMAT}' format entry)"
        )
    try:
        meta = json.loads(str(entries["meta"]))
    except (KeyError, json.JSONDecodeError) as e:
        raise CheckpointError(f"checkpoint {path}: its metadata is missing or damaged ({e})") from e
    params = {k[len("param/"):]: v for k, v in entries.items() if k.startswith("param/")}
    optim = {k[len("optim/"):]: v for k, v in entries.items() if k.startswith("optim/")}
    optim.update(meta.get("optim", {}))
    return Checkpoint(
        params=params,
        optimizer=_unflatten(optim),
        step=int(meta["step"]),
        rng_state=meta.get("rng_state"),
        config=meta.get("config", {}),
    )
