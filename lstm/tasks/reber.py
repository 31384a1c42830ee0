"""The embedded Reber grammar: predict the next symbol, which needs a memory of the second one."""

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

SYMBOLS = "BTPSXVE"

# Reber's grammar. A state maps each symbol that may follow to the state it leads to; a string
# is a walk from "start" to "end" taking each way out of a state with equal probability.
REBER = {
    "start": {"B": 1},
    1: {"T": 2, "P": 3},
    2: {"S": 2, "X": 4},
    3: {"T": 3, "V": 5},
    4: {"X": 3, "S": 6},
    5: {"P": 4, "V": 6},
    6: {"E": "end"},
    "end": {},
}


def embed(grammar: dict) -> dict:
    """The embedded grammar: B, then T or P, then a string of `grammar`, the same T or P, then E.

    The inner grammar is copied once per branch, with states (branch, state), so that the state
    alone says which symbol must close the string: the long-range dependency is in the table.
    """
    table = {"start": {"B": "branch"}, "branch": {"T": ("T", "start"), "P": ("P", "start")}}
    for branch in "TP":
        for state, moves in grammar.items():
            table[(branch, state)] = {symbol: (branch, to) for symbol, to in moves.items()}
        table[(branch, "end")] = {branch: "close"}
    table["close"] = {"E": "end"}
    table["end"] = {}
    return table


EMBEDDED_REBER = embed(REBER)


def sample_string(rng: np.random.Generator, grammar: dict = EMBEDDED_REBER) -> str:
    """A random string of `grammar`, every way out of a state equally likely."""
    state, symbols = "start", []
    while grammar[state]:
        moves = sorted(grammar[state].items())
        symbol, state = moves[rng.integers(len(moves))]
        symbols.append(symbol)
    return "".join(symbols)


def legal_next(string: str, grammar: dict = EMBEDDED_REBER) -> list[str]:
    """For each symbol of `string` but the last, the symbols that may follow it, in SYMBOLS order.

    >>> legal_next("BTBTXSETE")
    ['TP', 'B', 'TP', 'SX', 'SX', 'E', 'T', 'E']
    """
    state, sets = "start", []
    for symbol in string:
        if symbol not in grammar[state]:
            raise ValueError(f"{string!r} is not a string of the grammar: {symbol!r} cannot follow")
        state = grammar[state][symbol]
        sets.append("".join(s for s in SYMBOLS if s in grammar[state]))
    if grammar[state]:
        raise ValueError(f"{string!r} is not a string of the grammar: it ends too early")
    return sets[:-1]


def continual_stream(rng: np.random.Generator, n_strings: int) -> tuple[np.ndarray, np.ndarray]:
    """The continual embedded Reber task (Gers, Schmidhuber & Cummins 2000): ``n_strings`` strings of
    the embedded grammar back to back, with nothing between them (one string's E is followed by the
    next one's B), to be read as one stream without resets.

    Returns the symbol ids (L,) and, for every symbol but the last, the legal next symbols (L - 1, 7)
    as a bool mask over SYMBOLS.
    """
    strings = [sample_string(rng) for _ in range(n_strings)]
    ids = np.array([SYMBOLS.index(s) for s in "".join(strings)])
    legal = np.zeros((ids.size - 1, len(SYMBOLS)), dtype=bool)
    t = 0
    for k, string in enumerate(strings):
        after = legal_next(string) + (["B"] if k < n_strings - 1 else [])
        for allowed in after:
            legal[t, [SYMBOLS.index(s) for s in allowed]] = True
            t += 1
    return ids, legal


def grammar_logits(x: np.ndarray, remember: bool = True) -> np.ndarray:
    """Logits of the ideal predictor of the embedded grammar, for one-hot inputs x (B, T, 7).

    At each step the probability is spread evenly over the legal next symbols, which is the true
    distribution of the next symbol. With remember=False the predictor forgets the second symbol:
    after the inner string's E it spreads its bet over T and P. Padding steps get zeros.
    """
    B, T, _ = x.shape
    logits = np.zeros((B, T, len(SYMBOLS)))
    for row in range(B):
        state = "start"
        for t in range(T):
            if not x[row, t].any():
                break
            state = EMBEDDED_REBER[state][SYMBOLS[int(x[row, t].argmax())]]
            legal = set(EMBEDDED_REBER[state])
            if not remember and state in (("T", "end"), ("P", "end")):
                legal = {"T", "P"}
            logits[row, t] = [np.log(1 / len(legal)) if s in legal else -np.inf for s in SYMBOLS]
    return logits


