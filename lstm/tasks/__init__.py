"""Seeded batch generators for the LSTM's training tasks, in plain NumPy.

    from lstm.tasks import make_task
    task = make_task("adding", T=100)
    batch = task.batch(32, np.random.default_rng(0))    # Batch(x, y, mask)
    task.evaluate(predict)                              # {"loss": ..., "error_rate": ...}

Every task has the interface of `Task` (see base.py); `TASKS` names them all.
"""

from .adding import AddingProblem
from .base import Batch, Task
from .chars import CharCorpus
from .copying import CopyTask
from .reber import EmbeddedReber
from .temporal_order import TemporalOrder

TASKS: dict[str, type[Task]] = {
    task.name: task for task in (AddingProblem, TemporalOrder, EmbeddedReber, CopyTask, CharCorpus)
}


def make_task(name: str, **kwargs) -> Task:
    """The task called `name`, built with `kwargs`; a ValueError listing the names if unknown."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name](**kwargs)


__all__ = [
    "TASKS",
    "AddingProblem",
    "Batch",
    "CharCorpus",
    "CopyTask",
    "EmbeddedReber",
    "Task",
    "TemporalOrder",
    "make_task",
]
