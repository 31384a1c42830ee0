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
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

import minigrad as mg
from lstm import allocator
from lstm import tasks as task_lib
from lstm.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from lstm.models import SequenceModel
from minigrad.errors import MinigradError
from minigrad.files import atomic_write

# What must agree between a checkpoint and the run that loads it.
ARCHITECTURE = ("task", "hidden", "layers", "input_size", "output_size")
# What only shaped the start of a run (the first weights, the optimizer's kind, the data): a resumed run
# cannot apply a change to them. Every other option that differs is applied from the resuming run.
FIXED_AT_START = ("seed", "forget_bias", "optimizer", "task_options", "vocab")


class MemoryLimitError(MinigradError, MemoryError):
    """A configuration that would need more memory than the machine has available."""


class TrainingError(MinigradError, RuntimeError):
    """Training cannot go on (the loss or the gradients stopped being finite numbers); what was reached
    has been saved."""


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
        if not 0 < self.lr < math.inf:
            raise ValueError(f"lr must be a positive finite number, got {self.lr}")
        if not math.isfinite(self.forget_bias):
            raise ValueError(f"forget-bias must be a finite number, got {self.forget_bias}")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.clip is not None and not 0 < self.clip < math.inf:
            raise ValueError(f"clip must be a positive finite number (or None: no clipping), got {self.clip}")

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
    """The model of ``config`` for ``task`` (or, with ``task=None``, for the task ``config`` names, with
    the sizes ``config`` records, e.g. from a checkpoint)."""
    extra = {"fused": True} if config.fused else {}
    target = task.target if task is not None else task_lib.TASKS[config.task].target
    return SequenceModel(config.input_size, config.hidden, config.output_size, num_layers=config.layers,
                         per_step=target == "sequence", forget_bias=config.forget_bias, rng=rng, **extra)


def parameter_shapes(config: dict) -> dict[str, tuple]:
    """The {name: shape} of the parameters of the model a stored config describes, computed without
    building it (a checkpoint's config is checked against its arrays before anything is allocated).
    A ValueError says which entry of the config is unusable."""
    if config.get("task") not in task_lib.TASKS:
        raise ValueError(f"unknown task {config.get('task')!r}")
    size = {}
    for key in ("hidden", "layers", "input_size", "output_size"):
        value = config.get(key)
        if type(value) is not int or not 0 < value <= 2**31:
            raise ValueError(f"{key} must be a whole number from 1 to 2**31, got {json.dumps(value)}")
        size[key] = value
    vocab = config.get("vocab")
    if config["task"] == "chars" and not (isinstance(vocab, str) and len(set(vocab)) == len(vocab)
                                          == size["input_size"] == size["output_size"]):
        raise ValueError("a chars model stores its vocabulary: input_size distinct characters")
    H, gates = size["hidden"], 4 * size["hidden"]
    shapes = {}
    for layer in range(size["layers"]):
        inputs = size["input_size"] if layer == 0 else H
        shapes |= {f"lstm.weight_ih_l{layer}": (gates, inputs), f"lstm.weight_hh_l{layer}": (gates, H),
                   f"lstm.bias_ih_l{layer}": (gates,), f"lstm.bias_hh_l{layer}": (gates,)}
    return shapes | {"readout.weight": (size["output_size"], H), "readout.bias": (size["output_size"],)}


def memory_needed(config: TrainConfig, task) -> int:
    """About how many bytes training ``config`` on ``task`` needs at its peak (measured on the character
    model within about 15 %; see the README).

    Per sequence and time step, the graph keeps about 24 numbers per hidden unit and layer (the gates,
    the states and what their ops save) and 13 per input or output unit (the one-hot input, the logits,
    the softmax); the parameters come four times (values, gradients and Adam's two moments); evaluation
    runs batches of 256 sequences without a graph.
    """
    H, L, B, T = config.hidden, config.layers, config.batch, _longest_sequence(task)
    V = max(task.input_size, task.output_size)
    P = sum(math.prod(s) for s in parameter_shapes(asdict(config)).values())
    train_bytes = 8 * (4 * P + B * T * (24 * H * L + 13 * V))
    eval_bytes = 8 * (P + 256 * T * (3 * V + 2 * H * L))
    return max(train_bytes, eval_bytes) + 64 * 2**20


def _longest_sequence(task) -> int:
    """The most time steps a training batch of ``task`` has."""
    steps = task.batch(1, np.random.default_rng(0)).x.shape[1]
    return max(steps, getattr(task, "lengths", (steps, steps))[1])


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux: MemAvailable; elsewhere the free physical
    pages where the system reports them; None if it cannot be told)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(config: TrainConfig, task) -> None:
    """Refuse, with the estimate, a configuration that will not fit in the memory available."""
    need, have = memory_needed(config, task), available_memory()
    if have is not None and need > have:
        raise MemoryLimitError(
            f"hidden {config.hidden} x {config.layers} layer(s), batch {config.batch} and sequences of up to "
            f"{_longest_sequence(task)} steps would need about "
            f"{need / 2**30:.3g} GiB of memory, and {have / 2**30:.3g} GiB is available; choose a smaller "
            "--hidden, --batch, --seq-len or --layers")


