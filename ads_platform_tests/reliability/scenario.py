"""One world for the whole matrix: every fault on an account of its own, next to healthy ones.

Building the marts dominates the cost of an end-to-end test, so the cases are not run
one by one.  The world has one account per case (plus one healthy control per kind of
run) and goes through four phases, each with real Dagster runs against the sandbox
over HTTP, a real ``dbt build`` of the marts over the lake, published as dashboards
read it, and the platform's real alert sensors posting to a webhook on loopback:

1. setup and a first good pull of every account, marts built: the *last good data*;
2. every case's fault injected on its account, the accounts pulled by the runs the
   schedules would start (several accounts per run: a daily run of closed days, an
   intraday run of today, a backfill of async report runs; the crash case's run in a
   process of its own, killed half-way through a partition write), the alert sensors
   evaluated twice as the daemon does, the marts built;
3. the global faults (DNS: ``meta.graph_base_url`` on a host that never resolves) on
   every account, sensors, marts;
4. recovery under load: the faults gone, 4 overlapping runs in their own processes
   re-pull every account; sensors (twice); the final marts.

From phase 2 on, a reader (a dashboard) opens the published marts read-only and queries
them in a loop, through three publishes and the overlapping runs.

:class:`Observations` keeps what each phase left (attempts, lake, marts, freshness,
alerts) for :mod:`properties` to judge per case.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest
import yaml

from ads_platform.demo import materialize, write_demo_settings
from ads_platform.partitions import key_for, range_tags
from ads_platform.resources import PlatformResource
from ads_platform.sandbox import Sandbox
from ads_platform.warehouse import open_marts_readonly, publish_marts
from ads_platform_tests.automation.helpers import Receiver, repository
from ads_platform_tests.conftest import Platform
from ads_platform_tests.e2e.helpers import attempts, truth_daily
from ads_platform_tests.marts.lake_fixture import run_dbt
from ads_platform_tests.platform_defs import defs
from ads_platform_tests.processes import wait_for
from ads_platform_tests.reliability import runner
from ads_platform_tests.reliability.matrix import (
    CASES,
    CONTROLS,
    DBT_SELECT,
    READ_TIMEOUT_SECONDS,
    RETRY_BUDGET_SECONDS,
    Case,
    Expect,
    Pull,
    Scope,
)

#: The sandbox's clock is chosen so that no account's local today overtakes it before
#: the scenario ends (it would then have no data for the platform's today).
CLOCK_MARGIN = dt.timedelta(minutes=15)
#: The crash case's run pauses in its second partition write (the first one is whole).
CRASH_WRITE = 2
KEY_RE = re.compile(r"key `([^`]+)`")
HANG_GUARD_SECONDS = 300.0  # a child run that outlives this is hung, not slow

Day = dt.date
Totals = dict[str, object]


@dataclass(frozen=True)
class Shape:
    """How big the world is and how long its days and report runs are.

    Days are offsets from the earliest local today of the world's accounts.  The CI
    shape is the smallest that still exercises every path (several pages per request, a
    backfill longer than ``async_threshold_days``); the soak shape (``test_soak.py``) has
    a month of days and report runs that take as long as Meta's.
    """

    seed: int = 11
    first_pull: int = -2  # through the latest local today (later days skipped per account)
    daily: tuple[int, int] = (-2, -1)
    backfill: tuple[int, int] = (-5, -1)  # longer than async_threshold_days: async runs
    global_days: tuple[int, int] = (-1, -1)
    async_threshold_days: int = 4
    async_delay_scale: float = 0.01  # 1.0: as long as Meta's report runs
    async_poll_timeout_seconds: float = 2.0


CI = Shape()


@dataclass
class Member:
    """An account of the world and what it is for."""

    account_id: str
    case: Case | None  # None: a healthy control
    pull: Pull | None  # its run in the fault phase (None: the crash case's own run)
    timezone: str
    today: Day  # the platform's local today at the start

    @property
    def name(self) -> str:
        return self.case.name if self.case else f"control ({self.pull})"

    @property
    def expect(self) -> Expect:
        """What the fault phase must leave for this account."""
        if self.case is None or self.case.scope is Scope.GLOBAL:
            return Expect.TRUTH
        return self.case.expect


@dataclass
class Run:
    """A Dagster run of a phase and the accounts × days it covered."""

    name: str
    run_id: str
    success: bool
    accounts: list[str]
    since: Day
    until: Day
    errors: list[str] = field(default_factory=list)


@dataclass
class Snapshot:
    """What the lake and the published marts hold after a phase's build."""

    lake: dict[str, dict[str, Totals]]
    partitions: dict[str, set[str]]  # days with a partition file (an empty one included)
    lake_duplicates: dict[str, int]
    temp_files: dict[str, list[str]]
    marts: dict[tuple[str, str], tuple[Decimal, int, int]]
    marts_duplicates: dict[str, int]
    freshness: dict[str, dict[str, Any]]
    alerts: dict[str, list[tuple[str, str]]]
    #: When it was taken: no account may hold a day after its local today at this time
    #: (a zone can cross midnight while the scenario runs).
    taken_at: dt.datetime


