"""lstm.allocator: training keeps freed memory instead of page-faulting its graph back in every step.

Page faults are counted, not timed: the same workload faults the same way whatever the machine's load.
The workload is a step's pattern of memory use (many arrays alive together, then all freed), in a fresh
process each, since the policy is process-wide; `tests/test_train.py`-style runs of the trainer would
depend on the heap's history, which glibc's moving thresholds make erratic for small graphs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lstm import allocator, train

ROOT = Path(__file__).resolve().parent.parent

# 200 arrays of 256 KiB (50 MiB) alive together, then freed, 12 times: the faults of the last 10 as JSON.
SCRIPT = """
import json, sys
import numpy as np
from lstm import allocator
if sys.argv[1] == "kept":
    allocator.keep_freed_memory()
faults = []
for _ in range(12):
    before = allocator.minor_faults()
    arrays = [np.ones(32768) for _ in range(200)]
    del arrays
    faults.append(allocator.minor_faults() - before)
print(json.dumps(faults[2:]))
"""

glibc_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc is Linux's")


def _faults(policy: str) -> list[int]:
    out = subprocess.run([sys.executable, "-c", SCRIPT, policy], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={"OPENBLAS_NUM_THREADS": "1", "PATH": ""})  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


@glibc_only
def test_freed_memory_is_reused_instead_of_faulted_back_in():
    default, kept = _faults("default"), _faults("kept")
    assert min(default) > 10_000, default  # by default every "step" faults its 50 MiB back in
    assert sum(kept) <= sum(default) / 100, (kept, default)


@glibc_only
def test_the_policy_is_applied_once_and_reports_it():
    assert allocator.keep_freed_memory() is True
    assert allocator.keep_freed_memory() is True
    assert isinstance(allocator.minor_faults(), int)


def test_training_applies_the_policy_and_reports_faults_per_step(monkeypatch):
    calls = []
    monkeypatch.setattr(allocator, "keep_freed_memory", lambda: calls.append(1) or True)
    config = train.TrainConfig(task="adding", seq_len=22, hidden=4, batch=2, steps=12, eval_every=0)
    metrics = train.train(config, progress=False).metrics()
    assert calls == [1]
    if allocator.minor_faults() is not None:
        assert isinstance(metrics["page_faults_per_step"], float) and metrics["page_faults_per_step"] >= 0


def test_training_runs_where_faults_cannot_be_counted(monkeypatch):
    # Windows, and the browser: Pyodide's resource module has no getrusage
    monkeypatch.setattr(allocator, "getrusage", None)
    assert allocator.minor_faults() is None
    config = train.TrainConfig(task="adding", seq_len=22, hidden=4, batch=2, steps=12, eval_every=0)
    assert train.train(config, progress=False).metrics()["page_faults_per_step"] is None
