"""Partition scale: what Dagster costs at 100, 300 and 1,000 ad accounts × 730 days.

The platform's real definitions (``ads_platform.definitions.build_definitions``) over
settings listing N synthetic accounts (``act_<n>``; they need not exist: this measures
Dagster, not ingestion) and a start date 730 days back, on a fresh SQLite instance
(the shipped ``dagster.yaml``) and a fresh PostgreSQL database (``deploy/dagster.postgres.yaml``,
a throwaway database on 127.0.0.1:5432, dropped at the end).  Per instance and N:

setup (one process)
  add partitions       ``instance.add_dynamic_partitions`` of the N accounts
  seed events          runless materializations of ``ad_insights_daily`` for the last
                       ``--materialized-days`` days of every account (so the UI's status has
                       something to show; not part of any platform path)
  create backfill      a 30-day backfill of every account through ``partition_backfill``, the
                       construction ``ads-platform backfill`` uses, and ``instance.add_backfill``
                       (created, not executed)
ticks (a fresh process: its peak RSS is the proxy for the daemon's memory)
  each sensor that looks at partitions, evaluated once as the daemon's code server does
  (``evaluate_tick``), ``entity_changes`` twice (its first tick only starts clocks), the
  declarative automation sensor through ``dg.evaluate_automation_conditions``, and the
  daily and intraday schedules at a tick where every account is due
daemon (a fresh process, with a code server as the daemon has; each step stops creating
runs at ``--budget`` seconds and reports how many it created and the seconds per run)
  scheduler submits    the daily schedule's run requests at that tick, each through the
                       scheduler daemon's own ``_submit_run_request`` (execution plan from
                       the code server, run created, submitted to the queue)
  backfill iteration   one pass of Dagster's backfill daemon loop over the backfill of
                       setup: the runs it creates are queued, not executed
ui (a fresh process)
  the asset page's ``PartitionHealthQuery`` (copied from the webapp) and ``partitionStats``
  for ``ad_insights_daily``, through dagster-graphql against a ``WorkspaceProcessContext``
  loading the code location as ``workspace.yaml`` does (a code server subprocess), cold and
  warm; the queued runs of the daemon phase show as materializing

Every step has a timeout (``--timeout``, 300 s): a step that overruns is reported as
"did not finish in N s" and the rest of its phase is skipped.  Figures are wall seconds
on a shared machine: quote them with ``uptime``.

    .venv/bin/python benchmarks/partition_scale.py [--accounts 100,300,1000]
        [--instances sqlite,postgres] [--days 730] [--backfill-days 30]
        [--materialized-days 2] [--timeout 300] [--budget 60]
        [--planned-subset]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import queue
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.figures import Figure, write_json  # noqa: E402

PG_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432"
MARK = "@@ "
PHASES = ("setup", "ticks", "daemon", "ui")
#: A tick time at which every account of a fresh lake (UTC: no time zone known yet) is
#: due in the daily schedule (local 03:xx) and the intraday one.
TICK_HOUR_UTC = 3
TOKEN_ENV = "SCALE_BENCH_TOKEN"
#: Dagster's switch: one planned event per asset and run instead of one per partition.
PLANNED_SUBSET_ENV = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
#: Seeded materializations end 0..STAGGER_DAYS-1 days back, by account.
STAGGER_DAYS = 10

PARTITION_HEALTH_QUERY = """
query PartitionHealthQuery($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    ... on AssetNode {
      id
      partitionKeysByDimension { name type partitionKeys }
      assetPartitionStatuses {
        ... on TimePartitionStatuses { ranges { status startTime endTime startKey endKey } }
        ... on DefaultPartitionStatuses {
          materializedPartitions materializingPartitions failedPartitions
        }
        ... on MultiPartitionStatuses {
          primaryDimensionName
          ranges {
            primaryDimStartKey primaryDimEndKey primaryDimStartTime primaryDimEndTime
            secondaryDim {
              ... on TimePartitionStatuses {
                ranges { status startTime endTime startKey endKey }
              }
              ... on DefaultPartitionStatuses {
                materializedPartitions materializingPartitions failedPartitions
              }
            }
          }
        }
      }
    }
  }
}
"""

PARTITION_STATS_QUERY = """
query AssetPartitionStats($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    ... on AssetNode {
      partitionStats { numMaterialized numMaterializing numFailed numPartitions }
    }
  }
}
"""


# --------------------------------------------------------------------------- child side


def emit(**data: Any) -> None:
    sys.stdout.write(MARK + json.dumps(data) + "\n")
    sys.stdout.flush()


@contextmanager
def step(name: str) -> Iterator[dict[str, Any]]:
    """Time the block; what it puts in the yielded dict becomes the step's note."""
    emit(start=name)
    extra: dict[str, Any] = {}
    began = time.perf_counter()
    yield extra
    emit(step=name, seconds=time.perf_counter() - began, **extra)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def account_ids(n: int) -> list[str]:
    return [f"act_{1_000_000_000 + i}" for i in range(n)]


