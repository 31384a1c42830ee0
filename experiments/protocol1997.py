"""The 1997 protocol and the 2000 forget-gate experiment, run with the hand-derived networks of `lstm.online`.

    python experiments/paper_tasks.py --protocol 1997 --trials 2    # the 1997 tasks, as the paper ran them
    python experiments/protocol1997.py tasks --tasks reber --update string   # Reber, updated once per string
    python experiments/protocol1997.py forget --networks 3    # continual embedded Reber (Gers et al. 2000)

Every trial trains one small network online, one sequence at a time with its activations reset at the
sequence start (the 1997 protocol), or on one endless stream (the continual task), with the 1997
truncated gradient and plain SGD. Each run writes ``<out>/<task>.json`` (every trial's figures, the commit,
the load average and the wall time); the tables are made from those files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from lstm.paper1997 import (
    REBER_NETWORKS,
    RUNS_DIR,
    SETUPS,
    UPDATES,
    continual_trial,
    last_step_trial,
    plot_cell_states,
    reber_trial,
)
from lstm.tasks.reber import SYMBOLS, continual_stream
from minigrad.files import atomic_write

HERE = Path(__file__).resolve().parent
RUNS = RUNS_DIR  # committed, shipped with lstm: the figures of results.md are rebuilt from these files


def _revision() -> str:
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        paths = ["lstm", "minigrad", "experiments/protocol1997.py", "experiments/ablation.py",
                 ":!lstm/runs1997"]  # the results, not the code: a run under way writes there
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *paths], cwd=HERE.parent,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out + (" with local changes" if dirty else "")


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _save(path: Path, data: dict) -> None:
    atomic_write(path, json.dumps(data, indent=1) + "\n")


def run_1997(tasks: list[str], trials: int, out: Path = RUNS, log=print, limit: int | None = None,
             legal_targets: bool = False, update: str = "symbol", network: str = "3x2",
             lr: float = 0.5, full_gradient: bool = False, first_seed: int = 0) -> None:
    """Run ``trials`` seeds (0, 1, ...) of each task and write out/<task>.json; with ``legal_targets``
    Reber learns every legal next symbol as its target and writes out/reber_legal_targets.json; with
    ``update="string"`` Reber's weights change once per string and it writes out/reber_per_string.json;
    another row of the paper's Table 1 (``network``, ``lr``) writes out/reber_<network>_lr<lr>.json;
    ``full_gradient`` (with ``update="string"``) writes out/reber_per_string_full_gradient.json. The seeds
    start at ``first_seed``; more trials of a run already stored go to out/<task>..._from_seed<N>.json."""
    revision = _revision()  # the code this process loaded, before anything can change it
    for name in tasks:
        start, load = time.perf_counter(), _load()
        results = []
        legal = legal_targets and name == "reber"
        per_string = update == "string" and name == "reber"
        suffix = ("_legal_targets" if legal else "") + ("_per_string" if per_string else "")
        row = name == "reber" and (network, lr) != ("3x2", 0.5)
        suffix += f"_{network}_lr{lr:g}" if row else ""
        suffix += "_full_gradient" if full_gradient and name == "reber" else ""
        suffix += f"_from_seed{first_seed}" if first_seed else ""
        for seed in range(first_seed, first_seed + trials):
            t0 = time.perf_counter()
            if name == "reber":
                r = reber_trial(seed, limit, legal_targets=legal, update=update, network=network, lr=lr,
                                full_gradient=full_gradient)
            else:
                r = last_step_trial(name, seed, limit)
            r["wall_seconds"] = round(time.perf_counter() - t0, 1)
            log(f"  {name} seed {seed}: {r}")
            results.append(r)
            # written after every trial, so an interrupted run keeps the trials it finished
            _save(out / f"{name}{suffix}.json", {
                "task": name, "trials": results, "revision": revision, "load_average": [load, _load()],
                "limit": limit or SETUPS[name].limit, "legal_targets": legal,
                "update": update if name == "reber" else "string",
                **({"network": network, "lr": lr, "full_gradient": full_gradient} if name == "reber" else {}),
                "wall_seconds": round(time.perf_counter() - start, 1)})


def run_forget(networks: int, train_symbols: int, test_cap: int, stream_limit: int | None = None,
               out: Path = RUNS, log=print) -> None:
    """The continual embedded Reber experiment for both cells; also stores the first networks' weights and
    their cell states over a test stream (for the plot and notebook 06)."""
    start, load, revision = time.perf_counter(), _load(), _revision()
    results, traces, best = [], {}, {}
    for forget in (False, True):
        for seed in range(networks):
            t0 = time.perf_counter()
            r, net = continual_trial(forget, seed, train_symbols, test_cap, stream_limit)
            r["wall_seconds"] = round(time.perf_counter() - t0, 1)
            log(f"  continual reber, forget={forget}, seed {seed}: {r}")
            results.append(r)
            key = "forget" if forget else "lstm1997"
            if seed == 0 or r["test_run"] > best[key]:  # the cell's best network, for the picture
                best[key] = r["test_run"]
                ids, _ = continual_stream(np.random.default_rng(99), 60)
                traces[f"{key}_s"] = net.forward(np.eye(len(SYMBOLS))[ids][None])["s"][0]
                traces[f"{key}_seed"] = seed
                traces["ids"] = ids
    atomic_write(out / "continual_cell_states.npz", lambda f: np.savez_compressed(f, **traces))
    _save(out / "continual_reber.json", {"networks": networks, "train_symbols": train_symbols,
                                         "test_cap": test_cap, "stream_limit": stream_limit,
                                         "trials": results, "revision": revision,
                                         "load_average": [load, _load()],
                                         "wall_seconds": round(time.perf_counter() - start, 1)})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    t = sub.add_parser("tasks", help="the 1997 tasks with the 1997 protocol")
    t.add_argument("--tasks", nargs="+", choices=list(SETUPS), default=list(SETUPS))
    t.add_argument("--trials", type=int, default=2)
    t.add_argument("--first-seed", type=int, default=0,
                   help="the first trial's seed (more trials of a stored run, in a file of their own)")
    t.add_argument("--limit", type=int, help="training sequences at most (default: each task's own)")
    t.add_argument("--legal-targets", action="store_true",
                   help="Reber's target at each step: every legal next symbol, not the next one")
    t.add_argument("--update", choices=UPDATES, default="symbol",
                   help="when Reber's weights change: after every symbol (default) or once per string")
    t.add_argument("--network", choices=list(REBER_NETWORKS), default="3x2",
                   help="Reber's network (the paper's Table 1): 3 blocks of 2 cells or 4 blocks of 1")
    t.add_argument("--lr", type=float, default=0.5, help="Reber's learning rate (the paper: 0.1, 0.2, 0.5)")
    t.add_argument("--full-gradient", action="store_true",
                   help="with --update string: the exact gradient (BPTT) instead of the 1997 truncated one")
    f = sub.add_parser("forget", help="continual embedded Reber, the 1997 cell against the forget-gate cell")
    f.add_argument("--networks", type=int, default=3)
    f.add_argument("--train-symbols", type=int, default=400_000)
    f.add_argument("--test-cap", type=int, default=100_000)
    f.add_argument("--stream-limit", type=int, help="a training stream also ends after this many right "
                   "predictions (at the end of the string); default: only at an error")
    sub.add_parser("plot", help="draw figures/continual_cell_states.png from the stored cell states")
    args = p.parse_args(argv)
    if args.what == "plot":
        figure = HERE / "figures" / "continual_cell_states.png"
        plot_cell_states(np.load(RUNS / "continual_cell_states.npz"), figure)
        return 0
    if args.what == "tasks":
        run_1997(args.tasks, args.trials, limit=args.limit, log=lambda s: print(s, flush=True),
                 legal_targets=args.legal_targets, update=args.update, network=args.network, lr=args.lr,
                 full_gradient=args.full_gradient, first_seed=args.first_seed)
    else:
        run_forget(args.networks, args.train_symbols, args.test_cap, args.stream_limit,
                   log=lambda s: print(s, flush=True))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    sys.exit(main())
