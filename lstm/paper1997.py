"""The 1997 protocol and the 2000 forget-gate experiment: the papers' networks, set up and trained as run.

Each trial trains one small `lstm.online` network online, one sequence at a time with its activations
reset at the sequence start (Hochreiter & Schmidhuber 1997), or on one endless stream of concatenated
strings (Gers, Schmidhuber & Cummins 2000), with the 1997 truncated gradient and plain SGD.
``experiments/protocol1997.py`` runs many trials and stores them; ``python -m lstm train --protocol 1997``
runs one.
"""

from __future__ import annotations

import difflib
import json
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from lstm.online import Network, OnlineTrainer, Shape, init_weights
from lstm.tasks.adding import AddingProblem
from lstm.tasks.reber import SYMBOLS, EmbeddedReber, continual_stream, legal_next
from lstm.tasks.temporal_order import TemporalOrder, TemporalOrder3
from minigrad.errors import ArgumentError, MinigradError

# The stored runs of experiments/protocol1997.py and ablation.py, shipped with the package: notebook 06
# reads them, in a checkout, an installed package or the browser alike.
RUNS_DIR = Path(__file__).resolve().parent / "runs1997"


class StoredRunError(MinigradError, OSError):
    """A stored run that is missing or cannot be read."""


def _read_npz(path: Path) -> dict:
    with np.load(path) as arrays:
        return {name: arrays[name] for name in arrays.files}


_READERS = {
    ".json": lambda path: json.loads(path.read_text(encoding="utf-8")),
    ".npz": _read_npz,
    ".png": Path.read_bytes,
}


def stored_runs() -> list[str]:
    """The file names of the stored runs (in `RUNS_DIR`), sorted."""
    if not RUNS_DIR.is_dir():
        return []
    return sorted(p.name for p in RUNS_DIR.iterdir() if p.suffix in _READERS)


def load_run(name: str):
    """The stored run ``name`` (a name of `stored_runs()`): a ``.json`` file as the object it holds, an
    ``.npz`` file as a dict of arrays, a ``.png`` figure as its bytes. Raises `StoredRunError` naming the
    file when it is not there or cannot be read."""
    shown = f"lstm/runs1997/{name}"
    names = stored_runs()
    if name not in names:  # also refuses any path: only the files of RUNS_DIR are stored runs
        close = difflib.get_close_matches(name, names, n=1)
        guess = f" (did you mean {close[0]}?)" if close else ""
        raise StoredRunError(f"load_run: no stored run {shown}{guess}; stored_runs() lists them")
    path = RUNS_DIR / name
    try:
        return _READERS[path.suffix](path)
    except OSError as e:
        raise StoredRunError(f"load_run: {shown} cannot be read ({e.strerror or e})") from None
    except (ValueError, zipfile.BadZipFile) as e:
        raise StoredRunError(f"load_run: {shown} cannot be read ({e})") from None


@dataclass
class Setup:
    """One task of the 1997 paper: the network, its initialisation and training, the paper's figures."""

    shape: Shape
    scale: float  # weights uniform in [-scale, scale]
    gate_bias: dict
    lr: float
    limit: int  # training sequences at most (ours, to fit the compute budget)
    paper: dict = field(default_factory=dict)
    tolerance: float = 0.0  # last-step tasks: a sequence is right if every output's |error| < tolerance
    stop_error: float = 0.0  # ... and training stops when the recent 2000 are right and their MSE < this


def reber_shape(n_blocks: int, cells: int) -> Shape:
    """The 1997 embedded Reber network: 7 inputs and 7 outputs, every gate and cell fed by the inputs and
    by every cell and gate (the hidden layer fully recurrent), biases on the gates only, the outputs fed by
    the cells only."""
    return Shape(n_in=7, n_blocks=n_blocks, cells=cells, n_out=7, cell_bias=False, output_bias=False)


