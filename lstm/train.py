"""Training by backpropagation through time.

One training step draws a batch from the task, runs the model forward over the sequence, and
backpropagates the loss to every parameter:

- full BPTT (``bptt=None``): one graph over the whole sequence, one backward;
- truncated BPTT (``bptt=k``): the sequence is cut into chunks of k steps; each chunk runs forward from the
  previous chunk's final state *detached* (so gradients stop at the chunk boundary), its loss is
  backpropagated at once (so only one chunk's graph is alive at a time), and the chunks' gradients add up
  into one update per batch.

Then the gradients are clipped by their global norm and the optimizer steps. Everything is seeded: the
weights and the batches come from one ``np.random.Generator``, whose state a checkpoint stores, so a run
stopped after N steps and resumed to M ends with the same parameters as a run of M steps.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

import minigrad as mg
from lstm import tasks as task_lib
from lstm.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from lstm.models import SequenceModel
from minigrad.files import atomic_write

# What must agree between a checkpoint and the run that loads it.
ARCHITECTURE = ("task", "hidden", "layers", "input_size", "output_size")


@dataclass
class TrainConfig:
    """Everything that defines a run (stored in checkpoints and metrics as JSON)."""

    task: str = "chars"
    text: str | None = None  # chars: a UTF-8 file instead of the shipped corpus
    hidden: int = 128
    layers: int = 1
    seq_len: int = 64  # chars: window length; adding: the minimum length T
    bptt: int | None = None  # truncate gradients every k steps (None: full BPTT)
    batch: int = 32
    steps: int = 1000
    lr: float = 3e-3
    optimizer: str = "adam"
    clip: float | None = 1.0
    seed: int = 0
    forget_bias: float = 1.0
    eval_every: int = 250
    checkpoint_every: int = 0  # 0: only at the end
    fused: bool = False  # run each LSTM step as one hand-derived op (faster, one node per step)
    task_options: dict = field(default_factory=dict)
    # filled in when the task is built
    input_size: int = 0
    output_size: int = 0
    vocab: str | None = None

    def __post_init__(self) -> None:
        for name in ("hidden", "layers", "seq_len", "batch"):
            if int(getattr(self, name)) <= 0:
                flag = name.replace("_", "-")
                raise ValueError(f"{flag} must be a positive integer, got {getattr(self, name)}")
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        if self.bptt is not None and self.bptt <= 0:
            raise ValueError(f"bptt must be a positive integer, got {self.bptt}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.clip is not None and self.clip <= 0:
            raise ValueError(f"clip must be positive (or None for no clipping), got {self.clip}")

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def build_task(config: TrainConfig):
    """The task a config names, with its options; records input/output sizes (and a vocabulary)."""
    options = dict(config.task_options)
    if config.task == "chars":
        options.setdefault("seq_len", config.seq_len)
        if config.text is not None:
            options.setdefault("path", config.text)
    elif config.task == "adding":
        options.setdefault("T", config.seq_len)
    task = task_lib.make_task(config.task, **options)
    config.input_size, config.output_size = task.input_size, task.output_size
    if config.task == "chars":
        config.vocab = "".join(task.vocab)
    return task


def build_model(config: TrainConfig, task, rng: np.random.Generator) -> SequenceModel:
    extra = {"fused": True} if config.fused else {}
    return SequenceModel(task.input_size, config.hidden, task.output_size, num_layers=config.layers,
                         per_step=task.target == "sequence", forget_bias=config.forget_bias, rng=rng,
                         **extra)


def build_optimizer(config: TrainConfig, model):
    if config.optimizer == "adam":
        return mg.optim.Adam(model.parameters(), lr=config.lr)
    return mg.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9)


def loss_fn(task, y, batch, t0: int = 0, t1: int | None = None):
    """The task's loss on model outputs ``y`` for the steps [t0, t1) of ``batch``.

    Returns ``(loss, weight)``: a scalar Tensor averaged over the targets it covers, and how many targets
    that is (so chunk losses can be combined into the batch mean).
    """
    if task.target == "last":
        if task.loss == "mse":
            return mg.functional.mse_loss(y, batch.y), len(batch.y)
        return mg.functional.cross_entropy(y, batch.y), len(batch.y)
    targets = batch.y[:, t0:t1]
    C = y.shape[-1]
    flat = y.reshape(-1, C)
    ids = targets.reshape(-1)
    if batch.mask is not None:
        keep = np.flatnonzero(batch.mask[:, t0:t1].reshape(-1))
        if keep.size == 0:
            return None, 0
        flat, ids = flat[keep], ids[keep]
    return mg.functional.cross_entropy(flat, ids), len(ids)


def train_step(model, task, batch, bptt: int | None = None) -> float:
    """Forward and backward over one batch; gradients are left in ``.grad``. Returns the mean loss."""
    T = batch.x.shape[1]
    k = bptt or T
    total = 0.0
    n_total = batch.mask.sum() if (task.target == "sequence" and batch.mask is not None) else None
    if n_total is None:
        n_total = batch.x.shape[0] * (T if task.target == "sequence" else 1)
    state = None
    for t0 in range(0, T, k):
        t1 = min(t0 + k, T)
        last_chunk = t1 == T
        x = batch.x[:, t0:t1]
        if task.target == "last" and not last_chunk:
            with mg.no_grad():  # no target in this chunk: run forward only, to carry the state
                _, state = model(x, state)
            continue
        y, state = model(x, state)
        loss, n = loss_fn(task, y, batch, t0, t1)
        if loss is not None:
            # weight each chunk by its share of the batch's targets, so the sum is the batch mean
            (loss * (n / n_total)).backward()
            total += loss.item() * n / n_total
        state = (state[0].detach(), state[1].detach())
    return total


def predictor(model):
    """``predict(x) -> ndarray`` for `Task.evaluate`: the model's outputs under ``no_grad``."""

    @mg.no_grad()
    def predict(x):
        return model(x)[0].data

    return predict


