"""lstm.allocator: training keeps freed memory instead of page-faulting its graph back in every step.

Page faults are counted, not timed: the same configuration faults the same way whatever the machine's load.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lstm import allocator

ROOT = Path(__file__).resolve().parent.parent

# Trains a few steps of a configuration whose graph (about 6 MB a step) glibc, by default, hands back to
# the system after every step; prints the metrics' median faults per step as JSON.
SCRIPT = """
import json, sys
import lstm.allocator
if sys.argv[1] == "default":
    lstm.allocator.keep_freed_memory = lambda: False
from lstm.train import TrainConfig, train
config = TrainConfig(task="chars", hidden=64, batch=32, seq_len=50, steps=25, eval_every=0)
print(json.dumps(train(config, progress=False).metrics()["page_faults_per_step"]))
"""

glibc_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc is Linux's")


def _faults_per_step(policy: str) -> float:
    out = subprocess.run([sys.executable, "-c", SCRIPT, policy], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={"OPENBLAS_NUM_THREADS": "1", "PATH": ""})  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


@glibc_only
def test_training_faults_at_most_one_percent_of_what_the_default_allocator_does():
    default, kept = _faults_per_step("default"), _faults_per_step("kept")
    assert default > 200, default  # the configuration does fault without the policy: the test can fail
    assert kept <= default / 100, (kept, default)


@glibc_only
def test_the_policy_is_applied_once_and_reports_it():
    assert allocator.keep_freed_memory() is True
    assert allocator.keep_freed_memory() is True
    assert isinstance(allocator.minor_faults(), int)