SETUPS = {
    # Exp. 4, Table 7 (T = 100): 2 blocks of 2 cells, 93 weights, input-gate biases -3, -6, lr 0.5
    "adding": Setup(Shape(n_in=2, n_blocks=2, cells=2, n_out=1), 0.1, {"i": [-3.0, -6.0]}, 0.5, 100_000,
                    {"wrong": "1 of 2560", "sequences": "74,000 (mean of 10 trials)", "trials": "10"},
                    tolerance=0.04, stop_error=0.01),
    # Exp. 6a, Table 9: 2 blocks of 2 cells, 156 weights, input-gate biases -2, -4, lr 0.5
    "temporal_order": Setup(Shape(n_in=8, n_blocks=2, cells=2, n_out=4), 0.1, {"i": [-2.0, -4.0]}, 0.5,
                            60_000,
                            {"wrong": "1 of 2560", "sequences": "31,390 (mean of 20 trials)", "trials": "20"},
                            tolerance=0.3, stop_error=0.1),
    # Exp. 6b, Table 9: 3 blocks of 2 cells, 8 outputs, 308 weights, input-gate biases -2, -4, -6, lr 0.1
    "temporal_order_3": Setup(Shape(n_in=8, n_blocks=3, cells=2, n_out=8), 0.1, {"i": [-2.0, -4.0, -6.0]},
                              0.1, 600_000,
                              {"wrong": "2 of 2560", "sequences": "571,100 (mean of 10 trials)",
                               "trials": "10"},
                              tolerance=0.3, stop_error=0.1),
    # Exp. 1, Table 1: 3 blocks of 2 cells, 276 weights, output-gate biases -1, -2, -3, weights in
    # [-0.2, 0.2]. Only the gates are biased and the outputs read the cells alone: of the connectivities
    # `Shape` offers, the one that gives both of the paper's counts, 276 for 3 x 2 and 264 for 4 x 1.
    "reber": Setup(reber_shape(3, 2), 0.2, {"o": [-1.0, -2.0, -3.0]}, 0.5, 40_000,
                   {"success": "100 %", "sequences": "8,440 (mean; 3,800 to 24,100)",
                    "trials": "30 (3 pairs of sets x 10)"}),
}


def _network(setup: Setup, rng: np.random.Generator) -> Network:
    return Network(setup.shape, init_weights(setup.shape, rng, setup.scale, setup.gate_bias))


def _finite(net: Network) -> bool:
    return all(np.isfinite(w).all() for w in net.weights.values())


def last_step_trial(name: str, seed: int, limit: int | None = None) -> dict:
    """One trial of adding or temporal order: online SGD until the paper's stopping rule, then 2560 tests.

    The stopping rule: the 2000 most recent training sequences right and their mean squared error (per
    output) below ``stop_error``. A non-finite output is never right.
    """
    setup = SETUPS[name]
    task = {"adding": lambda: AddingProblem(100), "temporal_order": TemporalOrder,
            "temporal_order_3": TemporalOrder3}[name]()
    rng = np.random.default_rng(seed)
    net = _network(setup, rng)
    n_out = setup.shape.n_out
    recent_right, recent_sq = np.zeros(2000, dtype=bool), np.full(2000, np.inf)
    n, stopped = 0, False
    for n in range(1, (limit or setup.limit) + 1):
        batch = task.batch(1, rng)
        target = batch.y if name == "adding" else np.eye(n_out)[batch.y]  # (1, n_out)
        T = batch.x.shape[1]
        out = net.forward(batch.x)
        error = out["y"][0, -1] - target[0]
        recent_right[n % 2000] = bool(np.all(np.abs(error) < setup.tolerance))
        recent_sq[n % 2000] = np.mean(error**2)
        d = np.zeros((1, T, n_out))
        d[0, -1] = target[0]
        mask = np.zeros((1, T))
        mask[0, -1] = 1.0
        for k, g in net.backward(out, d, mask, truncated=True).items():
            net.weights[k] -= setup.lr * g
        if not _finite(net):
            break
        if n >= 2000 and recent_right.all() and recent_sq.mean() < setup.stop_error:
            stopped = True
            break
    wrong = 0
    for batch in task.test_batches(256):
        target = batch.y if name == "adding" else np.eye(n_out)[batch.y]
        error = net.forward(batch.x)["y"][:, -1] - target
        wrong += int(np.count_nonzero(~np.all(np.abs(error) < setup.tolerance, axis=1)))
    return {"seed": seed, "sequences": n, "stopped": stopped, "wrong": wrong, "n_test": task.n_test}


# The two networks of the paper's Table 1: blocks x cells, output-gate biases -1, -2, ... by block
REBER_NETWORKS = {"3x2": (3, 2), "4x1": (4, 1)}
# Its LSTM rows, in its order: (network, lr) -> (% of the 30 trials successful, mean sequences to success)
TABLE_1 = {("4x1", 0.1): (100, 39_740), ("3x2", 0.1): (100, 21_730), ("3x2", 0.2): (97, 14_060),
           ("4x1", 0.5): (97, 9_500), ("3x2", 0.5): (100, 8_440)}
# The paper ran 10 trials on each of 3 pairs of training and test sets: trial seed s uses pair s // 10
# (mod 3), drawn from REBER_SETS[pair] (pair 0: the sets of lstm.tasks.EmbeddedReber())
REBER_SETS = (EmbeddedReber.test_seed, 2, 3)


