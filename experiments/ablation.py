"""Gate by gate: the standard LSTM against each cell with one part removed, on the embedded Reber task.

    python experiments/ablation.py                 # 8 cells x 4 seeds, a few minutes on one core
    python experiments/ablation.py --from-runs     # redraw the plot and the table from runs_ablation.json

In the spirit of Greff et al. 2017 ("LSTM: A Search Space Odyssey"): every cell is trained with the same
budget (Adam, the same steps, batch and hidden size, through minigrad's primitive-op graph), several seeds
each, and scored on the task's 256 test strings. The Reber strings are reset at each start, so this task
asks for memory over a string, not for forgetting between strings (notebook 06 and the continual task of
experiments/protocol1997.py show that one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import minigrad as mg
from lstm.models import SequenceModel
from lstm.paper1997 import RUNS_DIR
from lstm.tasks.reber import EmbeddedReber
from lstm.train import predictor, train_step

HERE = Path(__file__).resolve().parent
RESULTS = RUNS_DIR / "ablation.json"
CELLS = ("standard", "no_input_gate", "no_forget_gate", "no_output_gate", "no_input_activation",
         "no_output_activation", "peephole", "coupled")
LABELS = {"standard": "standard", "no_input_gate": "NIG", "no_forget_gate": "NFG", "no_output_gate": "NOG",
          "no_input_activation": "NIAF", "no_output_activation": "NOAF", "peephole": "peephole (PH)",
          "coupled": "coupled (CIFG)"}
BUDGET = {"hidden": 16, "batch": 16, "steps": 600, "lr": 1e-2, "clip": 1.0}


def trial(variant: str, seed: int, budget: dict = BUDGET) -> dict:
    """Train one cell on embedded Reber with ``budget``; its test scores and the wall time."""
    task = EmbeddedReber()
    rng = np.random.default_rng(seed)
    forget_bias = 0.0 if variant == "no_forget_gate" else 1.0
    model = SequenceModel(task.input_size, budget["hidden"], task.output_size, per_step=True,
                          forget_bias=forget_bias, rng=rng, variant=variant)
    opt = mg.optim.Adam(model.parameters(), lr=budget["lr"])
    start = time.perf_counter()
    for _ in range(budget["steps"]):
        opt.zero_grad()
        train_step(model, task, task.batch(budget["batch"], rng))
        mg.optim.clip_grad_norm(model.parameters(), budget["clip"])
        opt.step()
    scores = task.evaluate(predictor(model))
    return {"variant": variant, "seed": seed, **scores, "wall_seconds": round(time.perf_counter() - start, 1)}


def plot(results: list[dict], path: Path) -> None:
    """Each cell's test loss (left, above the ideal predictor's) and test strings right (right): the
    median over seeds (bar) and each seed (dot)."""
    from lstm.plots import _pyplot
    from lstm.tasks.reber import grammar_logits

    plt = _pyplot()
    ideal = EmbeddedReber().evaluate(grammar_logits)["loss"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, key, scale in ((axes[0], "loss", 1), (axes[1], "fraction_correct", 100)):
        for k, cell in enumerate(CELLS):
            values = [scale * r[key] for r in results if r["variant"] == cell]
            ax.bar(k, np.median(values), color="#9ecae1" if cell != "standard" else "#3182bd", width=0.6)
            ax.plot([k] * len(values), values, "k.", markersize=7)
        ax.set_xticks(range(len(CELLS)), [LABELS[c] for c in CELLS], rotation=30, fontsize=8)
    axes[0].axhline(ideal, color="tab:red", ls="--", lw=1, label=f"ideal predictor {ideal:.3f}")
    axes[0].set_ylim(ideal - 0.02, None)
    axes[0].legend(loc="lower right", fontsize=8)
    axes[0].set_ylabel("test loss (nats per symbol)")
    axes[1].set_ylabel("test strings right at every step (%)")
    fig.suptitle("Embedded Reber, the same budget for every cell: median over seeds (bar), each seed (dot)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(data: dict) -> str:
    lines = ["| cell | test loss: median (range) | test strings right: median (range) | seeds |",
             "|---|---|---|---|"]
    for cell in CELLS:
        rs = [r for r in data["trials"] if r["variant"] == cell]
        loss = [r["loss"] for r in rs]
        right = [r["fraction_correct"] for r in rs]
        lines.append(f"| {LABELS[cell]} | {np.median(loss):.3f} ({min(loss):.3f}-{max(loss):.3f}) "
                     f"| {np.median(right):.1%} ({min(right):.1%}-{max(right):.1%}) | {len(rs)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--from-runs", action="store_true", help="train nothing: redraw from " + str(RESULTS))
    args = p.parse_args(argv)
    if args.from_runs:
        data = json.loads(RESULTS.read_text())
    else:
        sys.path.insert(0, str(HERE))
        from protocol1997 import _revision, _save

        load, start, results, revision = os.getloadavg()[0], time.perf_counter(), [], _revision()
        with threadpool_limits(1):
            for cell in CELLS:
                for seed in range(args.seeds):
                    results.append(trial(cell, seed))
                    print(results[-1], flush=True)
        data = {"budget": BUDGET, "trials": results, "revision": revision,
                "load_average": [round(load, 2), round(os.getloadavg()[0], 2)],
                "wall_seconds": round(time.perf_counter() - start, 1)}
        _save(RESULTS, data)
    plot(data["trials"], RUNS_DIR / "ablation.png")
    print(table(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