def child(phase: str, args: argparse.Namespace) -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)

    import dagster as dg

    from ads_platform.definitions import load_definitions
    from ads_platform.settings import definition_settings

    settings = definition_settings()
    defs = load_definitions()
    instance = dg.DagsterInstance.get()
    emit(rss_after_load=peak_rss_mib())
    with instance:
        {"setup": setup_phase, "ticks": ticks_phase, "daemon": daemon_phase, "ui": ui_phase}[phase](
            args, settings, defs, instance
        )
    emit(rss=peak_rss_mib())


def last_days(settings: Any, count: int) -> list[dt.date]:
    from ads_platform.automation.common import partition_days

    first, last = partition_days(settings, dt.datetime.now(dt.UTC))
    assert last is not None
    return [d for d in (last - dt.timedelta(days=i) for i in range(count, 0, -1)) if d >= first]


def setup_phase(args: argparse.Namespace, settings: Any, defs: Any, instance: Any) -> None:
    import dagster as dg

    from ads_platform.backfill import partition_backfill, partition_keys
    from ads_platform.datasets import AD_INSIGHTS_DAILY
    from ads_platform.jobs import insights_keys
    from ads_platform.partitions import ad_accounts_partitions, key_for

    accounts = [a.id for a in settings.enabled_accounts]
    with step("add partitions") as note:
        instance.add_dynamic_partitions(ad_accounts_partitions.name, accounts)
        note["note"] = f"{len(accounts)} accounts"
    days = last_days(settings, args.materialized_days)
    if days:
        with step("seed events") as note:
            asset = dg.AssetKey(AD_INSIGHTS_DAILY)
            for index, account in enumerate(accounts):
                # Accounts onboarded on different days: the status has several ranges.
                back = dt.timedelta(days=index % STAGGER_DAYS)
                for day in days:
                    key = str(key_for(account, day - back))
                    event = dg.AssetMaterialization(asset, partition=key)
                    instance.report_runless_asset_event(event)
            note["note"] = f"{len(accounts) * len(days)} materializations"
    window = last_days(settings, args.backfill_days + 1)[:-1]  # closed days
    assets = [k.to_user_string() for k in insights_keys(settings)]
    with step("create backfill") as note:
        keys = partition_keys(accounts, window[0], window[-1])
        backfill = partition_backfill(
            defs,
            instance,
            backfill_id=f"scale-{uuid.uuid4().hex[:8]}",
            keys=keys,
            assets=assets,
            title="partition scale benchmark",
            description=f"{len(accounts)} account(s) × {len(window)} day(s)",
            trigger="benchmark",
        )
        instance.add_backfill(backfill)
        note["note"] = f"{len(keys)} keys × {len(assets)} assets"


def _checked(data: Any) -> Any:
    error = getattr(data, "error", None)
    if error is not None:
        raise RuntimeError(error.to_string()[-600:])
    return data


def _tick(defs: Any, instance: Any, name: str, cursor: str | None) -> Any:
    """The sensor evaluated by the function a code server runs for the daemon's tick."""
    from dagster._grpc.impl import get_external_sensor_execution

    return _checked(
        get_external_sensor_execution(
            defs.get_repository_def(),
            None,
            instance.get_ref(),
            name,
            None,
            None,
            cursor,
            None,
            None,
        )
    )


