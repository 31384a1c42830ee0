"""Training: short seeded runs of every task, truncated BPTT, and exact resume from a checkpoint."""

import json

import numpy as np
import pytest

import minigrad as mg
from lstm.checkpoint import CheckpointError, load_checkpoint
from lstm.train import TrainConfig, build_model, build_task, loss_fn, train, train_step

SMALL = {"hidden": 8, "batch": 8, "eval_every": 0, "lr": 1e-2}
TASK_SETTINGS = {
    "adding": {"seq_len": 22, "steps": 40},
    "temporal_order": {"steps": 6},
    "reber": {"steps": 30},
    "copy": {"steps": 30},
    "chars": {"seq_len": 16, "steps": 30},
}


@pytest.mark.parametrize("task", sorted(TASK_SETTINGS))
def test_a_short_run_lowers_the_loss_and_reports_the_task_metrics(task, tmp_path):
    config = TrainConfig(task=task, **SMALL, **TASK_SETTINGS[task])
    result = train(config, out_dir=tmp_path, progress=False)
    losses = [h["loss"] for h in result.history]
    assert len(losses) == config.steps
    assert all(np.isfinite(losses))
    k = max(2, len(losses) // 4)
    assert np.mean(losses[-k:]) < np.mean(losses[:k]), losses
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("task", "steps", "final_train_loss", "eval_loss", "seed", "history"):
        assert key in metrics
    assert metrics["task"] == task and metrics["steps"] == config.steps
    assert np.isfinite(metrics["eval_loss"]) and metrics["eval_loss"] > 0
    expected = {
        "adding": ("error_rate", "wrong", "mse"),
        "temporal_order": ("error_rate", "wrong", "accuracy"),
        "reber": ("fraction_correct", "symbol_accuracy"),
        "copy": ("accuracy", "sequence_accuracy"),
        "chars": ("bits_per_char", "unigram_bits_per_char"),
    }[task]
    for key in expected:
        assert key in metrics, key
    rates = [metrics[k] for k in expected if k in ("error_rate", "accuracy", "fraction_correct")]
    assert all(0.0 <= r <= 1.0 for r in rates)


def test_the_chunk_losses_of_truncated_bptt_add_up_to_the_full_loss():
    """Truncation changes the gradients, never the loss: the chunks' weighted losses sum to the batch mean."""
    config = TrainConfig(task="chars", hidden=6, seq_len=12, batch=3)
    task = build_task(config)
    batch = task.batch(3, np.random.default_rng(1))
    model = build_model(config, task, np.random.default_rng(0))
    full = train_step(model, task, batch, bptt=None)
    model.zero_grad()
    chunked = train_step(model, task, batch, bptt=5)
    with mg.no_grad():
        y, _ = model(batch.x)
        loss, _ = loss_fn(task, y, batch)
    assert full == pytest.approx(loss.item(), rel=1e-12)
    assert chunked == pytest.approx(full, rel=1e-12)


def test_truncated_bptt_stops_gradients_at_the_chunk_boundary():
    config = TrainConfig(task="chars", hidden=6, seq_len=12, batch=2)
    task = build_task(config)
    batch = task.batch(2, np.random.default_rng(2))
    def grads(bptt):
        model = build_model(config, task, np.random.default_rng(0))
        train_step(model, task, batch, bptt=bptt)
        return {k: p.grad.data.copy() for k, p in model.named_parameters()}

    full, truncated = grads(None), grads(4)
    # the readout sees every step either way, so its gradient is identical; the recurrent weight's is not
    np.testing.assert_allclose(truncated["readout.weight"], full["readout.weight"], rtol=1e-12)
    assert not np.allclose(truncated["lstm.weight_hh_l0"], full["lstm.weight_hh_l0"], rtol=1e-6)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_resuming_gives_the_same_parameters_as_one_uninterrupted_run(optimizer, tmp_path):
    base = {"task": "adding", "seq_len": 22, "hidden": 6, "batch": 4, "eval_every": 0,
            "optimizer": optimizer, "lr": 1e-2, "seed": 5}
    straight = train(TrainConfig(steps=12, **base), checkpoint=tmp_path / "a.npz", progress=False)
    train(TrainConfig(steps=5, **base), checkpoint=tmp_path / "b.npz", progress=False)
    assert load_checkpoint(tmp_path / "b.npz").step == 5
    resumed = train(TrainConfig(steps=12, **base), checkpoint=tmp_path / "b.npz", resume=True,
                    progress=False)
    for (name, p), (_, q) in zip(straight.model.named_parameters(), resumed.model.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in straight.history]
    assert load_checkpoint(tmp_path / "b.npz").step == 12


def test_a_checkpoint_of_another_architecture_is_refused(tmp_path):
    base = {"task": "adding", "seq_len": 22, "batch": 4, "eval_every": 0, "steps": 2}
    train(TrainConfig(hidden=6, **base), checkpoint=tmp_path / "c.npz", progress=False)
    with pytest.raises(CheckpointError, match=r"from a different model: hidden=6 \(this run: 8\)"):
        train(TrainConfig(hidden=8, **{**base, "steps": 4}), checkpoint=tmp_path / "c.npz", resume=True,
              progress=False)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("hidden", 0, "hidden must be a positive integer, got 0"),
        ("batch", -3, "batch must be a positive integer, got -3"),
        ("seq_len", -1, "seq-len must be a positive integer, got -1"),
        ("bptt", 0, "bptt must be a positive integer, got 0"),
        ("lr", -1.0, "lr must be a positive finite number, got -1.0"),
        ("optimizer", "rmsprop", "optimizer must be 'adam' or 'sgd', got 'rmsprop'"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{field: value})
