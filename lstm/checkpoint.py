"""Checkpoints: one ``.npz`` file, written atomically, read without ever unpickling.

Layout of the archive (every entry a plain NumPy array; nothing needs pickle):
    ``format``         the string ``minigrad-lstm-checkpoint/1``
    ``meta``           a JSON string: step, RNG state, the run's configuration, and the optimizer's
                       non-array state
    ``param/<name>``   each model parameter, by its dotted name
    ``optim/<key>``    each array of the optimizer's state_dict (flattened with ``/``)

Writing goes to a temporary file in the same folder, is flushed to disk, then renamed over the target:
a crash at any moment leaves either the old checkpoint or the new one, never half of one.
Reading treats the file as a stranger's: pickled objects are refused (unpickling can run arbitrary
code), and nothing is decompressed before its size is known to be sensible (see `load_checkpoint`).
"""

from __future__ import annotations

import json
import math
import os
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minigrad.errors import MinigradError
from minigrad.files import atomic_write

FORMAT = "minigrad-lstm-checkpoint/1"


# What a checkpoint may cost to read: its metadata (the run's configuration and its loss history), and
# its arrays when the caller cannot say which ones the model has.
MAX_META_BYTES = 64 * 2**20
MAX_ARRAY_BYTES = 2**30


class CheckpointError(MinigradError, ValueError):
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
    arrays["meta"] = np.array(json.dumps(meta, allow_nan=False))
    atomic_write(path, lambda f: np.savez(f, **arrays))
    return path


def load_checkpoint(path, expect: Callable[[dict], dict[str, tuple]] | None = None) -> Checkpoint:
    """Read a checkpoint written by `save_checkpoint`; refuse anything else with `CheckpointError`.

    Before any array is decompressed, the zip's member list and every array's header are read: only a
    checkpoint's names and plain numeric dtypes are accepted, and each header's shape must account for
    exactly the bytes its member holds (a zip member is never inflated past its recorded size). The
    metadata is strict JSON of bounded size with a whole ``step`` >= 0, a ``config`` object and a NumPy
    generator state. ``expect(config)`` (given the stored config; a ValueError means the config is not
    usable) returns the model's exact {parameter name: shape}: then the parameters must be exactly those,
    and each optimizer array must have one parameter's shape, so the file costs at most a few times the
    model's memory; without ``expect`` the arrays may total `MAX_ARRAY_BYTES`.
    """
    path = Path(path)
    _check_is_file(path)
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
        with zipfile.ZipFile(path) as zf:
            return _read(zf, path, expect)
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"checkpoint {path}: not a readable .npz file ({e})") from e


def _check_is_file(path: Path) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path}: no such file") from None
    except OSError as e:
        raise CheckpointError(f"checkpoint {path}: cannot be read ({e.strerror})") from None
    if stat.S_ISDIR(mode):
        raise CheckpointError(f"checkpoint {path}: is a folder, not a checkpoint file")
    if not stat.S_ISREG(mode):
        raise CheckpointError(f"checkpoint {path}: is a device, FIFO or socket, not a checkpoint file")


def _read(zf: zipfile.ZipFile, path: Path, expect) -> Checkpoint:
    def bad(message: str) -> CheckpointError:
        return CheckpointError(f"checkpoint {path}: {message}")

    infos = {}
    for info in zf.infolist():
        name = info.filename.removesuffix(".npy")
        if name in infos or name == info.filename:
            raise bad(f"not a minigrad-lstm checkpoint (unexpected member {info.filename!r})")
        infos[name] = info
    if "format" not in infos or "meta" not in infos:
        raise bad(f"not a minigrad-lstm checkpoint (no '{FORMAT}' format entry)")
    unknown = [n for n in infos if n not in ("format", "meta") and not n.startswith(("param/", "optim/"))]
    if unknown:
        raise bad(f"not a minigrad-lstm checkpoint (unexpected member {unknown[0]!r})")
    headers = {name: _header(zf, info, bad) for name, info in infos.items()}

    if _text(zf, infos["format"], headers["format"], len(FORMAT), bad) != FORMAT:
        raise bad(f"not a minigrad-lstm checkpoint (no '{FORMAT}' format entry)")
    meta = _meta(_text(zf, infos["meta"], headers["meta"], MAX_META_BYTES, bad), bad)

    params = {n: h for n, h in headers.items() if n.startswith("param/")}
    optim = {n: h for n, h in headers.items() if n.startswith("optim/")}
    for name, (_, dtype) in params.items():
        if dtype.kind != "f":
            raise bad(f"parameter {name[6:]} has dtype {dtype}; parameters are floating-point numbers")
    if expect is None:
        total = sum(math.prod(shape) * dtype.itemsize for shape, dtype in (*params.values(), *optim.values()))
        if total > MAX_ARRAY_BYTES:
            raise bad(f"its arrays would take {total:,} bytes, more than the {MAX_ARRAY_BYTES:,} allowed")
    else:
        _check_expected(expect, meta["config"], params, optim, bad)

    def array(name: str) -> np.ndarray:
        with zf.open(infos[name]) as f:
            return np.lib.format.read_array(f, allow_pickle=False)

    flat_optim = {n[len("optim/"):]: array(n) for n in optim}
    flat_optim.update(meta["optim"])
    return Checkpoint(
        params={n[len("param/"):]: array(n) for n in params},
        optimizer=_unflatten(flat_optim),
        step=meta["step"],
        rng_state=meta["rng_state"],
        config=meta["config"],
    )


