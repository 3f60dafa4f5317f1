"""Backfill benchmark: 10 accounts × ~100 active ads × 90 days through Dagster's backfill path.

Starts the sandbox in a subprocess (50 ms latency per request), launches one backfill
of ``ad_insights_daily`` through Dagster's own backfill daemon iteration (runs launched
by this process as ``ads-platform backfill --wait`` without a daemon does: each run in a
forked child, up to the run queue's limit at once) and prints:
wall seconds, Dagster runs, API calls (and the pages strictly needed), rows, rows per
second and peak memory.

    .venv/bin/python benchmarks/backfill_benchmark.py [--accounts 10] [--days 90] [--ads 100]

Targets (issue 13, target 1): < 15 s wall at 10 × 100 × 90 and 50 ms, API calls ≤ 1.1×
the pages needed, peak < 1 GiB; at 0 ms latency and 300 ads (target 3): ≥ 30,000 rows/s.
``--sequential`` launches the runs one after another in this process (the tests' launcher)
for a back-to-back comparison; ``--json PATH`` writes the figures for ``make bench``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.figures import Figure, load_average, write_json


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--ads", type=int, default=100)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument(
        "--instance",
        choices=["shipped", "stock"],
        default="shipped",
        help="shipped: the dagster.yaml `ads-platform` installs (pooled SQLite storage); "
        "stock: Dagster's own SQLite storage (dg.instance_for_test), for comparison",
    )
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="the shipped instance with runs launched one after another in this process",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()

    from ads_platform.demo import write_demo_settings
    from ads_platform.sandbox import Sandbox

    home = Path(tempfile.mkdtemp(prefix="ads_bench_"))
    with Sandbox(
        seed=3,
        accounts=args.accounts,
        latency_ms=args.latency_ms,
        ads_per_account=args.ads,
        subprocess=True,
    ) as sandbox:
        today = sandbox.today()
        until = today - dt.timedelta(days=1)
        since = until - dt.timedelta(days=args.days - 1)
        config_path, tokens = write_demo_settings(
            home, sandbox.base_url, sandbox.account_ids, start_date=since - dt.timedelta(days=5)
        )
        os.environ.update(tokens)
        os.environ["ADS_PLATFORM_CONFIG"] = str(config_path)
        os.environ["ADS_PLATFORM_HOME"] = str(home)

        from dagster._core.execution.backfill import BulkActionStatus

        from ads_platform.demo import materialize
        from ads_platform.partitions import key_for
        from ads_platform_tests.launch import SYNC_LAUNCH_OVERRIDES, backfill_through_daemon
        from ads_platform_tests.platform_defs import defs

        logging.getLogger("dagster").setLevel(logging.WARNING)
        if args.instance == "shipped":
            from dagster._core.instance.ref import InstanceRef

            from ads_platform.backfill import launching_instance
            from ads_platform.demo import install_instance_config

            dagster_home = home / "dagster"
            install_instance_config(dagster_home)
            os.environ["DAGSTER_HOME"] = str(dagster_home)
            opened = (
                dg.DagsterInstance.from_ref(
                    InstanceRef.from_dir(str(dagster_home), overrides=SYNC_LAUNCH_OVERRIDES)
                )
                if args.sequential
                else launching_instance(dagster_home)
            )
        else:
            opened = dg.instance_for_test(overrides=SYNC_LAUNCH_OVERRIDES)
        with opened as instance:
            assert materialize(defs, instance, ["ad_accounts"]).success
            accounts = sorted(sandbox.account_ids)
            keys = [
                str(key_for(a, since + dt.timedelta(days=i)))
                for a in accounts
                for i in range(args.days)
            ]
            sandbox.reset_stats()
            runs_before = len(instance.get_runs())
            started = time.monotonic()
            status = backfill_through_daemon(
                instance, keys, ["ad_insights_daily"], backfill_id="bench"
            )
            wall = time.monotonic() - started
            runs = len(instance.get_runs()) - runs_before
            materialized = set(
                instance.get_materialized_partitions(dg.AssetKey("ad_insights_daily"))
            )
            stats = sandbox.stats()
            storage = instance.event_log_storage

    usage = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(u.ru_utime + u.ru_stime for u in usage)
    glob = str(home / "lake" / "ad_insights_daily" / "**" / "*.parquet")
    per_account = duckdb.sql(
        f"select account_id, count(*) from read_parquet('{glob}') group by 1"
    ).fetchall()
    rows = sum(n for _, n in per_account)
    page_limit = 500
    ranges_per_account = math.ceil(args.days / 31)
    needed = (
        sum(math.ceil(n / page_limit) for _, n in per_account)
        + len(per_account) * ranges_per_account
    )
    insight_calls = sum(n for p, n in stats["by_path"].items() if p.endswith("/insights"))
    self_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    launch = "sequential" if args.sequential or args.instance == "stock" else "forked"
    print(f"instance               {args.instance} ({type(storage).__name__}), runs {launch}")
    print(f"backfill status        {status}")
    done = len(set(keys) & materialized)
    print(f"partitions             {len(keys)} requested, {done} materialized")
    print(f"wall seconds           {wall:.1f}")
    print(f"dagster runs           {runs}")
    print(f"api calls (all)        {stats['total']}")
    ratio = insight_calls / max(needed, 1)
    print(f"api calls (insights)   {insight_calls} (pages needed: {needed}; ratio {ratio:.2f})")
    print(f"rows                   {rows}")
    print(f"rows per second        {rows / wall:.0f}")
    print(f"peak RSS (MiB)         this process {self_peak:.0f}, largest child {child_peak:.0f}")
    print(f"CPU seconds            {cpu:.1f} in all processes (this, its runs, the sandbox)")
    print(f"machine                {load_average()}")
    size = f"{args.accounts} accounts × {args.ads} ads × {args.days} days, {args.latency_ms} ms"
    fast = args.latency_ms == 0
    write_json(
        args.json,
        [
            Figure(
                f"backfill wall s ({size})",
                f"{wall:.1f}",
                "" if fast else "< 15 s",
                None if fast else wall < 15,
                f"{runs} runs, {launch}; {cpu:.0f} CPU-s in all processes on "
                f"{os.cpu_count()} cores",
            ),
            Figure(
                f"backfill end-to-end rows/s ({size})",
                f"{rows / wall:,.0f}",
                "≥ 30,000" if fast else "",
                rows / wall >= 30_000 if fast else None,
                f"{rows:,} rows",
            ),
            Figure(
                f"backfill insights calls / pages needed ({size})",
                f"{ratio:.2f}",
                "≤ 1.1",
                ratio <= 1.1,
                f"{insight_calls} calls for {needed} pages",
            ),
            Figure(
                f"backfill peak RSS MiB ({size})",
                f"{max(self_peak, child_peak):.0f}",
                "< 1024",
                max(self_peak, child_peak) < 1024,
            ),
        ],
    )
    return 0 if status == BulkActionStatus.COMPLETED_SUCCESS else 1


if __name__ == "__main__":
    raise SystemExit(main())
