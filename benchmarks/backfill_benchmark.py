"""Backfill benchmark: 10 accounts × ~100 active ads × 90 days through Dagster's backfill path.

Starts the sandbox in a subprocess (50 ms latency per request), launches one backfill
of ``ad_insights_daily`` through Dagster's own backfill daemon iteration (runs executed
by this process as ``ads-platform backfill --wait`` without a daemon does: each run in a
forked child, up to the run queue's limit at once) and prints: wall seconds, Dagster
runs, API calls (and the pages strictly needed), rows, rows per second, peak memory and
the CPU seconds of every process.

    .venv/bin/python benchmarks/backfill_benchmark.py [--accounts 10] [--days 90] [--ads 100]

Targets (issue 13, target 1): < 15 s wall at 10 × 100 × 90 and 50 ms, API calls ≤ 1.1×
the pages needed, peak < 1 GiB; at 0 ms latency and 300 ads (target 3): ≥ 30,000 rows/s.
``--sequential`` launches the runs one after another in this process (the tests' launcher)
for a back-to-back comparison; ``--json PATH`` writes the figures for ``make bench``.

:func:`run_backfill` is the measurement on a sandbox the caller started, so
``benchmarks/peers.py`` runs the very same backfill beside Airbyte's connector and
tap-facebook against one sandbox.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import math
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.figures import Figure, load_average, process_cpu, write_json

PAGE_LIMIT = 500


@dataclass(frozen=True)
class BackfillResult:
    """What one backfill of ``ad_insights_daily`` did, read back from Dagster and the lake."""

    instance: str
    storage: str
    status: Any
    keys: list[str]
    materialized: int
    wall: float
    runs: int
    stats: dict[str, Any]
    rows_by_account: dict[str, int]
    days: int
    cpu: float = 0.0  # CPU seconds of this process and its runs during the backfill
    runs_cpu: float = 0.0  # of them, the forked runs' (ended children of this process)
    sandbox_cpu: float = 0.0  # the sandbox's own, serving the backfill (same cores)
    phases: dict[str, float] | None = None  # :func:`run_phases` of the backfill's runs

    @property
    def rows(self) -> int:
        return sum(self.rows_by_account.values())

    @property
    def succeeded(self) -> bool:
        from dagster._core.execution.backfill import BulkActionStatus

        return bool(self.status == BulkActionStatus.COMPLETED_SUCCESS)

    @property
    def pages_needed(self) -> int:
        """Pages strictly needed: each account's rows in 500-row pages, one call per 31 days."""
        ranges_per_account = math.ceil(self.days / 31)
        return sum(
            math.ceil(n / PAGE_LIMIT) + ranges_per_account for n in self.rows_by_account.values()
        )

    @property
    def insight_calls(self) -> int:
        return sum(n for p, n in self.stats["by_path"].items() if p.endswith("/insights"))