class EmbeddedReber(Task):
    """Embedded Reber grammar (Hochreiter & Schmidhuber 1997, experiment 1).

    Strings over the 7 symbols B, T, P, S, X, V, E (one-hot, in that order): B, then T or P, then
    a Reber string (which itself starts with B and ends with E), then the same T or P again, then
    E. For example BTBTXSETE and BPBPVVEPE. At every step the model sees one symbol and predicts
    the next one: the target is the actual next symbol (cross-entropy), and the mask marks the
    steps of each string, as strings in a batch are padded at the end to a common length.

    As in the paper, there are 256 training strings and 256 test strings, all drawn from the
    task's seed; a test string never occurs among the training strings (the training strings
    may repeat; so may the test strings). batch() draws strings from the training strings.

    Metric, the paper's criterion: a step is right when the outputs of the legal next symbols are
    the most active ones (with k legal symbols, they have the k largest logits, strictly above
    every other); the legal set follows the grammar, including its long-range rule that the
    second-to-last symbol repeats the second. evaluate() returns `fraction_correct`, the fraction
    of strings right at every step; `symbol_accuracy`, the fraction of steps that are right; and
    `loss`, the mean cross-entropy per step (nats). The lowest possible loss is that of the ideal
    predictor, grammar_logits(x). baseline() scores grammar_logits(x, remember=False), a
    predictor that knows the grammar but not which branch it is in.
    """

    name = "reber"
    input_size = len(SYMBOLS)
    output_size = len(SYMBOLS)
    target = "sequence"
    loss = "cross_entropy"
    headline = "fraction_correct"
    higher_is_better = True
    baseline_name = "the grammar's rules without memory: chance at the closing T or P"
    test_seed = 1

    def __init__(self, n_train: int = 256, n_test: int = 256, *, dtype=np.float64,
                 sets_seed: int | None = None):
        """``sets_seed`` draws another pair of training and test sets (default: `test_seed`'s)."""
        if n_train < 1 or n_test < 1:
            raise ValueError(f"n_train and n_test must be positive, got {n_train} and {n_test}")
        self.dtype = float_dtype(dtype)
        rng = np.random.default_rng(self.test_seed if sets_seed is None else sets_seed)
        self.train_strings = [sample_string(rng) for _ in range(n_train)]
        seen = set(self.train_strings)
        self.test_strings = []
        while len(self.test_strings) < n_test:
            string = sample_string(rng)
            if string not in seen:
                self.test_strings.append(string)

    def batch(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """batch_size strings drawn (with replacement) from the training strings."""
        check_batch_args(batch_size, rng)
        picks = rng.integers(0, len(self.train_strings), batch_size)
        return self.make_batch([self.train_strings[i] for i in picks])

    def make_batch(self, strings: list[str]) -> Batch:
        """Strings -> x (B, T, 7), y (B, T) next-symbol ids, mask (B, T); T = longest length - 1."""
        T = max(len(s) for s in strings) - 1
        ids = np.zeros((len(strings), T + 1), dtype=np.intp)
        mask = np.zeros((len(strings), T), dtype=bool)
        for row, string in enumerate(strings):
            ids[row, : len(string)] = [SYMBOLS.index(s) for s in string]
            mask[row, : len(string) - 1] = True
        x = one_hot(ids[:, :-1], len(SYMBOLS), self.dtype) * mask[..., None]
        return Batch(x, ids[:, 1:] * mask, mask)

    def test_batches(self, batch_size: int = 256) -> list[Batch]:
        """The test strings, in order, batch_size at a time."""
        return self._batches(self.test_strings, batch_size)

    def _batches(self, strings: list[str], batch_size: int) -> list[Batch]:
        check_batch_size(batch_size)
        starts = range(0, len(strings), batch_size)
        return [self.make_batch(strings[i : i + batch_size]) for i in starts]

    def evaluate(self, predict: Predict, batch_size: int = 256, split: str = "test") -> dict:
        """Scores on the test strings, or with split="train" on the training strings (the paper
        asks for every string of both sets to be right)."""
        if split not in ("test", "train"):
            raise ValueError(f"split must be 'test' or 'train', got {split!r}")
        strings = self.test_strings if split == "test" else self.train_strings
        batches = self._batches(strings, batch_size)
        losses, steps_right, strings_right = [], [], []
        for logits, batch, start in zip(
            self.outputs(predict, batches), batches, range(0, len(strings), batch_size), strict=True
        ):
            legal = np.zeros(logits.shape, dtype=bool)
            for row, string in enumerate(strings[start : start + batch_size]):
                for t, allowed in enumerate(legal_next(string)):
                    legal[row, t, [SYMBOLS.index(s) for s in allowed]] = True
            lowest_legal = np.where(legal, logits, np.inf).min(axis=-1)
            highest_other = np.where(legal, -np.inf, logits).max(axis=-1)
            right = proper(logits) & (lowest_legal > highest_other)
            losses.append(cross_entropy(logits, batch.y)[batch.mask])
            steps_right.append(right[batch.mask])
            strings_right.append((right | ~batch.mask).all(axis=1))
        return {
            "loss": float(np.mean(np.concatenate(losses))),
            "fraction_correct": float(np.mean(np.concatenate(strings_right))),
            "symbol_accuracy": float(np.mean(np.concatenate(steps_right))),
        }

    def baseline(self) -> dict:
        """The scores of grammar_logits(x, remember=False), the ideal predictor without memory."""
        return self.evaluate(lambda x: grammar_logits(x, remember=False))