def _schedule_tick(defs: Any, instance: Any, name: str, at: dt.datetime) -> Any:
    from dagster._grpc.impl import get_external_schedule_execution

    return _checked(
        get_external_schedule_execution(
            defs.get_repository_def(), instance.get_ref(), name, at.timestamp(), "UTC", None
        )
    )


def ticks_phase(args: argparse.Namespace, settings: Any, defs: Any, instance: Any) -> None:
    import dagster as dg

    del args
    with step("sensor new_ad_accounts, first") as note:
        first = _tick(defs, instance, "new_ad_accounts", None)
        note["note"] = f"{len(first.run_requests or [])} run requests"
    with step("sensor new_ad_accounts, steady") as note:
        again = _tick(defs, instance, "new_ad_accounts", first.cursor)
        note["note"] = f"{len(again.run_requests or [])} run requests"
    with step("sensor token_recovery") as note:
        result = _tick(defs, instance, "token_recovery", None)
        note["note"] = f"{len(result.run_requests or [])} run requests"
    entity_cursor = _tick(defs, instance, "entity_changes", None).cursor
    with step("sensor entity_changes, polling") as note:
        result = _tick(defs, instance, "entity_changes", entity_cursor)
        note["note"] = f"{len(settings.enabled_accounts)} polls, answered with an error"
    with step("automation sensor") as note:
        evaluated = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        note["note"] = f"{evaluated.total_requested} requested"
    tick = dt.datetime.now(dt.UTC).replace(hour=TICK_HOUR_UTC, minute=15, second=0, microsecond=0)
    for name in ("daily_ingestion", "intraday_today_refresh"):
        with step(f"schedule {name}") as note:
            data = _schedule_tick(defs, instance, name, tick)
            note["note"] = f"{len(data.run_requests or [])} run requests"


def daemon_phase(args: argparse.Namespace, settings: Any, defs: Any, instance: Any) -> None:
    """What the daemon does with the ticks' answers: runs created and queued (not executed).

    Each step stops at ``--budget`` seconds and says how many runs it created by then:
    the rate is the figure, and at 1,000 accounts the whole would take many minutes.
    """
    import logging

    import dagster as dg
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._daemon.backfill import execute_backfill_iteration
    from dagster._scheduler.scheduler import _submit_run_request

    from ads_platform.launching import definitions_target

    del settings
    quiet = logging.getLogger("partition_scale")
    with WorkspaceProcessContext(instance, definitions_target()) as context:
        _loaded(context)
        tick = dt.datetime.now(dt.UTC).replace(
            hour=TICK_HOUR_UTC, minute=15, second=0, microsecond=0
        )
        requests = _schedule_tick(defs, instance, "daily_ingestion", tick).run_requests or []
        with step("scheduler submits the daily tick's runs") as note:
            began = time.perf_counter()
            location = context.create_request_context().get_code_location("ads_platform")
            repository = next(iter(location.get_repositories().values()))
            schedule = repository.get_schedule("daily_ingestion")
            done = 0
            for request in requests:
                if time.perf_counter() - began > args.budget:
                    break
                _submit_run_request(request, context, schedule, tick, quiet, {})
                done += 1
            seconds = time.perf_counter() - began
            queued = instance.get_runs_count(dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED]))
            note["note"] = (
                f"{done} of {len(requests)} runs, {seconds / max(done, 1):.2f} s each"
                f"{'' if done == len(requests) else f', stopped at the {args.budget:.0f} s budget'}"
                f"; {queued} runs queued in all"
            )
        before = len(instance.get_run_ids())
        with step("backfill daemon, first iteration") as note:
            began = time.perf_counter()
            stopped = ""
            # The iteration submits runs in chunks (DAGSTER_ASSET_BACKFILL_RUN_CHUNK_SIZE,
            # 25) and checkpoints after each: stopping between two is what the daemon
            # does when it is shut down.
            for _ in execute_backfill_iteration(context, quiet):
                if time.perf_counter() - began > args.budget:
                    stopped = f", stopped at the {args.budget:.0f} s budget"
                    break
            runs = len(instance.get_run_ids()) - before
            each = (time.perf_counter() - began) / max(runs, 1)
            note["note"] = f"{runs} runs queued, {each:.2f} s each{stopped}"