def cpu_seconds(*who: int) -> float:
    """User and system CPU seconds of this process and its ended children (or of ``who``)."""
    usage = [resource.getrusage(w) for w in who or (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


#: A run's phases, each ending at the first event of the kind named (see :func:`run_phases`).
PHASES: tuple[tuple[str, str], ...] = (
    ("queued and launched", "PIPELINE_START"),
    ("run start-up", "STEP_START"),
    ("pull (fetch, frame, validate, write)", "ASSET_MATERIALIZATION"),
    ("reporting partitions", "STEP_SUCCESS"),
    ("run end", "PIPELINE_SUCCESS"),
)


def phase_shares(phases: dict[str, float]) -> str:
    """``pull 61 %, run start-up 20 %, …``: each phase's share of the runs' summed time."""
    total = sum(phases.values())
    if not total:
        return ""
    ranked = sorted(phases.items(), key=lambda item: -item[1])
    return ", ".join(f"{name} {100 * seconds / total:.0f} %" for name, seconds in ranked)


def run_phases(instance: dg.DagsterInstance, run_ids: list[str]) -> dict[str, float]:
    """Wall seconds of each phase of :data:`PHASES`, summed over the runs.

    Why: what stands in the way of the end-to-end target is the share of the runs'
    time that is not the pull itself.  From each run's creation to its first event of
    each kind; the pull ends where the first partition is reported, since the asset
    reports every partition after its pull (:mod:`ads_platform.assets.reporting`).
    Runs overlap, so these are shares of the runs' summed time, not of the wall.
    """
    totals = dict.fromkeys((name for name, _ in PHASES), 0.0)
    for run_id in run_ids:
        record = instance.get_run_record_by_id(run_id)
        if record is None or record.create_timestamp is None:
            continue
        firsts: dict[str, float] = {}
        for entry in instance.all_logs(run_id):
            kind = entry.dagster_event.event_type_value if entry.dagster_event else ""
            firsts.setdefault(kind, entry.timestamp)
        mark = record.create_timestamp.timestamp()
        for name, kind in PHASES:
            if kind in firsts:
                totals[name] += max(0.0, firsts[kind] - mark)
                mark = firsts[kind]
    return totals


def bench_sandbox(accounts: int, ads: int, latency_ms: int, **options: Any) -> Any:
    """The benchmarks' sandbox (seed 3) in a subprocess: the backfill's and the peers' own."""
    from ads_platform.sandbox import Sandbox

    return Sandbox(
        seed=3,
        accounts=accounts,
        latency_ms=latency_ms,
        ads_per_account=ads,
        subprocess=True,
        **options,
    )


POSTGRES_YAML = Path(__file__).resolve().parent.parent / "deploy" / "dagster.postgres.yaml"


def closed_window(sandbox: Any, days: int) -> tuple[dt.date, dt.date]:
    """The last ``days`` closed days of the sandbox's clock: (since, until)."""
    until = sandbox.today() - dt.timedelta(days=1)
    return until - dt.timedelta(days=days - 1), until


def run_backfill(
    sandbox: Any,
    home: Path,
    *,
    since: dt.date,
    days: int,
    instance: str = "shipped",
    sequential: bool = False,
) -> BackfillResult:
    """One backfill of every sandbox account's ``since`` .. ``since + days - 1`` through
    Dagster's backfill daemon iteration, with the sandbox's stats reset just before it.

    Sets the platform's environment (settings, tokens, ``ADS_PLATFORM_HOME``, and
    ``DAGSTER_HOME`` for the shipped instance) in this process: the definitions read it.
    """
    from ads_platform.demo import write_demo_settings

    config_path, tokens = write_demo_settings(
        home, sandbox.base_url, sandbox.account_ids, start_date=since - dt.timedelta(days=5)
    )
    os.environ.update(tokens)
    os.environ["ADS_PLATFORM_CONFIG"] = str(config_path)
    os.environ["ADS_PLATFORM_HOME"] = str(home)

    from ads_platform.demo import materialize
    from ads_platform.partitions import key_for
    from ads_platform_tests.launch import SYNC_LAUNCH_OVERRIDES, backfill_through_daemon
    from ads_platform_tests.platform_defs import defs

    logging.getLogger("dagster").setLevel(logging.WARNING)
    if instance in ("shipped", "postgres"):
        from dagster._core.instance.ref import InstanceRef

        from ads_platform.backfill import launching_instance
        from ads_platform.demo import install_instance_config

        dagster_home = home / "dagster"
        if instance == "shipped":
            install_instance_config(dagster_home)
        else:
            # The production instance as deploy/ ships it; the caller has set
            # DAGSTER_PG_URL to a database of its own.
            dagster_home.mkdir(parents=True, exist_ok=True)
            (dagster_home / "dagster.yaml").write_text(POSTGRES_YAML.read_text())
        os.environ["DAGSTER_HOME"] = str(dagster_home)
        opened: contextlib.AbstractContextManager[dg.DagsterInstance] = (
            dg.DagsterInstance.from_ref(
                InstanceRef.from_dir(str(dagster_home), overrides=SYNC_LAUNCH_OVERRIDES)
            )
            if sequential
            else launching_instance(dagster_home)
        )
    else:
        opened = dg.instance_for_test(overrides=SYNC_LAUNCH_OVERRIDES)
    with opened as dagster_instance:
        assert materialize(defs, dagster_instance, ["ad_accounts"]).success
        accounts = sorted(sandbox.account_ids)
        keys = [
            str(key_for(a, since + dt.timedelta(days=i))) for a in accounts for i in range(days)
        ]
        sandbox.reset_stats()
        runs_before = len(dagster_instance.get_runs())
        cpu_before = cpu_seconds()
        children_before = cpu_seconds(resource.RUSAGE_CHILDREN)
        sandbox_before = process_cpu(sandbox.pid)
        started = time.monotonic()
        status = backfill_through_daemon(
            dagster_instance, keys, ["ad_insights_daily"], backfill_id="bench"
        )
        wall = time.monotonic() - started
        cpu = cpu_seconds() - cpu_before
        runs_cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - children_before
        sandbox_cpu = process_cpu(sandbox.pid) - sandbox_before
        backfill_runs = dagster_instance.get_runs(
            filters=dg.RunsFilter(tags={"dagster/backfill": "bench"})
        )
        runs = len(dagster_instance.get_runs()) - runs_before
        phases = run_phases(dagster_instance, [r.run_id for r in backfill_runs])
        materialized = set(
            dagster_instance.get_materialized_partitions(dg.AssetKey("ad_insights_daily"))
        )
        stats = sandbox.stats()
        storage = type(dagster_instance.event_log_storage).__name__

    glob = str(home / "lake" / "ad_insights_daily" / "**" / "*.parquet")
    counted = duckdb.sql(
        f"select account_id, count(*) from read_parquet('{glob}', hive_partitioning=false) "
        "group by 1"
    )
    assert counted is not None  # a select always has a result
    per_account = counted.fetchall()
    return BackfillResult(
        instance=instance,
        storage=storage,
        status=status,
        keys=keys,
        materialized=len(set(keys) & materialized),
        wall=wall,
        runs=runs,
        stats=stats,
        rows_by_account={a: int(n) for a, n in per_account},
        days=days,
        cpu=cpu,
        runs_cpu=runs_cpu,
        sandbox_cpu=sandbox_cpu,
        phases=phases,
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--ads", type=int, default=100)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument(
        "--instance",
        choices=["shipped", "stock", "postgres"],
        default="shipped",
        help="shipped: the dagster.yaml `ads-platform` installs (pooled SQLite storage); "
        "stock: Dagster's own SQLite storage (dg.instance_for_test), for comparison; "
        "postgres: deploy/dagster.postgres.yaml on a fresh database of the server at "
        "127.0.0.1:5432 (its run queue allows 8 runs at once, the shipped file 4)",
    )
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="the shipped instance with runs launched one after another in this process",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="ads_bench_"))
    with contextlib.ExitStack() as stack:
        if args.instance == "postgres":
            from ads_platform_tests.postgres import connect, fresh_database

            admin = stack.enter_context(contextlib.closing(connect()))
            os.environ["DAGSTER_PG_URL"] = stack.enter_context(fresh_database(admin, "ads_bench"))
        sandbox = stack.enter_context(bench_sandbox(args.accounts, args.ads, args.latency_ms))
        since, _until = closed_window(sandbox, args.days)
        result = run_backfill(
            sandbox,
            home,
            since=since,
            days=args.days,
            instance=args.instance,
            sequential=args.sequential,
        )

    wall = result.wall
    self_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    cpu = cpu_seconds()
    launch = "sequential" if args.sequential or args.instance == "stock" else "forked"
    print(f"instance               {result.instance} ({result.storage}), runs {launch}")
    print(f"backfill status        {result.status}")
    print(
        f"partitions             {len(result.keys)} requested, {result.materialized} materialized"
    )
    print(f"wall seconds           {wall:.1f}")
    print(f"dagster runs           {result.runs}")
    print(f"api calls (all)        {result.stats['total']}")
    needed = result.pages_needed
    ratio = result.insight_calls / max(needed, 1)
    print(
        f"api calls (insights)   {result.insight_calls} (pages needed: {needed}; ratio {ratio:.2f})"
    )
    print(f"rows                   {result.rows}")
    print(f"rows per second        {result.rows / wall:.0f}")
    print(f"peak RSS (MiB)         this process {self_peak:.0f}, largest child {child_peak:.0f}")
    print(f"CPU seconds            {cpu:.1f} in all processes (this, its runs, the sandbox)")
    print(f"  in the backfill      {result.cpu:.1f} (this process and its runs, the sandbox apart)")
    print(
        f"  of which             {result.runs_cpu:.1f} in the forked runs, "
        f"{result.cpu - result.runs_cpu:.1f} in this process (the backfill daemon's "
        "iterations: run creation and launching)"
    )
    print(f"  the sandbox's        {result.sandbox_cpu:.1f} serving it, on the same cores")
    shares = phase_shares(result.phases or {})
    print(f"runs' time by phase    {shares or '(none: no backfill runs found)'}")
    print(f"machine                {load_average()}")
    rows = result.rows
    size = f"{args.accounts} accounts × {args.ads} ads × {args.days} days, {args.latency_ms} ms"
    if args.instance != "shipped":
        size += f", {args.instance} instance"
    fast = args.latency_ms == 0
    peak = max(self_peak, child_peak)
    write_json(
        args.json,
        [
            Figure(
                f"backfill wall s ({size})",
                f"{wall:.1f}",
                "" if fast else "< 15 s",
                None if fast else wall < 15,
                f"{result.runs} runs, {launch}; the backfill took {result.cpu:.0f} CPU-s in "
                f"this process and its runs (the sandbox's apart): at least "
                f"{result.cpu / (os.cpu_count() or 1):.0f} s on {os.cpu_count()} cores",
            ),
            Figure(
                f"backfill end-to-end rows/s ({size})",
                f"{rows / wall:,.0f}",
                "≥ 30,000" if fast else "",
                rows / wall >= 30_000 if fast else None,
                f"{rows:,} rows; CPU {result.runs_cpu:.1f} s in the runs, "
                f"{result.cpu - result.runs_cpu:.1f} s creating and launching them, "
                f"{result.sandbox_cpu:.1f} s in the sandbox serving the pages on the same "
                "cores"
                + (
                    f" (the target allows {rows / 30_000 * (os.cpu_count() or 1):.1f} CPU-s in all)"
                    if fast
                    else ""
                )
                + f"; the runs' time: {phase_shares(result.phases or {})}",
            ),
            Figure(
                f"backfill insights calls / pages needed ({size})",
                f"{ratio:.2f}",
                "≤ 1.1",
                ratio <= 1.1,
                f"{result.insight_calls} calls for {needed} pages",
            ),
            Figure(f"backfill peak RSS MiB ({size})", f"{peak:.0f}", "< 1024", peak < 1024),
        ],
    )
    return 0 if result.succeeded else 1


if __name__ == "__main__":
    raise SystemExit(main())