def reber_setup(network: str = "3x2", lr: float = 0.5) -> Setup:
    """The Reber `Setup` of one row of the paper's Table 1 (`TABLE_1`): ``network`` a key of
    `REBER_NETWORKS`, ``lr`` its learning rate (0.1, 0.2 or 0.5 there; any positive one is taken)."""
    if network not in REBER_NETWORKS:
        names = ", ".join(REBER_NETWORKS)
        raise ArgumentError(f"reber_trial: network must be one of {names}, not {network!r}")
    if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
        raise ArgumentError(f"reber_trial: lr must be a positive number, not {lr!r}")
    blocks, cells = REBER_NETWORKS[network]
    bias = {"o": [-float(k) for k in range(1, blocks + 1)]}
    return replace(SETUPS["reber"], shape=reber_shape(blocks, cells), gate_bias=bias, lr=float(lr))


def reber_trial(seed: int, limit: int | None = None, eval_every: int = 250,
                legal_targets: bool = False, update: str = "symbol", network: str = "3x2",
                lr: float = 0.5, full_gradient: bool = False) -> dict:
    """One trial of embedded Reber: online SGD on the 256 training strings, activations reset at each
    string, until every symbol of every training and test string is predicted (the legal next symbols'
    outputs the most active). Seeds 0-9 train on the first of the paper's three pairs of sets, 10-19 on
    the second, 20-29 on the third (`REBER_SETS`).

    With ``update="symbol"`` the weights change at every symbol, the truncated gradient computed forward
    in time (`OnlineTrainer`); with ``update="string"`` once per string, by the same truncated gradient
    summed over the string (`string_gradient`). Each step's target is the next symbol, one-hot; with
    ``legal_targets`` every symbol that may follow is 1 (the other reading of the paper's local output
    coding). ``network`` and ``lr`` pick the row of the paper's Table 1 (`reber_setup`).
    ``full_gradient`` (with ``update="string"``) replaces the truncated gradient by the exact one,
    backpropagation through time over the string: not the paper's rule, a check of what it costs."""
    if update not in UPDATES:
        raise ArgumentError(f"reber_trial: update must be one of {', '.join(UPDATES)}, not {update!r}")
    if full_gradient and update != "string":
        raise ArgumentError("reber_trial: full_gradient=True needs update='string' (the exact gradient "
                            "is computed backward once the string is over)")
    setup = reber_setup(network, lr)
    pair = seed // 10 % len(REBER_SETS)
    task = EmbeddedReber(sets_seed=REBER_SETS[pair])
    rng = np.random.default_rng(seed)
    net = _network(setup, rng)
    trainer = OnlineTrainer(net, setup.lr)
    strings = [reber_example(string, legal_targets) for string in task.train_strings]

    def predict(x):
        return net.forward(x)["y"]

    n, success = 0, False
    for n in range(1, (limit or setup.limit) + 1):
        x, target = strings[rng.integers(len(strings))]
        if update == "string":
            for k, g in string_gradient(net, x, target, truncated=not full_gradient).items():
                net.weights[k] -= setup.lr * g
        else:
            trainer.reset()
            for t in range(len(x)):
                trainer.step(x[t], target[t])
        if not _finite(net):
            break
        if n % eval_every == 0:
            scores = _reber_scores(task, predict)
            if scores["train"] == 1.0 and scores["test"] == 1.0:
                success = True
                break
    if not success:
        scores = _reber_scores(task, predict)
    return {"seed": seed, "sets": pair, "sequences": n, "stopped": success, "train_right": scores["train"],
            "test_right": scores["test"]}


UPDATES = ("symbol", "string")


def string_gradient(net: Network, x: np.ndarray, target: np.ndarray, truncated: bool = True) -> dict:
    """The 1997 truncated gradient of one string (x, target: (L, n), from `reber_example`), from a reset
    network, computed backward once the string is over; with ``truncated=False`` the exact one."""
    out = net.forward(x[None])
    return net.backward(out, target[None], np.ones((1, len(x))), truncated=truncated)


