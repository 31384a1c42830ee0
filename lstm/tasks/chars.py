"""Character-level language modelling: predict the next character of an English text."""

from __future__ import annotations

import math
from importlib.resources import files
from pathlib import Path

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
)


def default_text() -> str:
    """The corpus that ships with the package, lstm/data/corpus.txt."""
    return (files("lstm") / "data" / "corpus.txt").read_text(encoding="utf-8")


def read_text(path: str | Path) -> str:
    """The UTF-8 text of the file at `path`; a ValueError naming the path if it cannot be had."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ValueError(f"corpus file not found: {path}") from None
    except OSError as error:
        raise ValueError(f"cannot read corpus file {path}: {error.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"corpus file {path} is not UTF-8 text (bad byte at offset {error.start})"
        ) from None


def _encode(text: str, chunk: int = 2**20) -> tuple[np.ndarray, np.ndarray]:
    """The text's distinct code points, sorted (the order sorted() gives strings), and each character's
    index among them, in the smallest unsigned dtype that holds them. Done a chunk at a time on code
    points, without a Python object per character, so a long text costs about one byte per character
    beyond itself."""
    def codes(start: int) -> np.ndarray:
        return np.frombuffer(text[start : start + chunk].encode("utf-32-le"), dtype=np.uint32)

    starts = range(0, len(text), chunk)
    vocab_codes = np.unique(np.concatenate([np.unique(codes(i)) for i in starts] or [[]]).astype(np.uint32))
    ids = np.empty(len(text), dtype=np.min_scalar_type(max(len(vocab_codes) - 1, 0)))
    for i in starts:
        ids[i : i + chunk] = np.searchsorted(vocab_codes, codes(i))
    return vocab_codes, ids


class CharCorpus(Task):
    """Character-level language model.

    The text is `text`, else the UTF-8 file at `path`, else the corpus that ships with the package
    (lstm/data/corpus.txt, original English prose). The vocabulary is the sorted set of the
    text's characters; encode() and decode() map between strings and ids. The last
    `val_fraction` of the text is held out; the rest is the training split.

    batch() cuts random windows of seq_len + 1 characters from the training split: x is the first
    seq_len characters one-hot (B, seq_len, vocab_size), y the next character at every step
    (B, seq_len), mask None.

    evaluate() reads the held-out split in consecutive, non-overlapping windows, each from a
    fresh (zero) state, so every held-out character but the first is predicted exactly once. It
    returns `loss`, the mean cross-entropy per predicted character in nats; `bits_per_char`, the
    same in bits; and `unigram_bits_per_char`, the cross-entropy in bits of the training split's
    character frequencies (add-one smoothed) on the same held-out characters, which a model that
    learned anything about order beats. baseline() scores that unigram predictor.
    """

    name = "chars"
    target = "sequence"
    loss = "cross_entropy"
    headline = "bits_per_char"
    baseline_name = "unigram: each character's frequency, whatever came before"

    def __init__(
        self,
        text: str | None = None,
        path: str | Path | None = None,
        seq_len: int = 64,
        val_fraction: float = 0.1,
        *,
        dtype=np.float64,
    ):
        if text is not None and path is not None:
            raise ValueError("CharCorpus takes text or path, not both")
        if path is not None:
            text = read_text(path)
        elif text is None:
            text = default_text()
        if seq_len < 1:
            raise ValueError(f"seq_len must be at least 1, got {seq_len}")
        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
        self.seq_len = seq_len
        self.dtype = float_dtype(dtype)
        vocab_codes, ids = _encode(text)
        self.vocab = "".join(map(chr, vocab_codes))
        self.vocab_size = self.input_size = self.output_size = len(self.vocab)
        self._ids = {char: i for i, char in enumerate(self.vocab)}

        split = len(ids) - round(val_fraction * len(ids))
        self.train_ids, self.val_ids = ids[:split], ids[split:]
        if len(self.train_ids) < seq_len + 1:
            raise ValueError(
                f"the training split has {len(self.train_ids)} characters; "
                f"seq_len={seq_len} needs at least {seq_len + 1}"
            )
        if len(self.val_ids) < 2:
            raise ValueError(
                f"the held-out split has {len(self.val_ids)} characters; it needs at least 2"
            )

        counts = np.bincount(self.train_ids, minlength=self.vocab_size) + 1
        self.unigram_log_probs = np.log(counts / counts.sum())
        nats = -np.mean(self.unigram_log_probs[self.val_ids[1:]])
        self.unigram_bits_per_char = float(nats) / math.log(2)

    def encode(self, text: str) -> np.ndarray:
        """A string -> its character ids (``np.intp``, which is int32 under WebAssembly)."""
        try:
            return np.array([self._ids[char] for char in text], dtype=np.intp)
        except KeyError as error:
            raise ValueError(f"character {error.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids) -> str:
        """Character ids -> the string they spell."""
        return "".join(self.vocab[int(i)] for i in ids)

    def _windows(self, windows: np.ndarray) -> Batch:
        """(B, L + 1) character ids -> inputs the first L, targets the last L."""
        targets = windows[:, 1:].astype(np.intp)  # the ids are stored compactly; batches carry intp
        return Batch(one_hot(windows[:, :-1], self.vocab_size, self.dtype), targets, None)

    def batch(self, batch_size: int, rng: np.random.Generator) -> Batch:
        check_batch_args(batch_size, rng)
        starts = rng.integers(0, len(self.train_ids) - self.seq_len, batch_size)
        return self._windows(self.train_ids[starts[:, None] + np.arange(self.seq_len + 1)])

    def test_batches(self, batch_size: int = 256) -> list[Batch]:
        """The held-out split in windows of seq_len + 1 that overlap by one character (the last
        target of one is the first input of the next). The last window may be shorter; it comes
        alone in the last batch."""
        return list(self._test_batches(batch_size))

    def _test_batches(self, batch_size: int):
        """`test_batches` one batch at a time: only one batch is ever one-hot encoded."""
        check_batch_size(batch_size)
        L = self.seq_len
        n_full = (len(self.val_ids) - 1) // L
        for i in range(0, n_full, batch_size):
            starts = np.arange(i, min(i + batch_size, n_full))[:, None] * L
            yield self._windows(self.val_ids[starts + np.arange(L + 1)])
        rest = self.val_ids[n_full * L :]
        if len(rest) > 1:
            yield self._windows(rest[None])

    def evaluate(self, predict: Predict, batch_size: int = 256) -> dict:
        """Streams the held-out split: each batch is predicted and scored, then dropped, so memory does
        not grow with the split's length."""
        total, count = 0.0, 0
        for batch in self._test_batches(batch_size):
            (logits,) = self.outputs(predict, [batch])
            total += float(cross_entropy(logits, batch.y).sum())
            count += batch.y.size
        loss = total / count
        return {
            "loss": loss,
            "bits_per_char": loss / math.log(2),
            "unigram_bits_per_char": self.unigram_bits_per_char,
        }

    def baseline(self) -> dict:
        """The scores of the unigram predictor: the training split's add-one smoothed character
        frequencies at every step, whatever came before."""
        return self.evaluate(
            lambda x: np.broadcast_to(self.unigram_log_probs, x.shape[:2] + (self.vocab_size,))
        )
