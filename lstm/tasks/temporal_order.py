"""Temporal order: classify a long sequence by the order of two widely separated symbols."""

from __future__ import annotations

import numpy as np

from .base import Batch, LastStepTask, Predict, cross_entropy, float_dtype, one_hot, proper, softmax

SYMBOLS = "EBabcdXY"
CLASSES = "QRSU"  # XX, XY, YX, YY
CLASSES_3 = "QRSUVABC"  # XXX, XXY, XYX, XYY, YXX, YXY, YYX, YYY (experiment 6b)
E, B, X = SYMBOLS.index("E"), SYMBOLS.index("B"), SYMBOLS.index("X")
DISTRACTORS = [SYMBOLS.index(s) for s in "abcd"]


class TemporalOrder(LastStepTask):
    """Temporal order, two relevant symbols (Hochreiter & Schmidhuber 1997, experiment 6a).

    Inputs are one-hot over the 8 symbols E, B, a, b, c, d, X, Y (in that order). A sequence has
    length uniform in 100..110, starts with E, ends with B, and is otherwise random distractors
    from {a, b, c, d}, except at positions t1 (uniform in 10..20) and t2 (uniform in 50..60),
    counted from 1 with E at position 1, which hold X or Y. The class, decided at the last step,
    is Q for X..X, R for X..Y, S for Y..X and U for Y..Y (class ids 0..3).

    The paper's network has four outputs with target 1 for the class and 0 for the others, and a
    sequence counts as correct when every output's final absolute error is below 0.3. Here the
    model emits four logits instead; evaluate() turns them into probabilities with a softmax and
    applies the same criterion to the probabilities against the one-hot target. (That comes down
    to: correct when the probability of the true class is above 0.7.)

    evaluate() returns, over the 2560 test sequences: `loss` (mean cross-entropy, nats),
    `wrong` (the count failing the criterion), `error_rate` (wrong / 2560) and `accuracy` (the
    fraction whose largest logit is the true class). baseline() returns the same numbers for
    equal logits (chance: loss ln 4, every sequence wrong, accuracy the share of class Q).
    """

    name = "temporal_order"
    input_size = len(SYMBOLS)
    output_size = len(CLASSES)
    loss = "cross_entropy"
    headline = "error_rate"
    baseline_name = "chance: equal odds for the 4 classes"
    tolerance = 0.3
    n_test = 2560
    test_seed = 6
    lengths = (100, 110)
    positions = ((10, 20), (50, 60))  # where the relevant symbols may stand: t1, t2

    def __init__(self, *, dtype=np.float64):
        self.dtype = float_dtype(dtype)

    def _sequences(self, n: int, length: int, rng: np.random.Generator) -> Batch:
        """n sequences of one length: x (n, length, 8), y (n,) class ids."""
        rows = np.arange(n)
        symbols = rng.choice(DISTRACTORS, size=(n, length))
        symbols[:, 0] = E
        symbols[:, -1] = B
        # Positions are counted from 1 in the paper, so t is stored at index t - 1.
        ts = [rng.integers(low, high + 1, n) for low, high in self.positions]
        is_y = [rng.integers(0, 2, n) for _ in self.positions]
        y = np.zeros(n, dtype=np.intp)
        for t, choice in zip(ts, is_y):
            symbols[rows, t - 1] = X + choice
            y = 2 * y + choice  # the classes in order: X..X first, Y..Y last
        return Batch(one_hot(symbols, len(SYMBOLS), self.dtype), y, None)

    def evaluate(self, predict: Predict, batch_size: int = 256) -> dict:
        batches = self.test_batches(batch_size)
        logits = np.concatenate(self.outputs(predict, batches))
        y = np.concatenate([b.y for b in batches])
        error = np.abs(softmax(logits) - np.eye(self.output_size)[y])
        right = proper(logits) & (error < self.tolerance).all(axis=1)
        wrong = int(np.count_nonzero(~right))
        return {
            "loss": float(np.mean(cross_entropy(logits, y))),
            "wrong": wrong,
            "error_rate": wrong / y.size,
            "accuracy": float(np.mean(proper(logits) & (logits.argmax(axis=1) == y))),
        }

    def baseline(self) -> dict:
        """The scores of equal logits for every class."""
        return self.evaluate(lambda x: np.zeros((x.shape[0], self.output_size)))


class TemporalOrder3(TemporalOrder):
    """Temporal order, three relevant symbols (Hochreiter & Schmidhuber 1997, experiment 6b).

    As `TemporalOrder`, with X or Y at three positions, t1 in 10..20, t2 in 33..43 and t3 in 66..76,
    and 8 classes, one per order: Q for X, X, X, R for X, X, Y, S for X, Y, X, U for X, Y, Y, V for
    Y, X, X, A for Y, X, Y, B for Y, Y, X and C for Y, Y, Y (class ids 0..7)."""

    name = "temporal_order_3"
    output_size = len(CLASSES_3)
    baseline_name = "chance: equal odds for the 8 classes"
    test_seed = 16
    positions = ((10, 20), (33, 43), (66, 76))
