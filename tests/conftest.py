"""Test settings shared by every test file.

Hypothesis: no per-example deadline (a first call can be slow while NumPy warms up) and, under CI
(``CI`` set), a fixed seed so that a run is reproducible; locally each run explores new examples.
The default dtype is reset around every test, so a test that switches to float32 cannot leak it.
"""

import os

import numpy as np
import pytest
from hypothesis import settings

import minigrad as mg

settings.register_profile("dev", deadline=None, print_blob=True)
settings.register_profile("ci", parent=settings.get_profile("dev"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(autouse=True)
def _default_dtype_is_float64():
    mg.set_default_dtype(np.float64)
    yield
    mg.set_default_dtype(np.float64)