def _header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, bad) -> tuple[tuple, np.dtype]:
    """The (shape, dtype) an array member declares, read without inflating more than its header; the
    shape must account for exactly the bytes the member holds."""
    name = info.filename.removesuffix(".npy")
    with zf.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except ValueError as e:
            raise bad(f"member {name!r} is not a NumPy array ({e})") from None
        header_bytes = f.tell()
    if dtype.hasobject:
        raise bad("refused, it holds pickled Python objects, which are never loaded because unpickling "
                  "a file can run arbitrary code")
    if dtype.kind not in "fiuU" or dtype.names is not None:
        raise bad(f"member {name!r} has dtype {dtype}, which a checkpoint never holds")
    nbytes = math.prod(shape) * dtype.itemsize
    if header_bytes + nbytes != info.file_size:
        raise bad(f"member {name!r} declares shape {shape} ({nbytes:,} bytes) but holds "
                  f"{info.file_size - header_bytes:,} bytes")
    return shape, dtype


def _text(zf, info, header, max_chars: int, bad) -> str:
    shape, dtype = header
    name = info.filename.removesuffix(".npy")
    if shape != () or dtype.kind != "U" or dtype.itemsize // 4 > max_chars:
        raise bad(f"member {name!r} is not the short text a checkpoint stores there")
    with zf.open(info) as f:
        return str(np.lib.format.read_array(f, allow_pickle=False))


def _meta(text: str, bad) -> dict:
    """The metadata, checked: strict JSON (no NaN or Infinity), a whole step >= 0, a config object, a
    NumPy generator state (or null) and the optimizer's JSON values."""

    def refuse_constant(name):
        raise ValueError(f"{name} is not a JSON number")

    try:
        meta = json.loads(text, parse_constant=refuse_constant)
    except ValueError as e:
        raise bad(f"its metadata is damaged ({e})") from None
    if not isinstance(meta, dict):
        raise bad(f"its metadata is a JSON {type(meta).__name__}, not an object")
    step = meta.get("step")
    if type(step) is not int or step < 0:
        raise bad(f"its metadata has no whole step >= 0 (step: {json.dumps(step)})")
    for key, kind in (("config", dict), ("optim", dict)):
        meta.setdefault(key, {})
        if not isinstance(meta[key], kind):
            raise bad(f"its metadata's {key} is a JSON {type(meta[key]).__name__}, not an object")
    rng_state = meta.setdefault("rng_state", None)
    if rng_state is not None:
        try:
            np.random.Generator(np.random.PCG64()).bit_generator.state = rng_state
        except (TypeError, ValueError, KeyError, OverflowError):
            raise bad("its rng_state is not the state of a NumPy random generator (PCG64)") from None
    return meta


def _check_expected(expect, config: dict, params: dict, optim: dict, bad) -> None:
    """Parameters exactly as ``expect(config)`` says; each optimizer array of a parameter's shape, at
    most two per parameter (Adam keeps two moments)."""
    try:
        shapes = {f"param/{n}": tuple(s) for n, s in expect(config).items()}
    except ValueError as e:
        raise bad(f"its config does not describe a model ({e})") from None
    problems = []
    missing = [n[6:] for n in shapes if n not in params]
    unexpected = [n[6:] for n in params if n not in shapes]
    wrong = [f"{n[6:]}: expected {shapes[n]}, got {params[n][0]}"
             for n in params if n in shapes and params[n][0] != shapes[n]]
    for label, items in (("missing parameters", missing), ("unexpected parameters", unexpected),
                         ("wrong shapes", wrong)):
        if items:
            problems.append(f"{label}: {', '.join(items)}")
    allowed = set(shapes.values())
    odd = [n[6:] for n, (shape, dtype) in optim.items() if shape not in allowed or dtype.kind != "f"]
    if odd:
        problems.append(f"optimizer arrays that fit no parameter: {', '.join(odd)}")
    elif len(optim) > 2 * len(shapes):
        problems.append(f"{len(optim)} optimizer arrays for {len(shapes)} parameters")
    if problems:
        raise bad("does not match the model its config describes; " + "; ".join(problems))
