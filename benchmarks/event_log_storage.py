"""Event writes: Dagster's stock SQLite event log against the platform's pooled one.

Stores the same asset materializations (one run, a handful of assets, as a marts build
or a backfill run writes them) through ``SqliteEventLogStorage`` and through
``ads_platform.instance_storage.PooledSqliteEventLogStorage`` in fresh folders, and
prints milliseconds per event for each and their ratio.  Measured back to back in one
process; say the machine's load with the figures.

    .venv/bin/python benchmarks/event_log_storage.py [--events 300]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300)
    args = parser.parse_args()

    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    from ads_platform.instance_storage import PooledSqliteEventLogStorage
    from ads_platform_tests.events import materialization_entry

    timings: dict[str, float] = {}
    for name, cls in (("stock", SqliteEventLogStorage), ("pooled", PooledSqliteEventLogStorage)):
        storage = cls(tempfile.mkdtemp(prefix=f"events-{name}-"))
        started = time.perf_counter()
        for n in range(args.events):
            storage.store_event(materialization_entry("bench-run", n, assets=60))
        timings[name] = time.perf_counter() - started
        assert len(storage.get_logs_for_run("bench-run")) == args.events
        storage.dispose()
        per_event = timings[name] / args.events * 1000
        seconds = timings[name]
        print(f"{name:7} {args.events} materializations, {seconds:.2f} s: {per_event:.1f} ms each")
    print(f"ratio   stock / pooled = {timings['stock'] / timings['pooled']:.1f}x")
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
