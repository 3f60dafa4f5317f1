"""Ingestion runs in processes of their own, as Dagster's run launcher starts them.

Runs that overlap in time, and a run worker killed with SIGKILL, need separate
processes: Dagster's in-process execution is not thread-safe (two runs in threads of
one process deadlock on its logging and SQLite locks), and a killed thread is no test
of a killed process.  Starting ``python`` for each run costs seconds of imports, so
the runs are forked from a ``multiprocessing`` fork server that imported the
definitions once: each run is a fresh process with the platform already loaded.

``write_pause``: the run pauses half-way through the ``nth`` write of an
``ad_insights_daily`` partition (half of the Parquet bytes in the temporary file,
fsynced), writes ``marker`` (JSON: pid, temporary file, bytes written, file size) and
waits to be killed.  Writing a small partition takes milliseconds, so killing "during
a write" by timing alone would be a race; this makes the moment observable.  It hooks
``pyarrow.parquet.write_table`` as the lake calls it; if the lake stops writing that
way the marker never appears and the test fails saying so.
"""

from __future__ import annotations

import functools
import io
import json
import multiprocessing
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any

import dagster as dg

PAUSE_SECONDS = 600


@functools.cache
def context() -> ForkServerContext:
    """The fork server context, its server importing the definitions once (it starts
    with the first run and ends with the test session)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["ads_platform_tests.platform_defs", "ads_platform.demo"])
    return ctx


@dataclass(frozen=True)
class WritePause:
    marker: str
    nth: int


def _path_of(handle: Any) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{handle.fileno()}")
    except (AttributeError, OSError, ValueError):
        return str(handle)


def _install_write_pause(pause: WritePause) -> None:
    import pyarrow.parquet as pq

    real = pq.write_table
    seen = 0

    def write_table(table: Any, where: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal seen
        path = _path_of(where)
        if "/ad_insights_daily/" in path and path.endswith(".tmp"):
            seen += 1
            if seen == pause.nth:
                buffer = io.BytesIO()
                real(table, buffer, *args, **kwargs)
                data = buffer.getvalue()
                where.write(data[: len(data) // 2])
                where.flush()
                os.fsync(where.fileno())
                info = {"pid": os.getpid(), "temp": path, "written": len(data) // 2}
                Path(pause.marker).write_text(json.dumps({**info, "size": len(data)}))
                time.sleep(PAUSE_SECONDS)
                raise RuntimeError("the test was to kill this run during a partition write")
        real(table, where, *args, **kwargs)

    pq.write_table = write_table


def run_insights(
    env: Mapping[str, str],
    instance_ref: Any,
    start_key: str,
    end_key: str,
    result_path: str,
    pause: WritePause | None = None,
) -> None:
    """One ``ad_insights_daily`` run over ``start_key..end_key`` (a range or rectangle).

    Writes ``{"run_id", "success", "errors"}`` to ``result_path``; ``errors`` are the
    step failure messages.
    """
    os.environ.update(env)
    if pause is not None:
        _install_write_pause(pause)
    from ads_platform.demo import materialize
    from ads_platform.partitions import range_tags
    from ads_platform_tests.platform_defs import defs

    with dg.DagsterInstance.from_ref(instance_ref) as instance:
        result = materialize(
            defs,
            instance,
            ["ad_insights_daily"],
            tags=range_tags(start_key, end_key),
            log_level="WARNING",
        )
        errors = [
            event.step_failure_data.error.message
            for event in result.all_events
            if event.is_step_failure and event.step_failure_data.error is not None
        ]
        Path(result_path).write_text(
            json.dumps({"run_id": result.run_id, "success": result.success, "errors": errors})
        )
