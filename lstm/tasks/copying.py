"""The copy task: read a few symbols, wait, then write them back in order."""

from __future__ import annotations

import numpy as np

from .base import (
    Batch,
    Predict,
    Task,
    check_batch_args,
    check_batch_size,
    cross_entropy,
    float_dtype,
    one_hot,
    proper,
)


class CopyTask(Task):
    """Copy task: reproduce a short random sequence after a delay.

    With n = n_symbols, input ids 0..n-1 are the symbols, n is the blank and n + 1 the go marker,
    all one-hot (input_size n + 2). A sequence has 2 * length + delay + 1 steps:

        input:   s1 .. s_length | delay blanks | go | length blanks
        target:  -               | -            | -  | s1 .. s_length

    The symbols are uniform over 0..n-1. Targets exist only at the last `length` steps, which
    the mask marks; the model emits n logits per step (output_size n).

    evaluate() returns, over 1024 test sequences: `loss` (mean cross-entropy per output step,
    nats), `accuracy` (the fraction of output steps whose largest logit is the right symbol) and
    `sequence_accuracy` (the fraction of sequences with every output step right). baseline()
    returns the same numbers for equal logits (loss ln n, about 1/n of steps right).
    """

    name = "copy"
    target = "sequence"
    loss = "cross_entropy"
    headline = "accuracy"
    higher_is_better = True
    baseline_name = "chance: equal odds for every symbol"
    n_test = 1024
    test_seed = 7

    def __init__(self, length: int = 5, delay: int = 10, n_symbols: int = 8, *, dtype=np.float64):
        if length < 1 or delay < 0 or n_symbols < 2:
            raise ValueError(
                f"CopyTask needs length >= 1, delay >= 0 and n_symbols >= 2; got length={length}, "
                f"delay={delay}, n_symbols={n_symbols}"
            )
        self.length, self.delay, self.n_symbols = length, delay, n_symbols
        self.blank, self.go = n_symbols, n_symbols + 1
        self.input_size = n_symbols + 2
        self.output_size = n_symbols
        self.steps = 2 * length + delay + 1
        self.dtype = float_dtype(dtype)

    def batch(self, batch_size: int, rng: np.random.Generator) -> Batch:
        check_batch_args(batch_size, rng)
        return self._sequences(batch_size, rng)

    def _sequences(self, n: int, rng: np.random.Generator) -> Batch:
        symbols = rng.integers(0, self.n_symbols, (n, self.length))
        inputs = np.full((n, self.steps), self.blank)
        inputs[:, : self.length] = symbols
        inputs[:, self.length + self.delay] = self.go
        y = np.zeros((n, self.steps), dtype=np.intp)
        y[:, -self.length :] = symbols
        mask = np.zeros((n, self.steps), dtype=bool)
        mask[:, -self.length :] = True
        return Batch(one_hot(inputs, self.input_size, self.dtype), y, mask)

    def test_batches(self, batch_size: int = 256) -> list[Batch]:
        """The 1024 test sequences, drawn from the task's seed, batch_size at a time."""
        check_batch_size(batch_size)
        test = self._sequences(self.n_test, np.random.default_rng(self.test_seed))
        return [
            Batch(*(part[i : i + batch_size] for part in test))
            for i in range(0, self.n_test, batch_size)
        ]

    def evaluate(self, predict: Predict, batch_size: int = 256) -> dict:
        batches = self.test_batches(batch_size)
        logits = np.concatenate(self.outputs(predict, batches))
        y = np.concatenate([b.y for b in batches])
        mask = np.concatenate([b.mask for b in batches])
        right = proper(logits) & (logits.argmax(axis=-1) == y)
        return {
            "loss": float(np.mean(cross_entropy(logits, y)[mask])),
            "accuracy": float(np.mean(right[mask])),
            "sequence_accuracy": float(np.mean((right | ~mask).all(axis=1))),
        }

    def baseline(self) -> dict:
        """The scores of equal logits for every symbol."""
        return self.evaluate(lambda x: np.zeros(x.shape[:2] + (self.n_symbols,)))