def load_run_checkpoint(path) -> tuple[Checkpoint, TrainConfig]:
    """A checkpoint of `train`, checked against the model its config describes, and that config."""
    ckpt = load_checkpoint(path, expect=parameter_shapes)
    try:
        config = TrainConfig.from_dict(ckpt.config)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path}: its config is not usable ({e})") from None
    return ckpt, config


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
    resumes: list = field(default_factory=list)  # [{"step", "changed": {option: [before, after]}}]
    seconds: float = 0.0
    baseline: dict = field(default_factory=dict)  # task.baseline(): the metrics a trivial predictor gets

    def beat_baseline(self) -> bool | None:
        """Whether the last evaluation beat the trivial predictor on the task's headline metric."""
        if not self.evals or not self.baseline:
            return None
        return self.task.beats(self.evals[-1], self.baseline)
    faults: list = field(default_factory=list)  # minor page faults of each training step of this run

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
            # the median after the first 10 steps, in which the heap grows to the step's size
            "page_faults_per_step": float(np.median(self.faults[10:])) if len(self.faults) > 10 else None,
            "seed": self.config.seed,
            "baseline": {"predictor": self.task.baseline_name, **self.baseline},
            "beat_baseline": self.beat_baseline(),
            "config": asdict(self.config),
            "history": self.history,
            "evals": self.evals,
            "resumes": self.resumes,
        }


def _resume_changes(ckpt: Checkpoint, config: TrainConfig, path) -> dict:
    """The options of this run that differ from the checkpoint's, {name: [checkpoint's, this run's]},
    all of which the resumed run applies; refuses a different model or a change to `FIXED_AT_START`."""
    changed = {f.name: [ckpt.config.get(f.name), getattr(config, f.name)] for f in fields(TrainConfig)
               if ckpt.config.get(f.name) != getattr(config, f.name)}
    diffs = [f"{k}={old!r} (this run: {new!r})" for k, (old, new) in changed.items() if k in ARCHITECTURE]
    if diffs:
        raise CheckpointError(f"checkpoint {path} is from a different model: " + ", ".join(diffs))
    diffs = [f"{k}={old!r} (this run: {new!r})" for k, (old, new) in changed.items() if k in FIXED_AT_START]
    if diffs:
        raise CheckpointError(f"checkpoint {path} cannot be resumed with these options changed, which only "
                              "shaped the start of its run: " + ", ".join(diffs))
    return changed