@dataclass
class TrainResult:
    config: TrainConfig
    model: SequenceModel
    task: object
    history: list = field(default_factory=list)  # [{"step", "loss"}]
    evals: list = field(default_factory=list)  # [{"step", **metrics}]
    seconds: float = 0.0

    def metrics(self) -> dict:
        last = self.evals[-1] if self.evals else {}
        recent = [h["loss"] for h in self.history[-50:]]
        return {
            "task": self.config.task,
            "steps": self.history[-1]["step"] if self.history else 0,
            "final_train_loss": float(np.mean(recent)) if recent else None,
            "eval_loss": last.get("loss"),
            **{k: v for k, v in last.items() if k not in ("step", "loss")},
            "sequences_seen": (self.history[-1]["step"] if self.history else 0) * self.config.batch,
            "train_seconds": round(self.seconds, 2),
            "seed": self.config.seed,
            "config": asdict(self.config),
            "history": self.history,
            "evals": self.evals,
        }


def _check_architecture(ckpt: Checkpoint, config: TrainConfig, path) -> None:
    diffs = [
        f"{k}={ckpt.config.get(k)!r} (this run: {getattr(config, k)!r})"
        for k in ARCHITECTURE
        if ckpt.config.get(k) != getattr(config, k)
    ]
    if diffs:
        raise CheckpointError(f"checkpoint {path} is from a different model: " + ", ".join(diffs))


def restore(model, optimizer, ckpt: Checkpoint) -> None:
    model.load_state_dict(ckpt.params)
    if optimizer is not None and ckpt.optimizer:
        optimizer.load_state_dict(ckpt.optimizer)


def train(config: TrainConfig, out_dir=None, checkpoint=None, resume: bool = False,
          progress: bool = True, on_eval=None) -> TrainResult:
    """Train a `SequenceModel` on ``config.task``; see the module docstring for the recipe.

    Args:
        out_dir: where ``metrics.json`` goes (and the checkpoint, unless ``checkpoint`` names one).
        checkpoint: path of the ``.npz`` checkpoint to write (and, with ``resume``, to read first).
        resume: continue from ``checkpoint`` if it exists: same parameters, optimizer state, step and
            random state, so the result equals an uninterrupted run.
        progress: show a progress bar (step, loss, steps/s).
        on_eval: called as ``on_eval(result, metrics)`` after each evaluation (e.g. to print samples);
            if it returns True, training stops there (early stopping), and the result, metrics and
            checkpoint are those of the step reached.
    """
    from tqdm.auto import tqdm

    if sys.platform == "emscripten":
        tqdm.monitor_interval = 0  # its monitor is a thread, and the browser (Pyodide) has none
    task = build_task(config)
    rng = np.random.default_rng(config.seed)
    model = build_model(config, task, rng)
    optimizer = build_optimizer(config, model)
    result = TrainResult(config, model, task)
    if checkpoint is None and out_dir is not None:
        checkpoint = Path(out_dir) / "checkpoint.npz"
    start = 0
    if resume and checkpoint is not None and Path(checkpoint).exists():
        ckpt = load_checkpoint(checkpoint)
        _check_architecture(ckpt, config, checkpoint)
        restore(model, optimizer, ckpt)
        rng.bit_generator.state = ckpt.rng_state
        start = ckpt.step
        result.history = list(ckpt.config.get("_history", []))
        result.evals = list(ckpt.config.get("_evals", []))

    def save(step: int) -> None:
        if checkpoint is None:
            return
        cfg = asdict(config) | {"_history": result.history, "_evals": result.evals}
        save_checkpoint(checkpoint, Checkpoint(model.state_dict(), optimizer.state_dict(), step,
                                               rng.bit_generator.state, cfg))

    def evaluate(step: int) -> tuple[dict, bool]:
        """The metrics, and whether ``on_eval`` asks to stop."""
        metrics = {"step": step, **task.evaluate(predictor(model))}
        result.evals.append(metrics)
        stop = bool(on_eval(result, metrics)) if on_eval is not None else False
        return metrics, stop

    params = model.parameters()
    t_start = time.perf_counter()
    bar = tqdm(range(start, config.steps), initial=start, total=config.steps, unit="step",
               disable=not progress, dynamic_ncols=True, desc=config.task)
    done = start
    for step in bar:
        batch = task.batch(config.batch, rng)
        optimizer.zero_grad()
        loss = train_step(model, task, batch, config.bptt)
        if config.clip is not None:
            mg.optim.clip_grad_norm(params, config.clip)
        optimizer.step()
        done = step + 1
        result.history.append({"step": done, "loss": loss})
        if done % 10 == 0 or done == config.steps:
            bar.set_postfix(loss=f"{loss:.4f}")
        stop = False
        if config.eval_every and done % config.eval_every == 0 and done < config.steps:
            metrics, stop = evaluate(done)
            bar.write(f"step {done}: " + format_metrics(metrics))
        if config.checkpoint_every and done % config.checkpoint_every == 0:
            save(done)
        if stop:
            break
    bar.close()
    result.seconds = time.perf_counter() - t_start
    if not result.evals or result.evals[-1]["step"] != done:
        evaluate(done)
    save(done)
    if out_dir is not None:
        write_metrics(result, Path(out_dir) / "metrics.json")
    return result


def format_metrics(metrics: dict) -> str:
    return ", ".join(
        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items() if k != "step"
    )


def write_metrics(result: TrainResult, path) -> Path:
    return atomic_write(path, json.dumps(result.metrics(), indent=2))
