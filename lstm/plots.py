"""Pictures of training: loss curves and gate activations (matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from minigrad.files import atomic_write


def _pyplot():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        try:
            import IPython

            in_notebook = IPython.get_ipython() is not None
        except ImportError:
            in_notebook = False
        if not in_notebook:
            matplotlib.use("Agg")  # no screen needed when run from the command line
    import matplotlib.pyplot as plt

    return plt


def smooth(values, window: int = 25) -> np.ndarray:
    """Mean over a window of up to ``window`` points centred on each point, for a readable loss curve.

    Centred, so the smoothed curve does not lag behind a loss that is still falling (a trailing window
    drawn at its end shows where the loss was half a window ago). Point k averages k - r .. k + r, with
    r at most ``window // 2``, at most k // 4 (early on the loss can halve within a few steps, and a
    window reaching across that bend would sit above the curve), and at most the points left after k.
    """
    v = np.asarray(values, dtype=float)
    c = np.cumsum(np.insert(v, 0, 0.0))
    idx = np.arange(v.size)
    half = np.minimum(np.minimum(idx // 4, v.size - 1 - idx), window // 2)
    lo, hi = idx - half, idx + half + 1
    return (c[hi] - c[lo]) / (hi - lo)


def plot_losses(metrics: dict, path=None, title: str | None = None):
    """Training loss (raw and smoothed) and evaluation loss against the step. ``metrics`` is
    `TrainResult.metrics()` or a loaded ``metrics.json``. Saves to ``path`` if given; returns the figure."""
    plt = _pyplot()
    history, evals = metrics.get("history", []), metrics.get("evals", [])
    fig, ax = plt.subplots(figsize=(7, 4))
    if history:
        steps = [h["step"] for h in history]
        losses = [h["loss"] for h in history]
        ax.plot(steps, losses, color="#9ecae1", lw=0.8, label="train loss (per step)")
        ax.plot(steps, smooth(losses), color="#08519c", lw=1.8, label="train loss (smoothed)")
    if evals:
        ax.plot([e["step"] for e in evals], [e["loss"] for e in evals], "o-", color="#d94801",
                label="held-out loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title or f"{metrics.get('task', '')} training")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    if path is not None:
        _save(fig, path)
    return fig


def plot_gates(steps, sample: int = 0, units: int | None = None, path=None, title: str | None = None):
    """Heat maps of the gate activations i, f, g, o (units x time) of one sequence of a batch.

    ``steps`` is a list (one per time step) of objects with fields ``i, f, g, o`` (Tensors or arrays of
    shape (B, H)), as returned by the LSTM layer's gate recording.
    """
    plt = _pyplot()
    names = [("i", "input gate i", "viridis", 0, 1), ("f", "forget gate f", "viridis", 0, 1),
             ("g", "cell candidate g", "RdBu_r", -1, 1), ("o", "output gate o", "viridis", 0, 1)]
    fig, axes = plt.subplots(4, 1, figsize=(9, 7), sharex=True)
    for ax, (field, label, cmap, lo, hi) in zip(axes, names):
        values = np.stack([np.asarray(getattr(s, field))[sample] for s in steps], axis=1)
        if units is not None:
            values = values[:units]
        im = ax.imshow(values, aspect="auto", cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_ylabel(f"{label}\nunit")
        fig.colorbar(im, ax=ax, pad=0.01)
    axes[-1].set_xlabel("time step t")
    fig.suptitle(title or "gate activations over time")
    fig.tight_layout()
    if path is not None:
        _save(fig, path)
    return fig


def _save(fig, path) -> None:
    """Save ``fig`` atomically; the format is the file's extension (PNG if it has none)."""
    fmt = Path(path).suffix[1:].lower() or "png"
    atomic_write(path, lambda f: fig.savefig(f, dpi=110, format=fmt))