def reber_example(string: str, legal_targets: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A string's inputs (L - 1, 7), its symbols but the last one-hot, and targets (L - 1, 7): the next
    symbol one-hot, or with ``legal_targets`` a 1 for every symbol that may follow."""
    x = np.eye(len(SYMBOLS))[[SYMBOLS.index(s) for s in string]]
    if not legal_targets:
        return x[:-1], x[1:]
    return x[:-1], np.array([[s in after for s in SYMBOLS] for after in legal_next(string)], dtype=float)


def _reber_scores(task: EmbeddedReber, predict) -> dict:
    return {split: task.evaluate(predict, split=split)["fraction_correct"] for split in ("train", "test")}


# Gers, Schmidhuber & Cummins 2000, Exp. 1: 4 blocks of 2 cells, shortcuts from the inputs to the outputs;
# input and output gate biases -0.5 .. -2.0 by block, forget gate biases +0.5 .. +2.0; lr 0.5.
def continual_shape(forget: bool) -> Shape:
    return Shape(n_in=7, n_blocks=4, cells=2, n_out=7, forget=forget, gate_recurrence=False, shortcut=True,
                 cell_bias=False)


CONTINUAL_BIAS = {"i": [-0.5, -1.0, -1.5, -2.0], "o": [-0.5, -1.0, -1.5, -2.0], "f": [0.5, 1.0, 1.5, 2.0]}


def right(y: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """Each step's prediction is right if the legal next symbols' outputs are the most active (NaN: wrong)."""
    lowest_legal = np.where(legal, y, np.inf).min(axis=-1)
    highest_other = np.where(legal, -np.inf, y).max(axis=-1)
    return lowest_legal > highest_other


def _chunk(rng: np.random.Generator, n_strings: int) -> tuple[np.ndarray, np.ndarray]:
    """A piece of the endless stream: ``n_strings`` strings, and each symbol's legal successors; the last
    symbol, an E, is followed by the next piece's B."""
    ids, legal = continual_stream(rng, n_strings)
    return ids, np.vstack([legal, np.eye(len(SYMBOLS), dtype=bool)[SYMBOLS.index("B")]])


def continual_test(net: Network, seed: int, cap: int, chunk: int = 2000) -> int:
    """Successive right predictions on a fresh stream from a reset network, counted up to ``cap``."""
    rng = np.random.default_rng(seed)
    eye, state, run = np.eye(len(SYMBOLS)), None, 0
    while run < cap:
        ids, legal = _chunk(rng, chunk // 10)
        out = net.forward(eye[ids][None], state)
        state = out["final"]
        ok = right(out["y"][0], legal)
        if not ok.all():
            return run + int(np.argmin(ok))
        run += ok.size
    return min(run, cap)


def continual_trial(forget: bool, seed: int, train_symbols: int, test_cap: int,
                    stream_limit: int | None = None) -> tuple[dict, Network]:
    """Train on streams of concatenated strings, never reset inside a stream; a stream ends at the first
    wrong prediction, or with ``stream_limit`` at the first string's end after that many right ones, and
    the next one starts from a reset network. Then test on a fresh stream."""
    rng = np.random.default_rng(seed)
    shape = continual_shape(forget)
    bias = {k: v for k, v in CONTINUAL_BIAS.items() if k in shape.gates}
    net = Network(shape, init_weights(shape, rng, 0.2, bias))
    trainer = OnlineTrainer(net, 0.5)
    eye, B = np.eye(len(SYMBOLS)), SYMBOLS.index("B")
    seen, streams, longest = 0, 0, 0
    while seen < train_symbols and _finite(net):
        trainer.reset()
        streams += 1
        run, going = 0, True
        while going and seen < train_symbols and run < (stream_limit or np.inf):
            ids, legal = _chunk(rng, 1)
            for t in range(ids.size):
                y, _ = trainer.step(eye[ids[t]], eye[ids[t + 1] if t + 1 < ids.size else B])
                seen += 1
                if not right(y, legal[t]):
                    going = False
                    break
                run += 1
        longest = max(longest, run)
    result = {"seed": seed, "forget": forget, "train_symbols": seen, "streams": streams,
              "longest_training_run": longest, "finite": _finite(net)}
    result["test_run"] = continual_test(net, seed + 10_000, test_cap) if _finite(net) else 0
    return result, net


def trial(task: str, seed: int, limit: int | None = None) -> dict:
    """One trial of a 1997 task (a key of `SETUPS`) as the paper ran it, at most ``limit`` sequences."""
    return reber_trial(seed, limit) if task == "reber" else last_step_trial(task, seed, limit)


def plot_cell_states(states, path=None, figsize=(10, 5.6)):
    """The cell states of both cells' stored networks over one test stream (``continual_cell_states.npz``
    of `experiments/protocol1997.py`), one panel each, a grey line where each new string begins. Saves to
    ``path`` if given; returns the figure (``figsize`` in inches)."""
    from lstm.plots import _pyplot

    plt = _pyplot()
    ids = states["ids"]
    starts = [t for t in range(1, len(ids)) if SYMBOLS[ids[t]] == "B" and SYMBOLS[ids[t - 1]] == "E"]
    fig, axes = plt.subplots(2, 1, figsize=figsize, sharex=True)
    panels = (("lstm1997", "1997 cell, no forget gate"), ("forget", "with forget gates"))
    for ax, (key, title) in zip(axes, panels):
        for t in starts:
            ax.axvline(t, color="0.85", lw=0.8)
        ax.plot(states[f"{key}_s"], lw=1.2)
        ax.set_title(f"{title} (network of seed {int(states[f'{key}_seed'])}): its 8 cell states, no reset",
                     fontsize=10)
        ax.set_ylabel("cell state $s_t$")
    axes[1].set_xlabel("step of the stream (grey: a new string begins)")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
