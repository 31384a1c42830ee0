"""Checkpoints are files users download and pass to the CLI: hostile ones are refused after reading
only the zip's member list, the arrays' headers and the metadata, with one message naming the file and
what is wrong; `sample` reads nothing but the checkpoint."""

import io
import json
import os
import tracemalloc
import zipfile

import numpy as np
import pytest

from lstm.checkpoint import CheckpointError, load_checkpoint
from lstm.cli import main
from lstm.train import TrainConfig, build_model, build_task, load_run_checkpoint, parameter_shapes, train

TINY = ["--hidden", "8", "--batch", "4", "--seq-len", "16", "--eval-every", "5", "--no-progress",
        "--no-pictures"]


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A real checkpoint of a tiny character model."""
    path = tmp_path_factory.mktemp("ckpt") / "good.npz"
    train(TrainConfig(task="chars", hidden=4, seq_len=8, batch=2, steps=2, eval_every=0),
          checkpoint=path, progress=False)
    return path


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def _members(path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _write(path, members: dict, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compress) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _with_meta(good, tmp_path, edit):
    members = _members(good)
    meta = json.loads(str(np.lib.format.read_array(io.BytesIO(members["meta.npy"]))))
    members["meta.npy"] = _npy(np.array(json.dumps(edit(meta))))
    return _write(tmp_path / "edited.npz", members)


def _refused(path, message):
    with pytest.raises(CheckpointError) as info:
        load_run_checkpoint(path)
    assert str(info.value) == f"checkpoint {path}: {message}"


def test_a_real_checkpoint_loads_with_the_expected_shapes(good):
    ckpt, config = load_run_checkpoint(good)
    assert {k: v.shape for k, v in ckpt.params.items()} == parameter_shapes(ckpt.config)
    model = build_model(config, build_task(config), np.random.default_rng(0))
    assert {k: v.shape for k, v in model.state_dict().items()} == parameter_shapes(ckpt.config)


@pytest.mark.parametrize("config", [
    {"task": "adding", "hidden": 3, "layers": 2, "seq_len": 22},
    {"task": "temporal_order", "hidden": 5, "layers": 1},
])  # fmt: skip
def test_parameter_shapes_are_those_of_the_model_built(config):
    config = TrainConfig(**config)
    model = build_model(config, build_task(config), np.random.default_rng(0))
    assert parameter_shapes(vars(config)) == {k: v.shape for k, v in model.state_dict().items()}


def test_an_extra_compressed_member_is_refused_before_it_is_inflated(good, tmp_path):
    # 512 MB of zeros compress to about 0.5 MB; loading every member first used to inflate it.
    members = _members(good)
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        with zf.open("junk.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False,
                                                     "shape": (2**26,)})
            chunk = bytes(2**24)
            for _ in range(32):
                f.write(chunk)
    assert path.stat().st_size < 4 * 2**20
    tracemalloc.start()
    with pytest.raises(CheckpointError, match=r"checkpoint \(unexpected member 'junk'\)"):
        load_checkpoint(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2**20


def test_an_unexpected_parameter_is_refused(good, tmp_path):
    members = _members(good) | {"param/extra.npy": _npy(np.zeros(3))}
    _refused(_write(tmp_path / "x.npz", members),
             "does not match the model its config describes; unexpected parameters: extra")


def test_a_header_declaring_a_trillion_elements_is_refused(good, tmp_path):
    members = _members(good)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (10**12,)})
    members["param/readout.bias.npy"] = header.getvalue() + bytes(64)
    _refused(_write(tmp_path / "x.npz", members),
             "member 'param/readout.bias' declares shape (1000000000000,) (8,000,000,000,000 bytes) but "
             "holds 64 bytes")


def test_a_config_much_larger_than_its_arrays_is_refused_before_building_the_model(good, tmp_path):
    path = _with_meta(good, tmp_path, lambda m: m | {"config": m["config"] | {"hidden": 10**6}})
    with pytest.raises(CheckpointError, match=r"wrong shapes: lstm.weight_ih_l0: expected \(4000000, "):
        load_run_checkpoint(path)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda m: [], "its metadata is a JSON list, not an object"),
    (lambda m: {k: v for k, v in m.items() if k != "step"},
     "its metadata has no whole step >= 0 (step: null)"),
    (lambda m: m | {"step": 2.5}, "its metadata has no whole step >= 0 (step: 2.5)"),
    (lambda m: m | {"step": -1}, "its metadata has no whole step >= 0 (step: -1)"),
    (lambda m: m | {"config": "x"}, "its metadata's config is a JSON str, not an object"),
    (lambda m: m | {"rng_state": 7}, "its rng_state is not the state of a NumPy random generator (PCG64)"),
    (lambda m: m | {"rng_state": {"bit_generator": "PCG64", "state": "x"}},
     "its rng_state is not the state of a NumPy random generator (PCG64)"),
    (lambda m: m | {"config": m["config"] | {"hidden": "8"}},
     'its config does not describe a model (hidden must be a whole number from 1 to 2**31, got "8")'),
    (lambda m: m | {"config": m["config"] | {"vocab": None}},
     "its config does not describe a model (a chars model stores its vocabulary: input_size distinct "
     "characters)"),
])  # fmt: skip
def test_damaged_metadata_is_refused_with_what_is_wrong(good, tmp_path, edit, message):
    _refused(_with_meta(good, tmp_path, edit), message)


def test_a_step_of_infinity_is_refused(good, tmp_path):
    members = _members(good)
    meta = str(np.lib.format.read_array(io.BytesIO(members["meta.npy"])))
    members["meta.npy"] = _npy(np.array(meta.replace('"step": 2', '"step": Infinity')))
    _refused(_write(tmp_path / "x.npz", members), "its metadata is damaged (Infinity is not a JSON number)")


def test_string_parameters_are_refused(good, tmp_path):
    members = _members(good) | {"param/readout.bias.npy": _npy(np.array(["abc"] * 4))}
    _refused(_write(tmp_path / "x.npz", members),
             "parameter readout.bias has dtype <U3; parameters are floating-point numbers")


def test_an_optimizer_array_that_fits_no_parameter_is_refused(good, tmp_path):
    members = _members(good) | {"optim/state.0.exp_avg.npy": _npy(np.zeros((1000, 1000)))}
    _refused(_write(tmp_path / "x.npz", members),
             "does not match the model its config describes; optimizer arrays that fit no parameter: "
             "state.0.exp_avg")


def test_a_folder_or_a_fifo_is_not_a_checkpoint(tmp_path, capsys):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    for path, what in ((tmp_path, "is a folder, not a checkpoint file"),
                       (fifo, "is a device, FIFO or socket, not a checkpoint file")):
        assert main(["sample", "--checkpoint", str(path)]) == 2
        assert capsys.readouterr().err == f"lstm sample: error: checkpoint {path}: {what}\n"


def test_sample_uses_the_vocabulary_stored_in_the_checkpoint(tmp_path, capsys, monkeypatch):
    text = tmp_path / "hello.txt"
    text.write_text("hello world\n" * 40)
    run = tmp_path / "run"
    assert main(["train", "--text", str(text), "--steps", "3", "--out", str(run), *TINY]) == 0
    text.write_text(text.read_text().upper())  # the training text changes after training, then goes
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    text.unlink()
    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(run / "checkpoint.npz"), "--length", "60"]) == 0
    out = capsys.readouterr().out
    assert set(out) <= set("helo wrd\n") and len(out) == 62


def test_sample_never_opens_a_path_named_in_the_checkpoint(good, tmp_path, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it would block forever
    path = _with_meta(good, tmp_path, lambda m: m | {"config": m["config"] | {"text": str(fifo)}})
    assert main(["sample", "--checkpoint", str(path), "--length", "5"]) == 0
    assert len(capsys.readouterr().out) == 7
