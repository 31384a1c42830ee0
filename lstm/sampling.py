"""Sampling text from a character model, one character at a time."""

from __future__ import annotations

import math

import numpy as np

import minigrad as mg


def encode_one_hot(text: str, vocab: str, dtype=np.float64) -> np.ndarray:
    """(1, len(text), V) one-hot rows; characters outside the vocabulary raise ValueError."""
    index = {ch: i for i, ch in enumerate(vocab)}
    unknown = sorted({ch for ch in text if ch not in index})
    if unknown:
        raise ValueError(f"prime text has characters the model never saw: {''.join(unknown)!r}")
    x = np.zeros((1, len(text), len(vocab)), dtype=dtype)
    x[0, np.arange(len(text)), [index[ch] for ch in text]] = 1
    return x


def default_prime(vocab: str) -> str:
    """A newline, or the vocabulary's first character if the model's text had no newline."""
    return "\n" if "\n" in vocab else vocab[0]


@mg.no_grad()
def sample(model, vocab: str, length: int = 200, temperature: float = 1.0, prime: str | None = None,
           rng=None) -> str:
    """Generate ``length`` characters after ``prime``.

    The model reads the prime, then repeatedly: logits / temperature -> softmax -> draw a character ->
    feed it back. Temperature below 1 sharpens the distribution (safer, more repetitive text), above 1
    flattens it (more surprising, more mistakes); 0 means always take the most likely character.
    Without a prime, the model starts from `default_prime`.
    """
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
    rng = np.random.default_rng(rng)
    prime = prime or default_prime(vocab)
    y, state = model(encode_one_hot(prime, vocab), None)
    logits = y.data[0, -1]
    out = []
    x = np.zeros((1, 1, len(vocab)))
    for _ in range(length):
        if not np.isfinite(logits).all():
            raise ValueError("the model's outputs are not finite numbers (it diverged in training); "
                             "there is nothing to sample from")
        if temperature == 0:
            k = int(np.argmax(logits))
        else:
            # shift before dividing: a tiny temperature sends logits / temperature to inf, and inf - inf
            # is NaN, while (logits - max) / temperature only goes to -inf, whose exp is 0
            with np.errstate(over="ignore"):  # to -inf, on purpose
                p = np.exp((logits - logits.max()) / temperature)
            k = int(rng.choice(len(vocab), p=p / p.sum()))
        out.append(vocab[k])
        x[:] = 0
        x[0, 0, k] = 1
        y, state = model(x, state)
        logits = y.data[0, -1]
    return "".join(out)
