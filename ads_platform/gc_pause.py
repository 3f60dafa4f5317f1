"""Pausing Python's cycle collector while a pull turns pages into rows.

Why: a range of insights is hundreds of thousands of small dicts and strings decoded
from JSON and held until the range is validated.  Each allocation counts towards the
cycle collector's next pass, and as the heap of live rows grows its full passes walk
all of them again: on a 90-day pull of 3 × 300 ads, collections took 0.6 of the 1.1
CPU-seconds of the parse stage (``benchmarks/ingest_throughput.py``, 2026-11-30).  The
rows hold no reference cycles, so reference counting frees them whether or not the
collector runs; pausing it only delays the collection of cycles other code makes
meanwhile, until the pause ends.

The pause is counted, not a bare ``gc.disable()``: a run pulls several accounts on
threads of one process, and the collector comes back when the last pull leaves its
block, and only if it was running when the first one entered (a process that turned it
off itself keeps it off).
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """The cycle collector off for the block (and for any other block open meanwhile)."""
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
