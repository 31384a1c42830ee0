"""Rerun the paper's experiments with minigrad's LSTM and print our figures beside the paper's.

    python experiments/paper_tasks.py                         # every task, ~30 min on 2 cores
    python experiments/paper_tasks.py --tasks adding          # one task
    python experiments/paper_tasks.py --quick --out /tmp/qc   # plumbing only, seconds

Each task has one tuned configuration (`EXPERIMENTS`), seeded, with a bounded number of steps. A run
is evaluated every ``eval_every`` steps on a *validation* set (drawn from another seed than the test
set) and stops early once the validation set meets the task's target; the figures reported are then
measured on the task's own test set, which the stopping rule never looked at. For each task the script
writes ``<out>/<task>/metrics.json`` and ``<out>/<task>/loss.png``, and the table of all tasks to
``--results`` (default ``experiments/results.md``; with ``--quick``, ``<out>/results.md``).
NumPy's BLAS runs on one thread (``--threads``): these matrices are small, and a second thread only
slows a busy 2-core machine down.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from lstm.plots import plot_losses
from lstm.tasks.reber import sample_string
from lstm.train import TrainConfig, build_task, predictor, train

HERE = Path(__file__).resolve().parent
VALIDATION_SEED = 12345  # validation sequences: another seed than every task's test_seed


@dataclass
class Experiment:
    """One task's run and how to read it.

    config: the tuned configuration (seeded; ``steps`` bounds the run).
    target: the goal in words.
    reached: metrics -> whether they meet the goal (applied to validation and to test metrics).
    ours: test metrics -> our figure in words.
    paper, paper_sequences: the 1997 paper's figure and training sequences, in words.
    quick: overrides for ``--quick`` (a plumbing check, not a result).
    """

    config: TrainConfig
    target: str
    reached: Callable[[dict], bool]
    ours: Callable[[dict], str]
    paper: str
    paper_sequences: str
    early_stop: bool = True
    quick: dict = field(default_factory=dict)


def _adding(m: dict) -> str:
    return f"{m['wrong']} of 2560 wrong ({m['error_rate']:.2%}); MSE {m['mse']:.2g}"


def _temporal_order(m: dict) -> str:
    return f"{m['wrong']} of 2560 wrong ({m['error_rate']:.2%}); argmax accuracy {m['accuracy']:.2%}"


EXPERIMENTS: dict[str, Experiment] = {
    "adding": Experiment(
        config=TrainConfig(task="adding", seq_len=100, hidden=32, batch=64, steps=6000, lr=3e-3, clip=1.0,
                           forget_bias=3.0, eval_every=250, seed=0),
        target="at most 1 % of 2560 wrong (absolute error >= 0.04)",
        reached=lambda m: m["error_rate"] <= 0.01,
        ours=_adding,
        paper="1 of 2560 wrong",
        paper_sequences="74,000",
        quick={"seq_len": 22, "hidden": 4, "batch": 4, "steps": 3, "eval_every": 2},
    ),
    "temporal_order": Experiment(
        config=TrainConfig(task="temporal_order", hidden=32, batch=64, steps=4000, lr=3e-3, clip=1.0,
                           forget_bias=3.0, eval_every=250, seed=0),
        target="at most 1 % of 2560 wrong (an output off by >= 0.3)",
        reached=lambda m: m["error_rate"] <= 0.01,
        ours=_temporal_order,
        paper="1 of 2560 wrong",
        paper_sequences="31,390",
        quick={"hidden": 4, "batch": 4, "steps": 3, "eval_every": 2},
    ),
    "reber": Experiment(
        config=TrainConfig(task="reber", hidden=16, batch=32, steps=3000, lr=1e-2, clip=1.0,
                           forget_bias=1.0, eval_every=100, seed=0),
        target="100 % of test strings right at every step",
        reached=lambda m: m["fraction_correct"] == 1.0,
        ours=lambda m: (f"{m['fraction_correct']:.1%} of test strings right; "
                        f"{m['symbol_accuracy']:.2%} of steps"),
        paper="97-100 % of trials succeed",
        paper_sequences="(per architecture, the paper's Table 1)",
        quick={"hidden": 4, "batch": 4, "steps": 3, "eval_every": 2},
    ),
    "chars": Experiment(
        config=TrainConfig(task="chars", hidden=128, seq_len=64, batch=32, steps=2000, lr=3e-3, clip=1.0,
                           forget_bias=1.0, eval_every=250, seed=0),
        target="held-out bits/char clearly below the unigram baseline",
        reached=lambda m: m["bits_per_char"] < 0.75 * m["unigram_bits_per_char"],
        ours=lambda m: f"{m['bits_per_char']:.2f} bits/char (unigram {m['unigram_bits_per_char']:.2f})",
        paper="(not in the paper)",
        paper_sequences="-",
        early_stop=False,
        quick={"hidden": 4, "seq_len": 8, "batch": 4, "steps": 3, "eval_every": 2},
    ),
}


def validation_task(config: TrainConfig):
    """The task of ``config`` with its test set drawn from `VALIDATION_SEED`: the early-stopping rule
    reads this set, so the test set stays unseen until the end."""
    task = build_task(replace(config))
    task.test_seed = VALIDATION_SEED
    if config.task == "reber":
        # Reber's test strings are drawn once, at construction: draw fresh ones the same way.
        rng = np.random.default_rng(VALIDATION_SEED)
        seen = set(task.train_strings)
        task.test_strings = []
        while len(task.test_strings) < 256:
            string = sample_string(rng)
            if string not in seen:
                task.test_strings.append(string)
    return task


def run(name: str, out: Path, quick: bool = False, log=print) -> dict:
    """Train task ``name`` with its configuration; write metrics.json and loss.png under out/name.

    Returns a row of the results table: our figure, the paper's, training sequences, wall time.
    """
    exp = EXPERIMENTS[name]
    config = replace(exp.config, **exp.quick) if quick else replace(exp.config)
    config.task_options = dict(config.task_options)
    run_dir = out / name
    run_dir.mkdir(parents=True, exist_ok=True)
    val = validation_task(config) if exp.early_stop else None
    stopped = {}

    def on_eval(result, metrics) -> bool:
        line = f"  {name} step {metrics['step']}: test " + exp.ours(metrics)
        if val is not None and metrics["step"] < result.config.steps:
            val_metrics = val.evaluate(predictor(result.model))
            line += "; validation " + exp.ours(val_metrics)
            if exp.reached(val_metrics):
                stopped["step"] = metrics["step"]
        log(line)
        return bool(stopped)

    load_before = _load()
    start = time.perf_counter()
    result = train(config, out_dir=run_dir, progress=False, on_eval=on_eval)
    wall = time.perf_counter() - start
    metrics = result.metrics()
    metrics["wall_seconds"] = round(wall, 2)
    metrics["load_average"] = [load_before, _load()]
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plot_losses(metrics, run_dir / "loss.png", title=f"{name}: {exp.target}")
    test = result.evals[-1]
    return {
        "task": name,
        "ours": exp.ours(test),
        "reached": exp.reached(test),
        "target": exp.target,
        "paper": exp.paper,
        "sequences": metrics["sequences_seen"],
        "paper_sequences": exp.paper_sequences,
        "steps": metrics["steps"],
        "stopped_early": "step" in stopped,
        "wall_seconds": metrics["wall_seconds"],
        "load_average": metrics["load_average"],
        "config": {k: v for k, v in asdict(config).items()
                   if k in ("hidden", "seq_len", "batch", "steps", "lr", "clip", "forget_bias", "bptt",
                            "eval_every", "seed", "fused")},
    }


def _load() -> float | None:
    """The 1-minute load average (other processes share the CPU), or None where there is none."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def table(rows: list[dict]) -> str:
    """The results as a Markdown table, ours beside the paper's."""
    lines = [
        "| task | ours (test set) | target | reached | paper (1997) | training sequences: ours | paper's "
        "| wall time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['task']} | {r['ours']} | {r['target']} | {'yes' if r['reached'] else 'NO'} | {r['paper']} "
            f"| {r['sequences']:,} ({r['steps']:,} steps{', stopped early' if r['stopped_early'] else ''}) "
            f"| {r['paper_sequences']} | {_minutes(r['wall_seconds'])} |"
        )
    return "\n".join(lines)


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def report(rows: list[dict], quick: bool, threads: int) -> str:
    """results.md: the table, then each run's configuration and the machine's load."""
    parts = ["# Paper experiments: measured results", ""]
    if quick:
        parts += ["**--quick: a plumbing check with tiny models and 3 steps; these are not results.**", ""]
    parts += [
        "Written by `experiments/paper_tasks.py`. Ours: measured on each task's test set after the run; a "
        "run stops early when a validation set (another seed) meets the target. Wall time includes the "
        "evaluations.",
        "",
        table(rows),
        "",
        "## Configurations",
        "",
    ]
    for r in rows:
        parts.append(f"- {r['task']}: " + ", ".join(f"{k} {v}" for k, v in r["config"].items()))
    parts += [
        "",
        "## Machine",
        "",
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}, "
        f"{threads} BLAS thread(s). The CPU was shared with other "
        "work; the 1-minute load average at the start and the end of each run:",
        "",
    ]
    for r in rows:
        before, after = r["load_average"]
        parts.append(f"- {r['task']}: {before} -> {after}")
    return "\n".join(parts) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", choices=list(EXPERIMENTS), default=list(EXPERIMENTS))
    p.add_argument("--quick", action="store_true", help="tiny models, 3 steps: checks the plumbing only")
    p.add_argument("--out", type=Path, default=HERE / "runs", help="where each task's run goes")
    p.add_argument("--results", type=Path, help="the Markdown table (default: experiments/results.md)")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads")
    args = p.parse_args(argv)
    results = args.results or (args.out / "results.md" if args.quick else HERE / "results.md")
    rows = []
    with threadpool_limits(args.threads):
        for name in args.tasks:
            print(f"{name}: {EXPERIMENTS[name].target}", flush=True)
            rows.append(run(name, args.out, args.quick, log=lambda s: print(s, flush=True)))
    text = report(rows, args.quick, args.threads)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(text)
    print(table(rows))
    print(f"wrote {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
