"""Rerun the paper's experiments with minigrad's LSTM and print our figures beside the paper's.

    python experiments/paper_tasks.py                         # every task, ~30 min on 2 cores
    python experiments/paper_tasks.py --tasks adding          # one task
    python experiments/paper_tasks.py --quick --out /tmp/qc   # plumbing only, seconds
    python experiments/paper_tasks.py --protocol 1997 --trials 2   # the 1997 networks, run as in 1997
    python experiments/paper_tasks.py --protocol 1997 --from-runs  # rebuild those tables only

``--protocol modern`` (the default) trains today's configuration below. ``--protocol 1997`` trains the 1997
networks online with the 1997 rules (`experiments/protocol1997.py`, `lstm.online`) and writes their tables,
beside the paper's rows and with the forget-gate and ablation experiments when their runs exist.

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
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from lstm.plots import plot_losses
from lstm.tasks.reber import sample_string
from lstm.train import TrainConfig, TrainingError, build_task, json_safe, predictor, train
from minigrad.files import atomic_write

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
    early_stop: stop once the validation set meets the target.
    trials: how many seeds to run (config.seed, config.seed + 1, ...), to compare with the paper's
        share of successful trials.
    quick: overrides for ``--quick`` (a plumbing check, not a result; at most two trials).
    """

    config: TrainConfig
    target: str
    reached: Callable[[dict], bool]
    ours: Callable[[dict], str]
    paper: str
    paper_sequences: str
    early_stop: bool = True
    trials: int = 1
    quick: dict = field(default_factory=dict)


def _adding(m: dict) -> str:
    return f"{m['wrong']} of 2560 wrong ({m['error_rate']:.2%}); MSE {m['mse']:.2g}"


def _temporal_order(m: dict) -> str:
    return f"{m['wrong']} of 2560 wrong ({m['error_rate']:.2%}); argmax accuracy {m['accuracy']:.2%}"