def _loaded(context: Any) -> None:
    error = context.create_request_context().get_code_location_error("ads_platform")
    if error:
        raise RuntimeError(f"code location failed to load: {error.message[:300]}")


def ui_phase(args: argparse.Namespace, settings: Any, defs: Any, instance: Any) -> None:
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster_graphql.test.utils import execute_dagster_graphql

    from ads_platform.datasets import AD_INSIGHTS_DAILY
    from ads_platform.launching import definitions_target

    del args, settings, defs
    variables = {"assetKey": {"path": [AD_INSIGHTS_DAILY]}}
    with WorkspaceProcessContext(instance, definitions_target()) as workspace:
        _loaded(workspace)
        for name, query in (
            ("graphql partition status, cold", PARTITION_HEALTH_QUERY),
            ("graphql partition status, warm", PARTITION_HEALTH_QUERY),
            ("graphql partitionStats", PARTITION_STATS_QUERY),
        ):
            with step(name) as note:
                result = execute_dagster_graphql(
                    workspace.create_request_context(), query, variables
                )
                if result.errors:
                    raise RuntimeError(str(result.errors[0])[:300])
                node = result.data["assetNodeOrError"]
                if "partitionStats" in node:
                    note["note"] = json.dumps(node["partitionStats"])
                else:
                    ranges = node["assetPartitionStatuses"].get("ranges") or []
                    note["note"] = f"{len(ranges)} primary ranges, {len(json.dumps(result.data))} B"


# --------------------------------------------------------------------------- parent side


