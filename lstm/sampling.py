"""Sampling text from a character model, one character at a time."""

from __future__ import annotations

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


@mg.no_grad()
def sample(model, vocab: str, length: int = 200, temperature: float = 1.0, prime: str = "\n",
           rng=None) -> str:
    """Generate ``length`` characters after ``prime``.

    The model reads the prime, then repeatedly: logits / temperature -> softmax -> draw a character ->
    feed it back. Temperature below 1 sharpens the distribution (safer, more repetitive text), above 1
    flattens it (more surprising, more mistakes); 0 means always take the most likely character.
    """
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    rng = np.random.default_rng(rng)
    prime = prime or "\n"
    y, state = model(encode_one_hot(prime, vocab), None)
    logits = y.data[0, -1]
    out = []
    x = np.zeros((1, 1, len(vocab)))
    for _ in range(length):
        if temperature == 0:
            k = int(np.argmax(logits))
        else:
            z = logits / temperature
            p = np.exp(z - z.max())
            k = int(rng.choice(len(vocab), p=p / p.sum()))
        out.append(vocab[k])
        x[:] = 0
        x[0, 0, k] = 1
        y, state = model(x, state)
        logits = y.data[0, -1]
    return "".join(out)
