"""The adding problem: remember two marked numbers across a long sequence and output their sum."""

from __future__ import annotations

import numpy as np

from .base import Batch, LastStepTask, Predict, float_dtype


class AddingProblem(LastStepTask):
    """Adding problem (Hochreiter & Schmidhuber 1997, experiment 4).

    variant="paper", the paper's definition. Each step is a pair (value, marker):
    - value uniform in [-1, 1]; the sequence length is uniform in [T, T + T//10];
    - exactly two pairs have marker 1: X1, one of the first 10 pairs, and X2, one of the first
      T//2 - 1 pairs still unmarked after X1 was chosen (so X2 lies in the first T//2 pairs);
    - the first and the last pair have marker -1 unless marked, every other pair marker 0;
    - "in the rare case where the first pair gets marked, X1 is set to zero": here the value of a
      marked first pair is 0 in the input (whichever of X1, X2 marks it), so the target is always
      the sum of the values the markers point at;
    - target at the last step only: 0.5 + (X1 + X2) / 4, which lies in [0, 1].

    variant="modern", the form common in later papers (not the 1997 one): fixed length T, value
    uniform in [0, 1], markers 0 except 1 at two distinct positions anywhere in the sequence,
    target X1 + X2. Always answering the mean, 1, gives an MSE of 1/6.

    Metric, the paper's criterion: a sequence is wrong when the absolute error of the output at
    its last step is >= 0.04. evaluate() returns, over the 2560 test sequences,
    `wrong` (the count), `error_rate` (wrong / 2560), `mse` and `loss` (both the mean squared
    error). baseline() returns the same numbers for always answering the mean target.
    """

    name = "adding"
    input_size = 2
    output_size = 1
    loss = "mse"
    headline = "error_rate"
    baseline_name = "always answering the mean target"
    tolerance = 0.04
    n_test = 2560
    test_seed = 4

    def __init__(self, T: int = 100, variant: str = "paper", *, dtype=np.float64):
        if variant not in ("paper", "modern"):
            raise ValueError(f"variant must be 'paper' or 'modern', got {variant!r}")
        # The paper's X1 (first 10 pairs) must fit inside X2's range (first T//2 - 1 pairs).
        smallest = 22 if variant == "paper" else 2
        if not isinstance(T, (int, np.integer)) or smallest > T:
            raise ValueError(f"AddingProblem(variant={variant!r}) needs T >= {smallest}, got {T!r}")
        self.T = int(T)
        self.variant = variant
        self.dtype = float_dtype(dtype)
        self.lengths = (self.T, self.T + self.T // 10) if variant == "paper" else (self.T, self.T)
        self.mean_target = 0.5 if variant == "paper" else 1.0

    def _sequences(self, n: int, length: int, rng: np.random.Generator) -> Batch:
        """n sequences of the given length: x (n, length, 2), y (n, 1)."""
        rows = np.arange(n)
        if self.variant == "paper":
            values = rng.uniform(-1.0, 1.0, (n, length))
            first = rng.integers(0, 10, n)
            k = rng.integers(0, self.T // 2 - 1, n)
        else:
            values = rng.uniform(0.0, 1.0, (n, length))
            first = rng.integers(0, length, n)
            k = rng.integers(0, length - 1, n)
        # The k-th position that is still unmarked: skip over `first`.
        second = k + (k >= first)
        markers = np.zeros((n, length))
        if self.variant == "paper":
            markers[:, [0, -1]] = -1.0
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        if self.variant == "paper":
            values[markers[:, 0] == 1.0, 0] = 0.0
        total = values[rows, first] + values[rows, second]
        y = 0.5 + total / 4 if self.variant == "paper" else total
        x = np.stack([values, markers], axis=-1)
        return Batch(x.astype(self.dtype), y[:, None].astype(self.dtype), None)

    def evaluate(self, predict: Predict, batch_size: int = 256) -> dict:
        batches = self.test_batches(batch_size)
        outputs = self.outputs(predict, batches)
        error = np.concatenate([(out - b.y)[:, 0] for out, b in zip(outputs, batches, strict=True)])
        # "not within tolerance" rather than "beyond it": a NaN is never within, and so is wrong
        wrong = int(np.count_nonzero(~(np.abs(error) < self.tolerance)))
        mse = float(np.mean(error**2))
        return {"loss": mse, "mse": mse, "wrong": wrong, "error_rate": wrong / error.size}

    def baseline(self) -> dict:
        """The scores of always answering the mean target (0.5 for "paper", 1 for "modern")."""
        return self.evaluate(lambda x: np.full((x.shape[0], 1), self.mean_target))