@dataclass
class Post:
    """One webhook post: the alert's key, whether it says "resolved", its text."""

    key: str
    resolved: bool
    text: str

    @property
    def account_id(self) -> str | None:
        parts = self.key.split(":")
        return parts[1] if len(parts) > 2 and parts[1].startswith("act_") else None


@dataclass
class Phase:
    name: str
    runs: list[Run] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)
    snapshot: Snapshot | None = None


@dataclass
class Concurrency:
    runs: list[Run] = field(default_factory=list)
    reads: int = 0
    reader_errors: list[str] = field(default_factory=list)
    build_errors: list[str] = field(default_factory=list)


@dataclass
class Observations:
    members: dict[str, Member]
    truth: dict[str, dict[str, Totals]]
    phases: dict[str, Phase]
    materialized: set[str]
    crash: dict[str, Any]
    concurrency: Concurrency
    sandbox_today: Day
    attempt_log: dict[str, list[dict[str, Any]]]
    #: The sandbox's faults still active when the fault phase ended (``Sandbox.faults``):
    #: a counted fault still there did not apply to as many requests as it should have.
    faults_left: list[dict[str, Any]]
    #: ``api_retries`` of each (run id, account) from the runs' materializations.
    retries: dict[tuple[str, str], int]
    seconds: dict[str, float] = field(default_factory=dict)

    def members_of(self, case: Case) -> list[Member]:
        if case.scope is Scope.GLOBAL:
            return list(self.members.values())
        return [m for m in self.members.values() if m.case == case]

    def attempts_of(self, account_id: str, run_id: str) -> list[dict[str, Any]]:
        return [a for a in self.attempt_log[account_id] if a["run_id"] == run_id]


# --------------------------------------------------------------------------- the world


def local_today(timezone: str, now: dt.datetime) -> Day:
    return now.astimezone(ZoneInfo(timezone)).date()


def sandbox_date(timezones: Sequence[str], now: dt.datetime) -> Day:
    """The sandbox's UTC date D that keeps every account's sandbox today at or after its
    real local today until ``now + CLOCK_MARGIN``, the smallest such D.

    The platform judges "today" by the real clock, the sandbox by its own (the instant
    is D 12:00 UTC).  A sandbox behind an account would have no data for the day the
    platform calls today; one ahead serves that day complete, which the platform stores
    like any answer.  The smallest D keeps today partial wherever the zones allow.
    """
    later = now + CLOCK_MARGIN
    for offset in range(-1, 3):
        candidate = later.astimezone(dt.UTC).date() + dt.timedelta(days=offset)
        noon = dt.datetime.combine(candidate, dt.time(12), dt.UTC)
        if all(local_today(tz, noon) >= local_today(tz, later) for tz in timezones):
            return candidate
    raise AssertionError(f"no sandbox date covers the local todays of {sorted(set(timezones))}")


