"""Keep freed memory for the next training step, and count the page faults that would say otherwise.

A training step of the primitive-op LSTM keeps every value of its graph alive until the step ends (tens
of MB at a medium size), then frees it all. With glibc's default settings malloc hands the freed top of
its heap back to the operating system, and the next step page-faults the same amount back in: thousands
of faults, a sixth of a medium step's time. Two `mallopt` settings stop that: a high trim threshold (keep
up to 1 GiB of freed heap) and a fixed mmap threshold of 32 MiB (by default it moves with the sizes freed,
and drags the trim threshold along). Blocks under 32 MiB then come from the heap and are reused from step
to step; larger ones are still mapped and unmapped each time.

This is a policy of the whole process, chosen by the trainer (`lstm.train.train` calls
`keep_freed_memory`), not by importing minigrad: a process that trains keeps its peak memory until it
ends, which is what a training process wants. Where malloc is not glibc's (macOS, Windows, musl, the
browser) nothing is changed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

try:
    from resource import RUSAGE_SELF, getrusage
except ImportError:  # Windows; and the browser's (Pyodide's) resource module has no getrusage
    getrusage = None

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # the option numbers of glibc's malloc.h
TRIM_THRESHOLD = 1 << 30
MMAP_THRESHOLD = 32 << 20

def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse (see the module's docstring); True if it did.
    Calling it again changes nothing; it does nothing, and returns False, where malloc is not glibc's."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version"):  # not glibc (musl, say): these options are glibc's
        return False
    return bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and bool(
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def minor_faults() -> int | None:
    """Minor page faults of this process so far (None where the system does not count them)."""
    return getrusage(RUSAGE_SELF).ru_minflt if getrusage is not None else None
