"""What every task shares: the `Batch` it yields, the `Task` interface, and the loss helpers.

A task is a small object that knows its data and how to score a model on it:

    task.batch(batch_size, rng)   -> Batch   training data drawn from a numpy Generator
    task.test_batches(batch_size) -> [Batch] the fixed test set, the same on every call
    task.evaluate(predict)        -> dict    the task's loss and metrics on the test set
    task.baseline()               -> dict    the same numbers for a trivial predictor
    task.beats(metrics, baseline) -> bool    whether the headline metric is better than the baseline's
    task.describe()               -> str     what the task is and what each metric means

`predict(x)` takes a batch's (B, T, I) inputs and returns the model's raw outputs: (B, O) for a
"last" task, (B, T, O) for a "sequence" task; for a cross-entropy task these are logits.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

Predict = Callable[[np.ndarray], np.ndarray]


class Batch(NamedTuple):
    """A batch of B sequences of T steps.

    x: (B, T, I) floats.
    y: (B, O) floats for an mse "last" task, (B,) class ids for a cross-entropy "last" task,
       (B, T) class ids for a "sequence" task.
    mask: (B, T) bool, True at the steps of a "sequence" task that carry a target; None when every
       step does.
    """

    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray | None = None


class Task:
    """The interface of every task; subclasses set the attributes and write the methods."""

    name: str
    input_size: int
    output_size: int
    target: str  # "last": one target at the final step; "sequence": a target at every step
    loss: str  # "mse" or "cross_entropy"
    dtype: np.dtype
    headline: str  # the metric of evaluate() that says best whether a model learned the task
    higher_is_better: bool = False  # of the headline metric
    baseline_name: str  # what the trivial predictor of baseline() does, in a few words

    def batch(self, batch_size: int, rng: np.random.Generator) -> Batch:
        raise NotImplementedError

    def test_batches(self, batch_size: int = 256) -> list[Batch]:
        raise NotImplementedError

    def evaluate(self, predict: Predict, batch_size: int = 256) -> dict:
        raise NotImplementedError

    def baseline(self) -> dict:
        raise NotImplementedError

    def beats(self, metrics: dict, baseline: dict) -> bool:
        """Whether ``metrics`` (from evaluate) are strictly better than ``baseline`` on the headline."""
        ours, theirs = metrics[self.headline], baseline[self.headline]
        return ours > theirs if self.higher_is_better else ours < theirs

    def describe(self) -> str:
        """The class docstring: the task's definition and the exact meaning of its metrics."""
        return inspect.cleandoc(type(self).__doc__ or "")

    def outputs(self, predict: Predict, batches: list[Batch]) -> list[np.ndarray]:
        """`predict(batch.x)` for every batch, checked against the shape this task expects."""
        results = []
        for batch in batches:
            B, T, _ = batch.x.shape
            expected = (B, self.output_size) if self.target == "last" else (B, T, self.output_size)
            out = np.asarray(predict(batch.x), dtype=np.float64)
            if out.shape != expected:
                raise ValueError(
                    f"{self.name}: predict returned shape {out.shape} for x of shape "
                    f"{batch.x.shape}; expected {expected}"
                )
            results.append(out)
        return results

    def __repr__(self) -> str:
        return f"<task {self.name}: {self.describe().splitlines()[0]}>"


class LastStepTask(Task):
    """A "last" task whose sequences have a length drawn uniformly from `lengths` (inclusive).

    A training batch draws one length, so every sequence in it ends at the last column. The test
    set draws `n_test` sequences one at a time from `test_seed`, each with its own length, exactly
    as the task defines them, and then groups them by length into batches.
    Subclasses write `_sequences(n, length, rng) -> Batch`.
    """

    target = "last"
    lengths: tuple[int, int]
    n_test: int
    test_seed: int

    def _sequences(self, n: int, length: int, rng: np.random.Generator) -> Batch:
        raise NotImplementedError

    def batch(self, batch_size: int, rng: np.random.Generator) -> Batch:
        check_batch_args(batch_size, rng)
        length = int(rng.integers(self.lengths[0], self.lengths[1] + 1))
        return self._sequences(batch_size, length, rng)

    def test_batches(self, batch_size: int = 256) -> list[Batch]:
        check_batch_size(batch_size)
        rng = np.random.default_rng(self.test_seed)
        singles = []
        for _ in range(self.n_test):
            length = int(rng.integers(self.lengths[0], self.lengths[1] + 1))
            singles.append(self._sequences(1, length, rng))
        return group_by_length(singles, batch_size)


def float_dtype(dtype) -> np.dtype:
    """`dtype` as a NumPy floating dtype; anything else is refused."""
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"tasks produce floating inputs; dtype {dtype} is not a floating type")
    return dtype


def check_batch_args(batch_size: int, rng: np.random.Generator) -> None:
    """Refuse a non-positive batch size or a seed passed where a Generator belongs."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator such as np.random.default_rng(0), "
            f"not {type(rng).__name__}"
        )
    check_batch_size(batch_size)


def check_batch_size(batch_size: int) -> None:
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")


def one_hot(ids: np.ndarray, n: int, dtype) -> np.ndarray:
    """ids of any shape -> ids.shape + (n,), with a 1 at each id."""
    return np.eye(n, dtype=dtype)[ids]


def proper(logits: np.ndarray) -> np.ndarray:
    """True where logits (the last axis) define a distribution: no NaN, no +inf, and at least one
    entry above -inf (a -inf logit is a probability of 0, which a prediction may well say). Any other
    prediction is wrong, whatever a comparison with it says (every comparison with NaN is False)."""
    return ~np.isnan(logits).any(axis=-1) & (logits < np.inf).all(axis=-1) & (logits > -np.inf).any(axis=-1)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log softmax over the last axis; subtracting the max first keeps exp from overflowing."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(logits))


def cross_entropy(logits: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """-log softmax(logits)[id] in nats, for logits (..., C) and ids (...)."""
    return -np.take_along_axis(log_softmax(logits), ids[..., None], axis=-1)[..., 0]


def group_by_length(sequences: list[Batch], batch_size: int) -> list[Batch]:
    """Single-sequence batches -> batches of at most `batch_size` sequences of one length each.

    Lengths come out in increasing order, and sequences of one length in the order given.
    """
    by_length = defaultdict(list)
    for seq in sequences:
        by_length[seq.x.shape[1]].append(seq)
    batches = []
    for length in sorted(by_length):
        group = by_length[length]
        for start in range(0, len(group), batch_size):
            chunk = group[start : start + batch_size]
            batches.append(
                Batch(
                    np.concatenate([s.x for s in chunk]),
                    np.concatenate([s.y for s in chunk]),
                    None,
                )
            )
    return batches