def layout() -> list[tuple[Case | None, Pull | None]]:
    """Accounts in partition order: each run's accounts adjacent (a run covers a rectangle
    of accounts × days), its control first; the crash case last, in a run of its own."""
    slots: list[tuple[Case | None, Pull | None]] = []
    for pull in CONTROLS:
        slots.append((None, pull))
        slots += [
            (c, pull) for c in CASES if c.scope in (Scope.ACCOUNT, Scope.QUIET) and c.pull is pull
        ]
    slots += [(c, None) for c in CASES if c.scope is Scope.CRASH]
    return slots


class World:
    """The sandbox, settings, instance and webhook receiver of one scenario; everything
    it starts is stopped by ``stack``."""

    def __init__(
        self,
        home: Path,
        monkeypatch: pytest.MonkeyPatch,
        stack: contextlib.ExitStack,
        shape: Shape = CI,
    ) -> None:
        self.shape = shape
        self.stack = stack
        self.slots = layout()
        count = len(self.slots)
        # Account ids come from the seed, quietness is a start-up option: a first look at
        # the ids says which index lands on the quiet case's slot in partition order.
        with Sandbox(seed=shape.seed, accounts=count) as probe:
            by_index = list(probe.account_ids)
        ordered = sorted(by_index)
        quiet = [
            by_index.index(ordered[i])
            for i, (case, _) in enumerate(self.slots)
            if case is not None and case.scope is Scope.QUIET
        ]
        # In a process of its own, like the real API: busy Dagster runs in this process
        # must not slow its answers past the client's read timeout.
        self.sandbox = stack.enter_context(
            Sandbox(
                seed=shape.seed,
                accounts=count,
                async_delay_scale=shape.async_delay_scale,
                quiet_accounts=tuple(quiet),
                subprocess=True,
            )
        )
        self.receiver = Receiver()
        stack.callback(self.receiver.close)
        zones = {a["id"]: a["timezone_name"] for a in self.sandbox.accounts}
        now = dt.datetime.now(dt.UTC)
        self.sandbox_today = sandbox_date(list(zones.values()), now)
        self.sandbox.set_today(self.sandbox_today)
        self.members = {
            account_id: Member(
                account_id, case, pull, zones[account_id], local_today(zones[account_id], now)
            )
            for account_id, (case, pull) in zip(ordered, self.slots, strict=True)
        }
        self.home = home
        self.config_path, self.tokens = write_demo_settings(
            home,
            self.sandbox.base_url,
            ordered,
            start_date=now.date() - dt.timedelta(days=90),
            extra={
                "meta": {
                    "read_timeout_seconds": READ_TIMEOUT_SECONDS,
                    "connect_timeout_seconds": 2.0,
                    "max_retries": 2,
                    "retry_budget_seconds": RETRY_BUDGET_SECONDS,
                    "page_limit": 25,
                    "async_threshold_days": shape.async_threshold_days,
                    "async_poll_timeout_seconds": shape.async_poll_timeout_seconds,
                },
                "alerts": {"webhook_url": self.receiver.url, "timeout_seconds": 5.0},
            },
        )
        self.env = {
            **self.tokens,
            "ADS_PLATFORM_CONFIG": str(self.config_path),
            "ADS_PLATFORM_HOME": str(home),
        }
        for key, value in self.env.items():
            monkeypatch.setenv(key, value)
        self.instance = stack.enter_context(dg.instance_for_test())
        self.platform = Platform(self.sandbox, home, self.config_path, self.instance, self.tokens)
        self.crash: dict[str, Any] = {}
        self.faults_left: list[dict[str, Any]] = []
        self.cursor: str | None = None  # the check sensor's cursor, as the daemon keeps it

    # -- days and accounts -------------------------------------------------------------

    @property
    def accounts(self) -> list[str]:
        return list(self.members)

    def day(self, offset: int) -> Day:
        return min(m.today for m in self.members.values()) + dt.timedelta(days=offset)

    @property
    def latest_today(self) -> Day:
        return max(m.today for m in self.members.values())

    def group(self, pull: Pull | None) -> list[str]:
        return [a for a, m in self.members.items() if m.pull is pull]

    def retries(self, runs: Sequence[Run]) -> dict[tuple[str, str], int]:
        """``api_retries`` per (run id, account): the client's retries each run recorded
        in its materializations."""
        out: dict[tuple[str, str], int] = {}
        for run in runs:
            if not run.run_id:
                continue
            records = self.instance.get_records_for_run(
                run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=10_000
            ).records
            for record in records:
                event = record.event_log_entry.dagster_event
                mat = event.event_specific_data.materialization if event else None  # type: ignore[union-attr]
                if mat is None or mat.partition is None or "api_retries" not in mat.metadata:
                    continue
                key = (run.run_id, str(mat.partition).split("|")[0])
                out[key] = max(out.get(key, 0), int(str(mat.metadata["api_retries"].value)))
        return out

    @contextlib.contextmanager
    def settings_changed(self, changes: Sequence[tuple[str, str, str]]) -> Iterator[None]:
        """``ads_platform.yaml`` with ``changes`` for the duration of the block."""
        original = self.config_path.read_text()
        data = yaml.safe_load(original)
        for section, key, value in changes:
            data.setdefault(section, {})[key] = value
        self.config_path.write_text(yaml.safe_dump(data))
        try:
            yield
        finally:
            self.config_path.write_text(original)

    # -- runs --------------------------------------------------------------------------

    def pull(self, name: str, accounts: Sequence[str], since: Day, until: Day) -> Run:
        """One in-process ``ad_insights_daily`` run over accounts × days (a rectangle)."""
        result = materialize(
            defs,
            self.instance,
            ["ad_insights_daily"],
            tags=range_tags(str(key_for(accounts[0], since)), str(key_for(accounts[-1], until))),
            log_level="WARNING",
        )
        return Run(
            name, result.run_id, result.success, list(accounts), since, until, _errors(result)
        )

    def per_account_assets(self, assets: Sequence[str]) -> dg.ExecuteInProcessResult:
        first, last = self.accounts[0], self.accounts[-1]
        return materialize(
            defs, self.instance, list(assets), tags=range_tags(first, last), log_level="WARNING"
        )

    def start_child(
        self,
        name: str,
        accounts: Sequence[str],
        since: Day,
        until: Day,
        pause: runner.WritePause | None = None,
    ) -> ChildRun:
        result = self.home / f"run-{name}.json"
        process = runner.context().Process(
            target=runner.run_insights,
            args=(
                self.env,
                self.instance.get_ref(),
                str(key_for(accounts[0], since)),
                str(key_for(accounts[-1], until)),
                str(result),
                pause,
            ),
            name=f"ads-platform-run-{name}",
        )
        process.start()
        self.stack.callback(_reap, process)  # a test that fails half-way leaves no child
        return ChildRun(name, list(accounts), since, until, process, result)

    # -- marts -------------------------------------------------------------------------

    def build_marts(self) -> str:
        """``dbt build`` of the marts the matrix reads, then the publish; dbt's output
        when it failed (empty when it passed)."""
        result = run_dbt(
            self.home, "build", "--select", *DBT_SELECT, "--indirect-selection", "cautious"
        )
        if result.returncode != 0:
            return (result.stdout[-3000:] + result.stderr[-2000:]).strip()
        publish_marts(self.home / "warehouse" / "marts.duckdb", self.home / "marts.duckdb")
        return ""

    # -- alerts ------------------------------------------------------------------------

    def evaluate_sensors(self, failed: Sequence[Run], cursor: str | None) -> str | None:
        """What the daemon does with the platform's alert sensors (``defs``' own): the
        run-failure sensor on each failed run, then a tick of the check and health
        sensors.  Returns the check sensor's cursor."""
        resources = {"platform": PlatformResource()}
        sensor = _sensor("run_failure_alerts")
        for run in failed:
            dagster_run = self.instance.get_run_by_id(run.run_id)
            assert dagster_run is not None
            failure = next(
                r.event_log_entry.dagster_event
                for r in self.instance.get_records_for_run(
                    run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
                ).records
            )
            with dg.build_run_status_sensor_context(
                sensor_name=sensor.name,
                dagster_event=failure,
                dagster_instance=self.instance,
                dagster_run=dagster_run,
                resources=resources,
            ) as context:
                sensor(context.for_run_failure())  # type: ignore[operator]
        checks = _sensor("asset_check_alerts")
        with dg.build_sensor_context(
            instance=self.instance,
            instance_ref=self.instance.get_ref(),
            cursor=cursor,
            repository_def=repository(sensors=[checks]),
            resources=resources,
        ) as context:
            cursor = checks.evaluate_tick(context).cursor
        health = _sensor("ingestion_health_alerts")
        with dg.build_sensor_context(
            instance=self.instance,
            instance_ref=self.instance.get_ref(),
            repository_def=repository(sensors=[health]),
            resources=resources,
        ) as context:
            health.evaluate_tick(context)
        return cursor

    def posts(self, start: int) -> list[Post]:
        out = []
        for body in self.receiver.bodies[start:]:
            text = str(body.get("text", ""))
            context = json.dumps(body.get("blocks", []))
            match = KEY_RE.search(context)
            out.append(
                Post(match.group(1) if match else "?", "[RESOLVED]" in text.split("\n")[0], text)
            )
        return out

    # -- what the lake and the marts hold ----------------------------------------------

    def snapshot(self) -> Snapshot:
        return Snapshot(
            lake=self._lake_totals(),
            partitions=self._partitions(),
            lake_duplicates=self._lake_duplicates(),
            temp_files=self._temp_files(),
            marts=self._marts_days(),
            marts_duplicates=self._marts_duplicates(),
            freshness={
                str(r["account_id"]): r
                for r in self._marts_rows(
                    "select account_id, is_stale, stale_cause, stale_reason, status_message, "
                    "last_good_day from data_freshness"
                )
            },
            alerts=self._alerts_mart(),
            taken_at=dt.datetime.now(dt.UTC),
        )

    def _marts_rows(self, sql: str) -> list[dict[str, Any]]:
        con = open_marts_readonly(self.home / "marts.duckdb")
        try:
            cursor = con.execute(sql)
            names = [d[0] for d in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            con.close()

    def _marts_days(self) -> dict[tuple[str, str], tuple[Decimal, int, int]]:
        rows = self._marts_rows(
            "select account_id, date_day::varchar as day, sum(spend) as spend, "
            "sum(impressions)::bigint as impressions, "
            "sum(coalesce(link_clicks, 0))::bigint as link_clicks "
            "from fct_ad_daily group by 1, 2"
        )
        return {
            (r["account_id"], r["day"]): (
                Decimal(r["spend"]),
                int(r["impressions"]),
                int(r["link_clicks"]),
            )
            for r in rows
        }

    def _marts_duplicates(self) -> dict[str, int]:
        rows = self._marts_rows(
            "select account_id, count(*) - count(distinct (date_day, ad_id)) as extra "
            "from fct_ad_daily group by 1"
        )
        return {str(r["account_id"]): int(r["extra"]) for r in rows}

    def _alerts_mart(self) -> dict[str, list[tuple[str, str]]]:
        out: dict[str, list[tuple[str, str]]] = {}
        for row in self._marts_rows(
            "select account_id, cause, status from alerts where kind = 'incident' "
            "order by account_id, cause"
        ):
            out.setdefault(str(row["account_id"]), []).append(
                (str(row["cause"]), str(row["status"]))
            )
        return out

    def _lake_totals(self) -> dict[str, dict[str, Totals]]:
        """Per account and day, the sums ``e2e.helpers.stored_daily_totals`` gives for one
        account (compared with ``truth_daily`` the same way), for every account at once."""
        glob = self.home / "lake" / "ad_insights_daily" / "*" / "*" / "*.parquet"
        out: dict[str, dict[str, Totals]] = {a: {} for a in self.accounts}
        with duckdb.connect() as con:
            rows = con.execute(
                f"""select account_id, date_day::varchar, sum(spend), sum(impressions)::bigint,
                           sum(coalesce(link_clicks, 0))::bigint, count(*)
                    from read_parquet('{glob}', hive_partitioning = false) group by 1, 2"""
            ).fetchall()
            actions = con.execute(
                f"""select account_id, date_day::varchar, a.action_type,
                           sum(a.value::decimal(38,6))
                    from (select account_id, date_day, unnest(actions) as a
                          from read_parquet('{glob}', hive_partitioning = false))
                    where a.stat = 'actions' and a."window" = 'value'
                    group by 1, 2, 3"""
            ).fetchall()
        for account, day, spend, impressions, clicks, n in rows:
            out.setdefault(account, {})[day] = {
                "spend": Decimal(spend),
                "impressions": impressions,
                "link_clicks": clicks,
                "rows": n,
                "conversions": {},
            }
        for account, day, action_type, value in actions:
            out[account][day]["conversions"][action_type] = Decimal(value)  # type: ignore[index]
        return out

    def _lake_duplicates(self) -> dict[str, int]:
        glob = self.home / "lake" / "ad_insights_daily" / "*" / "*" / "*.parquet"
        with duckdb.connect() as con:
            rows = con.execute(
                f"select account_id, count(*) - count(distinct (date_day, ad_id)) "
                f"from read_parquet('{glob}', hive_partitioning = false) group by 1"
            ).fetchall()
        return {str(a): int(n) for a, n in rows}

    def _partitions(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for path in (self.home / "lake" / "ad_insights_daily").glob("*/*/*.parquet"):
            account, day = path.parent.parent.name, path.parent.name
            out.setdefault(account.split("=", 1)[1], set()).add(day.split("=", 1)[1])
        return out

    def _temp_files(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for path in (self.home / "lake").rglob("*.tmp"):
            account = next(
                (p.split("=", 1)[1] for p in path.parts if p.startswith("account_id=")), "-"
            )
            out.setdefault(account, []).append(str(path.relative_to(self.home)))
        return out


@dataclass
class ChildRun:
    """A run in a process of its own (see :mod:`runner`)."""

    name: str
    accounts: list[str]
    since: Day
    until: Day
    process: Any
    result_path: Path

    def finish(self) -> Run:
        self.process.join(HANG_GUARD_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(10)
            raise AssertionError(f"run {self.name} did not end within {HANG_GUARD_SECONDS:.0f}s")
        if not self.result_path.exists():
            return Run(
                self.name,
                "",
                False,
                self.accounts,
                self.since,
                self.until,
                [f"exit code {self.process.exitcode}"],
            )
        result = json.loads(self.result_path.read_text())
        return Run(
            self.name,
            result["run_id"],
            result["success"],
            self.accounts,
            self.since,
            self.until,
            result["errors"],
        )


def _reap(process: Any) -> None:
    if process.is_alive():
        process.kill()
        process.join(10)


def _sensor(name: str) -> Any:
    return next(s for s in defs.sensors or [] if s.name == name)


def _errors(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        event.step_failure_data.error.message
        for event in result.all_events
        if event.is_step_failure and event.step_failure_data.error is not None
    ]


class Reader:
    """A dashboard: opens the published marts read-only and queries them, in a loop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reads = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="marts-reader", daemon=True)

    def __enter__(self) -> Reader:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                con = open_marts_readonly(self.path)
                try:
                    con.execute("select count(*), sum(spend) from fct_ad_daily").fetchone()
                    con.execute("select count(*) from data_freshness").fetchone()
                finally:
                    con.close()
                self.reads += 1
            except Exception as exc:  # every failure is a finding, whatever its type
                self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            time.sleep(0.05)


# --------------------------------------------------------------------------- the phases


def run(home: Path, monkeypatch: pytest.MonkeyPatch, shape: Shape = CI) -> Observations:
    """Every phase of the scenario; what each left behind.  Everything it started (the
    sandbox, the receiver, the instance, child runs) is stopped when it returns."""
    with contextlib.ExitStack() as stack:
        return _phases(World(home, monkeypatch, stack, shape))


def _timed(seconds: dict[str, float], name: str) -> contextlib.AbstractContextManager[None]:
    @contextlib.contextmanager
    def timer() -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            seconds[name] = round(time.monotonic() - began, 1)

    return timer()


def _phases(world: World) -> Observations:
    shape = world.shape
    seconds: dict[str, float] = {}
    phases: dict[str, Phase] = {}

    # 1. Setup, the first good pull of every account, the marts: the last good data.
    with _timed(seconds, "first pull"):
        assert materialize(defs, world.instance, ["ad_accounts"], log_level="WARNING").success
        assert world.per_account_assets(["campaigns", "ad_sets", "ads"]).success
        first = Phase("first")
        first.runs.append(
            world.pull("first", world.accounts, world.day(shape.first_pull), world.latest_today)
        )
        assert first.runs[0].success, first.runs[0].errors
        _build(world, first, None)
        phases["first"] = first

    concurrency = Concurrency()
    # A dashboard reads the published marts from here on: through every later build's
    # publish, and while the 4 runs of the recovery overlap.
    with Reader(world.home / "marts.duckdb") as reader:
        with _timed(seconds, "faults"):
            phases["faults"] = _fault_phase(world)
        for case in (c for c in CASES if c.scope is Scope.GLOBAL):
            with _timed(seconds, case.name):
                phases[global_phase(case)] = _global_phase(world, case)
        with _timed(seconds, "recovery"):
            phases["recovery"] = _recovery_phase(world, concurrency)
    concurrency.reads, concurrency.reader_errors = reader.reads, reader.errors

    truth = {
        a: truth_daily(world.platform, a, world.day(shape.backfill[0]), world.latest_today)
        for a in world.accounts
    }
    return Observations(
        members=world.members,
        truth=truth,
        phases=phases,
        materialized=set(
            world.instance.get_materialized_partitions(dg.AssetKey("ad_insights_daily"))
        ),
        crash=world.crash,
        concurrency=concurrency,
        sandbox_today=world.sandbox_today,
        attempt_log={a: attempts(world.platform, a) for a in world.accounts},
        faults_left=world.faults_left,
        retries=world.retries(phases["faults"].runs),
        seconds=seconds,
    )


def _build(world: World, phase: Phase, errors: list[str] | None) -> None:
    """Build and publish the marts; then what the phase left.  A failed build fails the
    scenario, unless ``errors`` collects it (the concurrency row judges those)."""
    failed = world.build_marts()
    if errors is None or not failed:
        assert not failed, failed
    else:
        errors.append(failed)
    phase.snapshot = world.snapshot()


def _fault_phase(world: World) -> Phase:
    """Every case's fault on its account; the runs; the sensors, twice; the marts."""
    shape = world.shape
    phase = Phase("faults")
    start = len(world.receiver.bodies)
    for member in world.members.values():
        if member.case is not None and member.case.scope is Scope.ACCOUNT:
            for inject in member.case.inject:
                world.sandbox.add_fault(
                    inject.fault,
                    account_id=member.account_id,
                    count=inject.count,
                    after=inject.after,
                    seconds=inject.seconds,
                    regain_seconds=inject.regain_seconds,
                )
    crash = _start_crash(world)  # in its own process, while the other runs go on
    for pull, (since, until) in (
        (Pull.DAILY, (world.day(shape.daily[0]), world.day(shape.daily[1]))),
        (Pull.INTRADAY, (world.day(0), world.latest_today)),
        (Pull.BACKFILL, (world.day(shape.backfill[0]), world.day(shape.backfill[1]))),
    ):
        phase.runs.append(world.pull(pull.value, world.group(pull), since, until))
    world.crash = _kill_crash(world, crash)
    cursor = world.evaluate_sensors([r for r in phase.runs if not r.success], None)
    world.cursor = world.evaluate_sensors([], cursor)  # the daemon's next ticks: nothing new
    world.faults_left = world.sandbox.faults()
    world.sandbox.clear_faults()
    _build(world, phase, None)
    phase.posts = world.posts(start)
    return phase


def global_phase(case: Case) -> str:
    """The name of a global case's phase."""
    return f"global: {case.name}"


def _global_phase(world: World, case: Case) -> Phase:
    """A global case: its settings change (the Graph API host does not resolve…) for
    every account, one run of them all."""
    shape = world.shape
    phase = Phase(global_phase(case))
    start = len(world.receiver.bodies)
    with world.settings_changed(case.settings):
        since, until = world.day(shape.global_days[0]), world.day(shape.global_days[1])
        phase.runs.append(world.pull(case.id, world.accounts, since, until))
    world.cursor = world.evaluate_sensors([r for r in phase.runs if not r.success], world.cursor)
    _build(world, phase, None)
    phase.posts = world.posts(start)
    return phase


def _recovery_phase(world: World, concurrency: Concurrency) -> Phase:
    """The faults gone: 4 overlapping runs in their own processes re-pull every account;
    the sensors (twice); the marts."""
    phase = Phase("recovery")
    start = len(world.receiver.bodies)
    children = _overlapping_runs(world)
    phase.runs = [child.finish() for child in children]
    concurrency.runs = phase.runs
    cursor = world.evaluate_sensors([r for r in phase.runs if not r.success], world.cursor)
    world.evaluate_sensors([], cursor)
    _build(world, phase, concurrency.build_errors)
    phase.posts = world.posts(start)
    return phase


def _start_crash(world: World) -> ChildRun | None:
    accounts = world.group(None)
    if not accounts:
        return None
    marker = world.home / "crash-pause.json"
    return world.start_child(
        "crash",
        accounts,
        world.day(world.shape.daily[0]),
        world.day(world.shape.daily[1]),
        pause=runner.WritePause(str(marker), CRASH_WRITE),
    )


def _kill_crash(world: World, child: ChildRun | None) -> dict[str, Any]:
    """SIGKILL the crash run once it paused half-way through a partition write."""
    if child is None:
        return {}
    marker = world.home / "crash-pause.json"
    paused = json.loads(
        wait_for(
            "the crash run to pause half-way through a partition write (runner.WritePause)",
            lambda: marker.exists() and marker.read_text(),
            HANG_GUARD_SECONDS,
            poll=0.05,
        )
    )
    child.process.kill()
    child.process.join(30)
    return {
        "paused": paused,
        "exitcode": child.process.exitcode,
        "accounts": child.accounts,
        "days": (child.since, child.until),
    }


def _overlapping_runs(world: World) -> list[ChildRun]:
    """4 runs at once, each account in at least two: all accounts, each half, and the
    backfill accounts over their longer range."""
    accounts = world.accounts
    half = len(accounts) // 2
    shape = world.shape
    since, until = world.day(shape.first_pull), world.latest_today
    backfill = world.group(Pull.BACKFILL)
    plans = [
        ("all", accounts, since, until),
        ("first-half", accounts[: half + 1], since, until),
        ("second-half", accounts[half:], since, until),
        ("backfill", backfill, world.day(shape.backfill[0]), world.day(shape.backfill[1])),
    ]
    return [world.start_child(name, accts, s, u) for name, accts, s, u in plans]