class World:
    """One instance (SQLite directory or PostgreSQL database) and settings for N accounts."""

    def __init__(self, kind: str, n: int, days: int, base_url: str) -> None:
        from ads_platform.demo import write_demo_settings

        self.kind, self.n = kind, n
        self.root = Path(tempfile.mkdtemp(prefix=f"ads_scale_{kind}_{n}_"))
        home = self.root / "home"
        start = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days - 1)
        config, _ = write_demo_settings(home, base_url, account_ids(n), start_date=start)
        # One token variable for every account (the demo writes one per account).
        text = config.read_text()
        for account in account_ids(n):
            text = text.replace(f"token_env: {_demo_env(account)}", f"token_env: {TOKEN_ENV}")
        config.write_text(text)
        dagster_home = self.root / "dagster"
        dagster_home.mkdir()
        self.database = None
        if kind == "postgres":
            self.database = f"ads_scale_{uuid.uuid4().hex[:10]}"
            _pg(f"CREATE DATABASE {self.database}")
            shutil.copy(REPO / "deploy" / "dagster.postgres.yaml", dagster_home / "dagster.yaml")
        else:
            shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
        self.env = {
            **os.environ,
            "ADS_PLATFORM_CONFIG": str(config),
            "ADS_PLATFORM_HOME": str(home),
            "DAGSTER_HOME": str(dagster_home),
            "PYTHONPATH": os.pathsep.join(
                [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            TOKEN_ENV: "sandbox-token-benchmark",
        }
        if self.database:
            self.env["DAGSTER_PG_URL"] = f"{PG_SERVER}/{self.database}"

    def close(self) -> None:
        if self.database:
            _pg(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")
        shutil.rmtree(self.root, ignore_errors=True)


def _demo_env(account: str) -> str:
    from ads_platform.demo import demo_token_env

    return demo_token_env(account)


def _pg(statement: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as con:
            con.execute(sa.text(statement))
    finally:
        engine.dispose()


def run_phase(
    world: World, phase: str, args: argparse.Namespace, record: Callable[[str, str], None]
) -> None:
    """Run one phase in a child process; record each step's figure or why it has none."""
    log = (world.root / f"{phase}.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, __file__, "--phase", phase, *_child_args(args)],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=world.env,
        cwd=str(REPO),
        start_new_session=True,  # its code server too is ended with it on a timeout
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    current = "start-up"
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            record(current, f"did not finish in {args.timeout:.0f} s")
            break
        if line is None:
            break
        if not line.startswith(MARK):
            continue
        data = json.loads(line[len(MARK) :])
        if "start" in data:
            current = data["start"]
            deadline = time.monotonic() + args.timeout
        elif "step" in data:
            note = f" ({data['note']})" if data.get("note") else ""
            record(data["step"], f"{data['seconds']:.2f} s{note}")
        elif "rss" in data:
            record(f"peak RSS, {phase} process", f"{data['rss']:.0f} MiB")
        elif "rss_after_load" in data:
            record(f"RSS after loading definitions, {phase}", f"{data['rss_after_load']:.0f} MiB")
    code = proc.wait()
    log.close()
    if code not in (0, -signal.SIGKILL):
        tail = (world.root / f"{phase}.log").read_text().strip().splitlines()
        print("\n".join(tail[-15:]), file=sys.stderr)
        record(current, f"failed (exit {code}): {(tail or [''])[-1][:160]}".replace("|", "/"))


def _child_args(args: argparse.Namespace) -> list[str]:
    return [
        "--budget",
        str(args.budget),
        "--backfill-days",
        str(args.backfill_days),
        "--materialized-days",
        str(args.materialized_days),
    ]


def table(columns: list[str], rows: dict[str, dict[str, str]]) -> str:
    header = ["step", *columns]
    body = [[name, *(cells.get(c, "") for c in columns)] for name, cells in rows.items()]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def parent(args: argparse.Namespace) -> int:
    from ads_platform.sandbox import Sandbox

    sizes = [int(n) for n in args.accounts.split(",") if n]
    kinds = [k for k in args.instances.split(",") if k]
    columns: list[str] = []
    rows: dict[str, dict[str, str]] = {}
    now = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    print(f"{now}, {os.cpu_count()} cores, load {os.getloadavg()}")
    # The sandbox answers the entity sensor's polls (with an error: the accounts are made up).
    with Sandbox(seed=7, accounts=1, ads_per_account=1, subprocess=True) as sandbox:
        for n in sizes:
            for kind in kinds:
                column = f"{kind} {n}"
                columns.append(column)
                world = World(kind, n, args.days, sandbox.base_url)
                if args.planned_subset:
                    world.env[PLANNED_SUBSET_ENV] = "1"
                began = time.monotonic()

                def record(name: str, value: str, column: str = column) -> None:
                    rows.setdefault(name, {})[column] = value
                    print(f"  {column:>14}  {name:<40} {value}", flush=True)

                try:
                    for phase in PHASES:
                        run_phase(world, phase, args, record)
                finally:
                    world.close()
                record(f"total wall ({len(PHASES)} processes)", f"{time.monotonic() - began:.0f} s")
    print()
    print(table(columns, rows))
    print(f"\nload after: {os.getloadavg()}")
    largest = {kind: f"{kind} {max(sizes)}" for kind in kinds}
    write_json(
        args.json,
        [
            Figure(f"scale: {name} ({column})", cells[column])
            for name, cells in rows.items()
            for column in largest.values()
            if column in cells
        ],
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", default="100,300,1000", help="comma-separated N")
    parser.add_argument("--instances", default="sqlite,postgres")
    parser.add_argument("--days", type=int, default=730, help="days of the date dimension")
    parser.add_argument("--backfill-days", type=int, default=30)
    parser.add_argument("--materialized-days", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per step")
    parser.add_argument(
        "--budget", type=float, default=60.0, help="seconds the daemon steps may create runs"
    )
    parser.add_argument(
        "--planned-subset",
        action="store_true",
        help=f"set {PLANNED_SUBSET_ENV}=1 for every process (see docs/scale.md)",
    )
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    if args.phase:
        child(args.phase, args)
        return 0
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