EXPERIMENTS: dict[str, Experiment] = {
    "adding": Experiment(
        config=TrainConfig(task="adding", seq_len=100, hidden=64, batch=64, steps=4000, lr=3e-3, clip=1.0,
                           forget_bias=5.0, eval_every=250, seed=0),
        target="at most 1 % of 2560 wrong (absolute error >= 0.04)",
        reached=lambda m: m["error_rate"] <= 0.01,
        ours=_adding,
        paper="1 of 2560 wrong",
        paper_sequences="74,000",
        trials=5,
        quick={"seq_len": 22, "hidden": 4, "batch": 4, "steps": 3, "eval_every": 2},
    ),
    "temporal_order": Experiment(
        config=TrainConfig(task="temporal_order", hidden=32, batch=32, steps=4000, lr=3e-3, clip=1.0,
                           forget_bias=3.0, eval_every=100, seed=0),
        target="at most 1 % of 2560 wrong (an output off by >= 0.3)",
        reached=lambda m: m["error_rate"] <= 0.01,
        ours=_temporal_order,
        paper="1 of 2560 wrong",
        paper_sequences="31,390",
        trials=5,
        quick={"hidden": 4, "batch": 4, "steps": 3, "eval_every": 2},
    ),
    "reber": Experiment(
        config=TrainConfig(task="reber", hidden=64, batch=32, steps=3000, lr=3e-3, clip=1.0,
                           forget_bias=3.0, eval_every=25, seed=0),
        target="100 % of test strings right at every step",
        reached=lambda m: m["fraction_correct"] == 1.0,
        ours=lambda m: (f"{m['fraction_correct']:.1%} of test strings right; "
                        f"{m['symbol_accuracy']:.2%} of steps"),
        paper="97-100 % of trials succeed",
        paper_sequences="(per architecture, the paper's Table 1)",
        trials=10,
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
    reads this set, so the test set stays unseen until the end.

    For the Reber grammar the validation set is 256 fresh strings (none of them a training or a test
    string) plus the 256 training strings: the paper asks for every string of both sets to be right.
    """
    task = build_task(replace(config))
    task.test_seed = VALIDATION_SEED
    if config.task == "reber":
        # Reber's test strings are drawn once, at construction: draw fresh ones the same way.
        rng = np.random.default_rng(VALIDATION_SEED)
        seen = set(task.train_strings) | set(task.test_strings)
        fresh = []
        while len(fresh) < len(task.train_strings):
            string = sample_string(rng)
            if string not in seen:
                fresh.append(string)
        task.test_strings = fresh + task.train_strings
    return task


def train_once(name: str, config: TrainConfig, run_dir: Path, log=print) -> dict:
    """One seeded run of task ``name``, stopping early on the validation set if the task does.

    Writes run_dir/metrics.json (the run's metrics plus wall time, load average and where it stopped)
    and run_dir/loss.png; returns those metrics.
    """
    exp = EXPERIMENTS[name]
    run_dir.mkdir(parents=True, exist_ok=True)
    val = validation_task(config) if exp.early_stop else None
    stopped = {}

    def on_eval(result, metrics) -> bool:
        line = f"  {name} seed {config.seed} step {metrics['step']}: test " + exp.ours(metrics)
        if val is not None and metrics["step"] < result.config.steps:
            val_metrics = val.evaluate(predictor(result.model))
            line += "; validation " + exp.ours(val_metrics)
            if exp.reached(val_metrics):
                stopped["step"] = metrics["step"]
        log(line)
        return bool(stopped)

    load_before = _load()
    start = time.perf_counter()
    try:
        metrics = train(config, out_dir=run_dir, progress=False, on_eval=on_eval).metrics()
    except TrainingError as e:  # diverged: train saved the metrics it reached; the run missed the target
        log(f"  {name} seed {config.seed}: {e}")
        metrics = json.loads((run_dir / "metrics.json").read_text()) | {"diverged": str(e)}
    metrics["wall_seconds"] = round(time.perf_counter() - start, 2)
    metrics["load_average"] = [load_before, _load()]
    metrics["stopped_early"] = "step" in stopped
    metrics["revision"] = _revision()
    atomic_write(run_dir / "metrics.json", json.dumps(json_safe(metrics), indent=2, allow_nan=False))
    fig = plot_losses(metrics, title=f"{name} (seed {config.seed}): {exp.target}")
    fig.axes[0].set_yscale("log")  # losses fall by orders of magnitude
    atomic_write(run_dir / "loss.png", lambda f: fig.savefig(f, dpi=110, format="png"))
    import matplotlib.pyplot as plt  # after plot_losses, which picks a backend that needs no screen

    plt.close(fig)
    return metrics


def run(name: str, out: Path, quick: bool = False, log=print, from_runs: bool = False,
        trials: int | None = None) -> dict:
    """Train task ``name`` with its configuration (``trials`` seeds); runs go under out/name.

    Returns a row of the results table: our figure, the paper's, training sequences, wall time. With
    several trials the row reports how many reached the target, and the first seed's run in detail.
    With ``from_runs`` nothing is trained: the row is made from the metrics.json files of earlier runs
    (which must have the same configuration).
    """
    exp = EXPERIMENTS[name]
    config = replace(exp.config, **exp.quick) if quick else replace(exp.config)
    config.task_options = dict(config.task_options)
    trials = []
    n_trials = trials or exp.trials
    for k in range(min(n_trials, 2) if quick else n_trials):
        trial = replace(config, seed=config.seed + k)
        run_dir = out / name if k == 0 else out / name / f"seed{trial.seed}"
        trials.append(_load_run(run_dir, trial) if from_runs else train_once(name, trial, run_dir, log))
    first = trials[0]
    ours = _ours(exp, first)
    reached = "yes" if _reached(exp, first) else "NO"
    sequences = f"{first['sequences_seen']:,} ({first['steps']:,} steps"
    sequences += ", stopped early)" if first["stopped_early"] else ")"
    if len(trials) > 1:
        ok = [m for m in trials if _reached(exp, m)]
        missed = [m for m in trials if m not in ok]
        ours = f"seed {config.seed}: {ours}. {len(ok)} of {len(trials)} seeded trials reach the target"
        ours += "".join(f"; seed {m['seed']}: {_ours(exp, m)} {_when(m)}" for m in missed)
        reached = f"seed {config.seed}: {reached}; {len(ok)} of {len(trials)} trials"
        if ok:
            seen = [m["sequences_seen"] for m in ok]
            sequences += (f"; the trials that reached it: median {np.median(seen):,.0f}, "
                          f"range {min(seen):,}-{max(seen):,}")
    keys = ["hidden", "batch", "steps", "lr", "clip", "forget_bias", "eval_every", "seed"]
    keys += ["seq_len"] if name in ("adding", "chars") else []  # the other tasks fix their lengths
    keys += ["bptt"] if config.bptt else []
    keys += ["fused"] if config.fused else []
    return {
        "task": name,
        "ours": ours,
        "reached": reached,
        "target": exp.target,
        "paper": exp.paper,
        "sequences": sequences,
        "paper_sequences": exp.paper_sequences,
        "wall_seconds": first["wall_seconds"],
        "total_seconds": sum(m["wall_seconds"] for m in trials),
        "load_average": first["load_average"],
        "revision": first.get("revision", "an unrecorded commit"),
        "trials": len(trials),
        "config": {k: getattr(config, k) for k in keys} | {"trials": len(trials)},
    }


def _figures(metrics: dict) -> dict | None:
    """The last evaluation of a run, or None if the run diverged or a figure is not a finite number (a
    NaN compares False with everything, so it could otherwise pass for a run that met its target)."""
    last = metrics["evals"][-1] if metrics.get("evals") else None
    if metrics.get("diverged") or not last:
        return None
    numbers = [v for k, v in last.items() if k != "step"]
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in numbers):
        return None
    return last


def _reached(exp: Experiment, metrics: dict) -> bool:
    figures = _figures(metrics)
    return figures is not None and bool(exp.reached(figures))


def _ours(exp: Experiment, metrics: dict) -> str:
    figures = _figures(metrics)
    return exp.ours(figures) if figures is not None else "diverged (a loss or a figure is not a number)"


def _when(metrics: dict) -> str:
    how = "stopped by the validation set" if metrics["stopped_early"] else "at the step limit"
    return f"({how}, {metrics['sequences_seen']:,} sequences)"


def _load_run(run_dir: Path, config: TrainConfig) -> dict:
    """The metrics.json of an earlier run of ``config``; a ValueError if it is missing or differs."""
    path = run_dir / "metrics.json"
    if not path.exists():
        raise ValueError(f"no earlier run: {path} does not exist")
    metrics = json.loads(path.read_text())
    expected = asdict(build_config(config))
    differ = sorted(k for k, v in expected.items() if metrics["config"].get(k) != v)
    if differ:
        raise ValueError(f"{path} was made with another configuration: {', '.join(differ)} differ")
    return metrics


def build_config(config: TrainConfig) -> TrainConfig:
    """``config`` with the sizes its task fills in (as the metrics of a run store it)."""
    config = replace(config)
    build_task(config)
    return config


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
            f"| {r['task']} | {r['ours']} | {r['target']} | {r['reached']} | {r['paper']} "
            f"| {r['sequences']} | {r['paper_sequences']} | {_wall(r)} |"
        )
    return "\n".join(lines)


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _wall(row: dict) -> str:
    if row["trials"] == 1:
        return _minutes(row["wall_seconds"])
    return f"{_minutes(row['wall_seconds'])} (all {row['trials']} trials: {_minutes(row['total_seconds'])})"


def _revision() -> str:
    """The commit the code was at, and whether minigrad/ or lstm/ differed from it."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=HERE.parent, capture_output=True, text=True,
                              timeout=10).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--", "minigrad", "lstm")
    except (OSError, subprocess.SubprocessError):
        return "an unknown commit"
    if not commit:
        return "an unknown commit"
    return f"commit {commit}" + (" with local changes in minigrad/ or lstm/" if changed else
                                 " (minigrad/ and lstm/ as committed)")


def report(rows: list[dict], quick: bool, threads: int) -> str:
    """results.md: the table, then each run's configuration and the machine's load."""
    revisions = ", ".join(sorted({r["revision"] for r in rows}))
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
        f"Code at {revisions}; {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, "
        f"{threads} BLAS thread(s). The CPU was shared with other "
        "work; the 1-minute load average at the start and the end of each task's first trial:",
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
    p.add_argument("--from-runs", action="store_true",
                   help="train nothing: rebuild the table from the metrics.json files under --out")
    p.add_argument("--protocol", choices=("modern", "1997"), default="modern",
                   help="today's configuration, or the 1997 networks trained as the paper did")
    p.add_argument("--trials", type=int, help="seeds per task (default: each task's own)")
    args = p.parse_args(argv)
    if args.trials is not None and args.trials < 1:
        p.error(f"--trials must be a positive integer, got {args.trials}")
    if args.protocol == "1997":
        return main_1997(args)
    results = args.results or (args.out / "results.md" if args.quick else HERE / "results.md")
    rows = []
    with threadpool_limits(args.threads):
        for name in args.tasks:
            print(f"{name}: {EXPERIMENTS[name].target}", flush=True)
            rows.append(run(name, args.out, args.quick, log=lambda s: print(s, flush=True),
                            from_runs=args.from_runs, trials=args.trials))
    text = report(rows, args.quick, args.threads)
    write_section(results, "modern", text)
    print(table(rows))
    print(f"wrote {results}")
    return 0


def write_section(path: Path, name: str, text: str) -> None:
    """Put ``text`` between this section's markers in ``path``, keeping every other section (each
    protocol writes its own part of results.md)."""
    from minigrad.files import atomic_write

    begin, end = f"<!-- {name}: begin -->", f"<!-- {name}: end -->"
    block = f"{begin}\n{text}{end}\n"
    old = path.read_text() if path.exists() else ""
    if begin in old and end in old:
        new = old[: old.index(begin)] + block + old[old.index(end) + len(end) + 1 :]
    else:
        new = old + ("\n" if old else "") + block
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, new)


# -- the 1997 protocol -------------------------------------------------------------------------------
def _spread(values: list, fmt: str = "{:,.0f}") -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(np.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def _strings_right(trials: list, split: str) -> str:
    """The spread over Reber trials of the share of strings right, ``split`` "train" or "test"."""
    return _spread([100 * t[f"{split}_right"] for t in trials], "{:.0f} %")


def _machine(data: dict) -> str:
    load = " -> ".join(str(x) for x in data["load_average"])
    return f"commit {data['revision']}, load {load}, wall {_minutes(data['wall_seconds'])}"


def tables_1997(runs: Path) -> str:
    """Markdown: per 1997 task, the paper's row beside ours; then the continual task and the ablation,
    each from its run files under ``runs`` (a part whose file is missing is left out)."""
    sys.path.insert(0, str(HERE))
    import ablation
    import protocol1997

    parts = [
        "## The 1997 protocol",
        "",
        "Written by `experiments/paper_tasks.py --protocol 1997` from `lstm/runs1997/*.json`. "
        "The 1997 networks (`lstm.online`: memory blocks sharing gates, the 1997 truncated gradient, "
        "plain SGD, one sequence at a time with the activations reset at its start), initialised and "
        "trained as the paper says; a trial stops at the paper's rule or at our limit of training "
        "sequences. Modern: the table above (today's configuration, batches and Adam). A non-finite "
        "output is never right.",
        "",
    ]
    for name, setup in protocol1997.SETUPS.items():
        path = runs / f"{name}.json"
        if not path.exists():
            continue
        paper = setup.paper
        files = [(path, "ours, 1997 protocol")]
        if name == "reber":
            head = ("| | trials | successful | sequences to success: median (range) "
                    "| strings right: median (range) |")
            paper_row = (f"| paper, Table 1 | {paper['trials']} | {paper['success']} | {paper['sequences']} "
                         "| all |")
            files = [(path, "ours, 1997 protocol, the weights changed after every symbol"),
                     (runs / "reber_legal_targets.json", "ours, 1997 protocol, every legal next symbol "
                                                         "as the target"),
                     (runs / "reber_per_string.json", "ours, 1997 protocol, the weights changed once per "
                                                      "string, not after every symbol"),
                     (runs / "reber_per_string_full_gradient.json", "ours, once per string with the exact "
                                                                    "gradient (BPTT), not the truncated one")]
        else:
            files += [(more, "ours, 1997 protocol, more trials")
                      for more in sorted(runs.glob(f"{name}_from_seed*.json"))]
            head = "| | trials | successful | sequences to success: median (range) | wrong of 2560 |"
            paper_row = (f"| paper, Table {7 if name == 'adding' else 9} | {paper['trials']} | - | "
                         f"{paper['sequences']} | {paper['wrong']} |")
        rows, machines = [], []
        for run_path, label in files:
            if not run_path.exists():
                continue
            data = json.loads(run_path.read_text())
            trials = data["trials"]
            ok = [t for t in trials if t["stopped"]]
            if name == "reber":
                pairs = len({t.get("sets", 0) for t in trials})  # runs before the pairs: all on the first
                result = (f"training {_strings_right(trials, 'train')}, test {_strings_right(trials, 'test')}"
                          f"; {pairs} pair{'s' if pairs > 1 else ''} of sets")
            else:
                result = "; ".join(f"seed {t['seed']}: {t['wrong']:,}" for t in trials)
            rows.append(f"| {label} (at most {data['limit']:,} sequences) | {len(trials)} | {len(ok)} of "
                        f"{len(trials)} | {_spread([t['sequences'] for t in ok])} | {result} |")
            machines.append(f"Run ({label}): {_machine(data)}.")
        shape = setup.shape
        parts += [
            f"### {name} ({shape.n_blocks} blocks of {shape.cells} cells, {shape.n_weights()} weights, "
            f"lr {setup.lr}, gate biases {setup.gate_bias})",
            "",
            head,
            "|---|---|---|---|---|",
            paper_row,
            *rows,
            "| ours, modern | see the table above | | | |",
            "",
            "\n\n".join(machines),
            "",
        ]
        if name == "reber":
            parts += _table_1_rows(runs)
    path = runs / "continual_reber.json"
    if path.exists():
        data = json.loads(path.read_text())
        limit = data.get("stream_limit")
        limit = f", or at the end of the string after {limit:,} right predictions" if limit else ""
        parts += [
            "## The forget gate: continual embedded Reber (Gers, Schmidhuber & Cummins 2000, Exp. 1)",
            "",
            f"{data['networks']} networks per cell, each trained online on {data['train_symbols']:,} symbols "
            f"of concatenated strings (a stream ends at the first wrong prediction{limit}; the next starts "
            f"from a reset network), then tested on a fresh stream: the successive right predictions, up to "
            f"{data['test_cap']:,} (the paper's \"perfect\" is 10^6).",
            "",
            "| cell | networks | reached the cap | test run: median (range) | longest training run: median |",
            "|---|---|---|---|---|",
            "| paper (its abstract) | | standard LSTM fails the continual task; with forget gates it "
            "solves it | | |",
        ]
        for forget, label in ((False, "1997 cell, no resets"), (True, "forget gates")):
            rs = [t for t in data["trials"] if t["forget"] == forget]
            perfect = sum(t["test_run"] >= data["test_cap"] for t in rs)
            parts.append(f"| {label} | {len(rs)} | {perfect} | {_spread([t['test_run'] for t in rs])} | "
                         f"{np.median([t['longest_training_run'] for t in rs]):,.0f} |")
        parts += ["", "The cell states of each cell's best network over a test stream: "
                  "`experiments/figures/continual_cell_states.png` "
                  "(`python experiments/protocol1997.py plot`).", "", f"Run: {_machine(data)}.", ""]
    path = runs / "ablation.json"
    if path.exists():
        data = json.loads(path.read_text())
        budget = ", ".join(f"{k} {v}" for k, v in data["budget"].items())
        parts += [
            "## Gate by gate (in the spirit of Greff et al. 2017), embedded Reber",
            "",
            f"Same budget for every cell ({budget}; Adam), test set of 256 strings. Plot: "
            "`lstm/runs1997/ablation.png` (`python experiments/ablation.py --from-runs`).",
            "",
            ablation.table(data),
            "",
            f"Run: {_machine(data)}.",
            "",
        ]
    return "\n".join(parts)


def _table_1_rows(runs: Path) -> list[str]:
    """Markdown: Reber per row of the paper's Table 1 (network x learning rate), from the rows' run files."""
    from lstm.paper1997 import REBER_NETWORKS, TABLE_1, reber_setup

    rows, machines = [], []
    for (network, lr), (success, sequences) in TABLE_1.items():
        stem = "reber" if (network, lr) == ("3x2", 0.5) else f"reber_{network}_lr{lr:g}"
        paths = [runs / f"{stem}.json", *sorted(runs.glob(f"{stem}_from_seed*.json"))]
        files = [json.loads(path.read_text()) for path in paths if path.exists()]
        if not files:
            continue
        trials = [t for data in files for t in data["trials"]]
        ok = [t for t in trials if t["stopped"]]
        blocks, cells = REBER_NETWORKS[network]
        weights = reber_setup(network, lr).shape.n_weights()
        label = f"{blocks} blocks of {cells}, {weights} weights, lr {lr:g}"
        limits = " / ".join(f"{limit:,}" for limit in sorted({data["limit"] for data in files}))
        rows.append(f"| {label} | {success} % of 30, {sequences:,} | {len(ok)} of {len(trials)} "
                    f"| {_spread([t['sequences'] for t in ok])} | {limits} "
                    f"| {_strings_right(trials, 'train')} | {_strings_right(trials, 'test')} |")
        machines += [f"- {label}, seeds {data['trials'][0]['seed']}-{data['trials'][-1]['seed']}: "
                     f"{_machine(data)}." for data in files]
    if len(rows) < 2:
        return []
    return [
        "#### Every row of the paper's Table 1 (weights changed after every symbol, the next symbol as the "
        "target)",
        "",
        "The paper: the share of its 30 trials (3 pairs of training and test sets x 10) that succeeded and "
        "their mean number of training sequences. Ours: the median (range) over our trials.",
        "",
        "| network, learning rate | paper: successful, sequences | ours: successful | sequences to success "
        "| limit | training strings right | test strings right |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Runs:",
        "",
        *machines,
        "",
    ]


def main_1997(args) -> int:
    sys.path.insert(0, str(HERE))
    import protocol1997

    # --quick: 50 sequences per trial under --out, a plumbing check; else the committed runs1997/
    runs = args.out if args.quick else protocol1997.RUNS
    if not args.from_runs:
        tasks = [t for t in args.tasks if t in protocol1997.SETUPS]
        with threadpool_limits(args.threads):
            protocol1997.run_1997(tasks, args.trials or 2, runs, log=lambda s: print(s, flush=True),
                                  limit=50 if args.quick else None)
    text = tables_1997(runs)
    if args.quick:
        text = "**--quick: 50 training sequences per trial, a plumbing check; not results.**\n\n" + text
    results = args.results or (args.out / "results.md" if args.quick else HERE / "results.md")
    write_section(results, "1997", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