def restore(model, optimizer, ckpt: Checkpoint, lr: float | None = None) -> None:
    """Load the parameters and the optimizer's state; ``lr``, if given, replaces the stored one."""
    model.load_state_dict(ckpt.params)
    if optimizer is not None and ckpt.optimizer:
        optimizer.load_state_dict(ckpt.optimizer)
    if optimizer is not None and lr is not None:
        for group in optimizer.param_groups:
            group["lr"] = lr


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

    allocator.keep_freed_memory()  # no page-faulting the graph's memory back in every step
    if sys.platform == "emscripten":
        tqdm.monitor_interval = 0  # its monitor is a thread, and the browser (Pyodide) has none
    task = build_task(config)
    check_memory(config, task)
    rng = np.random.default_rng(config.seed)
    model = build_model(config, task, rng)
    optimizer = build_optimizer(config, model)
    result = TrainResult(config, model, task, baseline=task.baseline())
    if checkpoint is None and out_dir is not None:
        checkpoint = Path(out_dir) / "checkpoint.npz"
    start = 0
    if resume and checkpoint is not None and Path(checkpoint).exists():
        ckpt, _ = load_run_checkpoint(checkpoint)
        changes = _resume_changes(ckpt, config, checkpoint)
        restore(model, optimizer, ckpt, lr=config.lr)
        rng.bit_generator.state = ckpt.rng_state
        start = ckpt.step
        result.history = list(ckpt.config.get("_history", []))
        result.evals = list(ckpt.config.get("_evals", []))
        result.resumes = list(ckpt.config.get("_resumes", []))
        if changes:
            result.resumes.append({"step": start, "changed": changes})

    def save(step: int, rng_state: dict) -> None:
        if checkpoint is None:
            return
        cfg = asdict(config) | {"_history": result.history, "_evals": result.evals,
                                "_resumes": result.resumes}
        save_checkpoint(checkpoint, Checkpoint(model.state_dict(), optimizer.state_dict(), step,
                                               rng_state, json_safe(cfg)))

    def save_reached() -> None:
        """What a run that cannot go on has reached: the checkpoint, then the metrics."""
        result.seconds = time.perf_counter() - t_start
        save(done, rng_before)
        if out_dir is not None:
            write_metrics(result, Path(out_dir) / "metrics.json")

    def diverged(step: int, what: str, batch) -> None:
        """Save what was reached, then stop, naming the first op that made a NaN or an inf (found by
        running the step again, from the same parameters and batch, under `mg.detect_anomaly()`)."""
        culprit = ""
        optimizer.zero_grad()
        try:
            with mg.detect_anomaly():
                train_step(model, task, batch, config.bptt)
        except mg.AnomalyError as e:
            culprit = f"; the first op to make one: {e}"
        save_reached()
        where = f"; saved the state after step {done} to {checkpoint}" if checkpoint is not None else ""
        raise TrainingError(f"training stopped at step {step}: {what}{culprit}{where}")

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
    rng_before = rng.bit_generator.state
    try:
        for step in bar:
            rng_before = rng.bit_generator.state  # a save after a failed step can resume exactly
            batch = task.batch(config.batch, rng)
            faults = allocator.minor_faults()
            optimizer.zero_grad()
            loss = train_step(model, task, batch, config.bptt)
            if not math.isfinite(loss):
                diverged(step + 1, f"the loss is {loss}", batch)
            if config.clip is not None and not _clip(params, config.clip):
                diverged(step + 1, "a gradient holds NaN or inf", batch)
            optimizer.step()
            done = step + 1
            rng_before = rng.bit_generator.state
            result.history.append({"step": done, "loss": loss})
            if faults is not None:
                result.faults.append(allocator.minor_faults() - faults)
            if done % 10 == 0 or done == config.steps:
                bar.set_postfix(loss=f"{loss:.4f}")
            stop = False
            if config.eval_every and done % config.eval_every == 0 and done < config.steps:
                metrics, stop = evaluate(done)
                bar.write(f"step {done}: " + format_metrics(metrics, result.baseline))
            if config.checkpoint_every and done % config.checkpoint_every == 0:
                save(done, rng_before)
            if stop:
                break
    except TrainingError:
        raise
    except BaseException as e:  # an interruption, a full disk, a bug: keep what was reached first
        bar.close()
        try:
            save_reached()
        except Exception as again:
            e.add_note(f"and saving what was reached failed too: {again}")
        raise
    bar.close()
    result.seconds = time.perf_counter() - t_start
    if not result.evals or result.evals[-1]["step"] != done:
        evaluate(done)
    save(done, rng_before)
    if out_dir is not None:
        write_metrics(result, Path(out_dir) / "metrics.json")
    return result


def _clip(params, max_norm: float) -> bool:
    """Clip the gradients' global norm to ``max_norm``; False if a gradient holds NaN or inf.

    `clip_grad_norm` leaves the gradients alone when their norm is not finite. That happens to finite
    gradients too, when the sum of their squares overflows (gradients of 1e200): those are scaled down by
    their largest magnitude first, which leaves their direction, and then clipped.
    """
    if math.isfinite(mg.optim.clip_grad_norm(params, max_norm)):
        return True
    grads = [p.grad.data for p in params if p.grad is not None]
    biggest = max((float(np.max(np.abs(g), initial=0.0)) for g in grads), default=0.0)
    if not math.isfinite(biggest):
        return False
    for g in grads:
        g /= biggest
    mg.optim.clip_grad_norm(params, max_norm)
    return True


def json_safe(value):
    """``value`` with every NaN or inf float replaced by None, so it can be written as strict JSON."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def format_metrics(metrics: dict, baseline: dict | None = None) -> str:
    """``"loss 0.01, error_rate 0.07"``; with ``baseline``, each metric it has (``eval_loss`` as ``loss``)
    is followed by the baseline's value: ``"error_rate 0.07 (baseline 0.84)"``."""
    baseline = baseline or {}

    def number(v) -> str:
        return f"{v:.4g}" if isinstance(v, float) else f"{v}"

    parts = []
    for k, v in metrics.items():
        if k == "step" or (baseline and k.startswith("unigram_")):  # the chars baseline is the unigram
            continue
        base = baseline.get(k.removeprefix("eval_"))
        parts.append(f"{k} {number(v)}" + (f" (baseline {number(base)})" if base is not None else ""))
    return ", ".join(parts)


def write_metrics(result: TrainResult, path) -> Path:
    """``metrics.json``: strict JSON, in which a NaN or inf metric (a diverged model's) is null."""
    return atomic_write(path, json.dumps(json_safe(result.metrics()), indent=2, allow_nan=False))
