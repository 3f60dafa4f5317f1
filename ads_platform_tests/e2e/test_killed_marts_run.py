"""A marts run killed with ``kill -9`` recovers by itself, as the daemon runs it.

The instance is the shipped ``dagster.yaml`` (queued run coordinator, default run
launcher, pool ``duckdb_writer`` with one slot, run monitoring, run retries), the code
location is loaded by a code server as ``workspace.yaml`` loads it, and runs are
requested, launched, monitored and retried by Dagster's own daemon iterations (a
"round" is one pass of each daemon loop; the sensor daemon evaluates the platform's
sensors, all stopped but the run worker guard, as an operator can in the UI, so that
the only runs are this test's).  Then run workers are killed for real, twice:

1. the first marts run, during ``dbt build``, while dbt holds DuckDB's write lock on the
   build database and has written to its write-ahead log: its dbt must die with it and
   unlock the database, the run must end FAILURE saying its worker died, its
   ``duckdb_writer`` slot must be given back, and the automatic retry (``run_retries``)
   must get the slot and build over the stale WAL;
2. that retry, during the publish (``publish_pause_defs`` stops the copy half-way), together
   with the code server that launched it, so nobody but the guard can notice: the half
   copy must not become the published marts, the run must not stay STARTED, its slot
   must be given back.

The next marts run then completes and the published marts equal the sandbox truth.
Each step's assertions are a property of the "kill -9 during dbt build" and "kill -9
during publish" lines of the reliability table (``reliability.check``).
Before the fix dbt kept running orphaned, the slot stayed claimed (the retry queued
behind it for ``free_slots_after_run_end_seconds``, forever once the run stayed
STARTED), and the run whose code server died stayed STARTED.

One test with both kills rather than two: every daemon-launched marts run costs a run
worker that imports the definitions and starts dbt, and the second kill reuses the
first one's ingestion, code server and build.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster._core.execution.submit_asset_runs import submit_asset_run
from dagster._core.storage.tags import PARENT_RUN_ID_TAG
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.auto_run_reexecution.event_log_consumer import EventLogConsumerDaemon
from dagster._daemon.daemon import MonitoringDaemon
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
    QueuedRunCoordinatorDaemon,
)
from dagster._daemon.sensor import execute_sensor_iteration

from ads_platform.warehouse import open_marts_readonly
from ads_platform_tests.conftest import SANDBOX_TODAY, Platform
from ads_platform_tests.e2e import publish_pause_defs
from ads_platform_tests.e2e.helpers import ingest, setup_accounts
from ads_platform_tests.processes import children, cmdline, process_running, stat_fields, wait_for
from ads_platform_tests.reliability.matrix import KILLED_DBT, KILLED_PUBLISH
from ads_platform_tests.reliability.recorder import Recorder

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
LOCATION = "ads_platform"
POOL = "duckdb_writer"
GUARD = "run_worker_guard"
UNTIL = SANDBOX_TODAY - dt.timedelta(days=1)
SINCE = UNTIL - dt.timedelta(days=2)
#: Hang guards, not speed requirements: a loaded CI machine takes a minute per marts run.
START_TIMEOUT = 300.0
FINISH_TIMEOUT = 420.0
#: How long the daemon may take to give a dead run's slot back.  Below the 300 s of
#: ``free_slots_after_run_end_seconds``, so Dagster's own backstop cannot pass the test;
#: above the guard's 30 s interval.
RECOVERY_TIMEOUT = 150.0
log = logging.getLogger("ads_platform_tests.killed_marts")


class Daemon:
    """One pass of each daemon loop that launches, monitors and retries runs.

    The same code ``dagster-daemon run`` runs in its threads (QUEUED_RUN_COORDINATOR,
    SENSOR, MONITORING, EVENT_LOG_CONSUMER), against the test's workspace.
    """

    def __init__(self, context: WorkspaceProcessContext, stack: ExitStack) -> None:
        self.context = context
        instance = context.instance
        self.queue = stack.enter_context(QueuedRunCoordinatorDaemon(interval_seconds=1))
        self.monitoring = stack.enter_context(
            MonitoringDaemon(interval_seconds=instance.run_monitoring_poll_interval_seconds)
        )
        self.retries = stack.enter_context(EventLogConsumerDaemon())
        list(self.retries.run_iteration(context))  # its cursor starts now, as at daemon start

    def launch(self) -> None:
        list(self.queue.run_iteration(self.context))

    def round(self) -> None:
        list(self.monitoring.run_iteration(self.context))
        list(execute_sensor_iteration(self.context, log, None, None))
        list(self.retries.run_iteration(self.context))
        self.launch()


def shipped_instance_config() -> dict[str, Any]:
    """What ``ads-platform`` writes into an instance folder, its pooled SQLite storage
    included: the kills below attack that storage too."""
    from ads_platform.demo import instance_yaml

    config = yaml.safe_load(instance_yaml())
    assert config["storage"]["custom"]["class"] == "PooledSqliteStorage"
    assert "run_coordinator" not in config and "run_launcher" not in config
    return dict(config)


def lock_holders(path: Path) -> set[int]:
    """Pids holding a POSIX lock on ``path`` (DuckDB's write lock), from /proc/locks."""
    st = path.stat()
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    holders = set()
    for line in Path("/proc/locks").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[5] == device:
            holders.add(int(parts[4]))
    return holders


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid the run worker reported ("Started process for run (pid: N).")."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        if event and (event.message or "").startswith("Started process for run"):
            return int(str(event.event_specific_data.metadata["pid"].value))  # type: ignore[union-attr]
    return None


def run_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [entry.message or "" for entry in instance.all_logs(run_id)]


def slot_holders(instance: dg.DagsterInstance) -> set[str]:
    info = instance.event_log_storage.get_concurrency_info(POOL)
    return {slot.run_id for slot in info.claimed_slots} | {
        step.run_id for step in info.pending_steps if step.assigned_timestamp is not None
    }


def stop_sensors_except(
    instance: dg.DagsterInstance, context: WorkspaceProcessContext, keep: str
) -> None:
    location = context.create_request_context().get_code_location(LOCATION)
    for repository in location.get_repositories().values():
        for sensor in repository.get_sensors():
            if sensor.name != keep:
                instance.stop_sensor(sensor.get_remote_origin_id(), sensor.selector_id, sensor)


def submit_marts_run(context: WorkspaceProcessContext) -> dg.DagsterRun:
    """Request every marts asset the way the sensor and automation daemons do."""
    workspace = context.create_request_context()
    graph = workspace.asset_graph
    keys = [
        key
        for key in graph.get_all_asset_keys()
        if graph.get(key).group_name == "marts" and graph.get(key).is_materializable
    ]
    request = dg.RunRequest(asset_selection=keys)
    return asyncio.run(
        submit_asset_run(None, request, 0, context.instance, context, workspace, {}, {}, log)
    )


def marts_daily(path: Path) -> dict[tuple[str, str], tuple[Decimal, int]]:
    con = open_marts_readonly(path)
    try:
        rows = con.execute(
            "select account_id, date_day::varchar, sum(spend), sum(impressions)::bigint "
            "from fct_ad_daily group by 1, 2"
        ).fetchall()
    finally:
        con.close()
    return {(a, d): (Decimal(s), int(i)) for a, d, s, i in rows}


def truth_daily(platform: Platform) -> dict[tuple[str, str], tuple[Decimal, int]]:
    out = {}
    for account_id in platform.accounts:
        for day in platform.sandbox.truth(account_id, SINCE, UNTIL)["days"]:
            if day["impressions"]:
                spend = Decimal(str(day["spend"])).quantize(Decimal("0.01"))
                out[(account_id, day["date"])] = (spend, int(day["impressions"]))
    return out


@contextmanager
def no_process_left(pids: set[int]) -> Iterator[set[int]]:
    """Whatever happens, no process this test started (workers, dbt) is left running.

    Entered inside the workspace context: its code server waits for its runs on shutdown.
    """
    try:
        yield pids
    finally:
        for pid in pids:
            if process_running(pid):
                os.kill(pid, signal.SIGKILL)


def killed_run_recovers(
    instance: dg.DagsterInstance, daemon: Daemon, run_id: str, worker: int
) -> list[str]:
    """Daemon rounds until the killed run has ended and given its slot back; its messages."""

    def recovered() -> bool:
        daemon.round()
        run = instance.get_run_by_id(run_id)
        return run is not None and run.is_finished and run_id not in slot_holders(instance)

    wait_for(
        f"the killed run {run_id} to end and give back its {POOL} slot",
        recovered,
        RECOVERY_TIMEOUT,
        poll=2.0,
    )
    run = instance.get_run_by_id(run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
    messages = run_messages(instance, run_id)
    assert any("Freed the pool slots of this run" in m for m in messages), messages[-5:]
    died = (
        f"The run worker process (pid {worker}) is gone",  # the guard
        f"Run execution process for {run_id} was terminated by signal 9",  # its code server
    )
    assert any(d in m for m in messages for d in died), messages[-5:]
    return messages


def test_a_killed_marts_run_frees_the_writer_slot_and_the_next_build_completes(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, reliability: Recorder
) -> None:
    pause_marker = tmp_path / "publish-paused.json"
    monkeypatch.setenv(publish_pause_defs.PAUSE_ENV, str(pause_marker))
    build_db = platform.home / "warehouse" / "marts.duckdb"
    wal = build_db.with_name(build_db.name + ".wal")
    marts = platform.home / "marts.duckdb"
    target = ModuleTarget(
        module_name="ads_platform_tests.e2e.publish_pause_defs",
        attribute="defs",
        working_directory=str(REPO),
        location_name=LOCATION,
    )
    with dg.instance_for_test(overrides=shipped_instance_config()) as instance:
        platform.instance = instance
        setup_accounts(platform)
        for account_id in platform.accounts:
            assert ingest(platform, account_id, SINCE, UNTIL).success

        with ExitStack() as stack:
            context = stack.enter_context(create_test_daemon_workspace_context(target, instance))
            to_reap = stack.enter_context(no_process_left(set()))
            daemon = Daemon(context, stack)
            stop_sensors_except(instance, context, keep=GUARD)

            # 1. Killed during dbt build.
            first = submit_marts_run(context)
            assert instance.get_run_by_id(first.run_id).status == dg.DagsterRunStatus.QUEUED  # type: ignore[union-attr]
            daemon.launch()
            worker = wait_for(
                "the run worker", lambda: worker_pid(instance, first.run_id), START_TIMEOUT
            )
            to_reap.add(worker)
            # Killed mid-write: dbt holds the write lock and has written to the WAL.
            dbt = wait_for(
                "dbt build writing the build database",
                lambda: next(
                    (
                        pid
                        for pid in children(worker)
                        if " build" in cmdline(pid)
                        and wal.exists()
                        and pid in lock_holders(build_db)
                    ),
                    None,
                ),
                START_TIMEOUT,
                poll=0.05,
            )
            to_reap.add(dbt)
            assert slot_holders(instance) == {first.run_id}
            os.kill(worker, signal.SIGKILL)
            with reliability.check(KILLED_DBT, "dbt_died"):
                wait_for("the run worker to die", lambda: not process_running(worker), 30)
                wait_for("its dbt to die with it", lambda: not process_running(dbt), 5)
                wait_for(
                    "its lock on the build database to go", lambda: not lock_holders(build_db), 5
                )
                assert wal.exists()  # the retry must build over a stale write-ahead log

            publish_pause_defs.arm(pause_marker)  # the retry will pause half-way in its publish
            with reliability.check(KILLED_DBT, "recovered"):
                killed_run_recovers(instance, daemon, first.run_id, worker)
            with reliability.check(KILLED_DBT, "retried"):
                retries = instance.get_runs(
                    filters=dg.RunsFilter(tags={PARENT_RUN_ID_TAG: first.run_id})
                )
                assert len(retries) == 1, "run_retries did not retry the killed run"
                retry = retries[0]
                # It got the slot and built over the stale WAL: its publish started.
                paused = json.loads(
                    wait_for(
                        "the retry's publish to pause half-way (publish_pause_defs)",
                        lambda: pause_marker.exists() and pause_marker.read_text(),
                        START_TIMEOUT,
                    )
                )
                worker = paused["pid"]
                to_reap.add(worker)
                assert worker == worker_pid(instance, retry.run_id)
                assert slot_holders(instance) == {retry.run_id}
            reliability.record(KILLED_DBT, {}, "recovered by itself")

            # 2. Its retry, killed during the publish together with its code server.
            code_server = int(stat_fields(worker)[1])  # type: ignore[index]
            assert "dagster" in cmdline(code_server) and "grpc" in cmdline(code_server)
            os.kill(code_server, signal.SIGKILL)
            os.kill(worker, signal.SIGKILL)
            wait_for("the run worker to die", lambda: not process_running(worker), 30)
            with reliability.check(KILLED_PUBLISH, "last_good"):
                # A half-copied publish never becomes the published marts.
                temp = Path(paused["temp"])
                assert temp.parent == marts.parent and temp.name != marts.name
                assert temp.exists() and temp.stat().st_size == paused["copied"] < paused["size"]
                assert not marts.exists()
            with reliability.check(KILLED_PUBLISH, "recovered"):
                time.sleep(1)  # two ticks of a code server's orphan check: nobody is left
                assert instance.get_run_by_id(retry.run_id).status == dg.DagsterRunStatus.STARTED  # type: ignore[union-attr]
                # As the daemon does every minute: its code server is gone, it starts a new one.
                context.reload_code_location(LOCATION)
                messages = killed_run_recovers(instance, daemon, retry.run_id, worker)
                assert any(f"The run worker process (pid {worker}) is gone" in m for m in messages)

            # 3. The next marts run gets the slot, completes and publishes the truth.
            last = submit_marts_run(context)
            daemon.launch()

            def finished() -> bool:
                run = instance.get_run_by_id(last.run_id)
                if run is not None and run.status == dg.DagsterRunStatus.QUEUED:
                    daemon.launch()
                if (pid := worker_pid(instance, last.run_id)) is not None:
                    to_reap.add(pid)
                return run is not None and run.is_finished

            with reliability.check(KILLED_PUBLISH, "truth"):
                wait_for("the next marts run to finish", finished, FINISH_TIMEOUT, poll=1.0)
                run = instance.get_run_by_id(last.run_id)
                assert run is not None
                tail = run_messages(instance, last.run_id)[-5:]
                assert run.status == dg.DagsterRunStatus.SUCCESS, tail
                assert not slot_holders(instance)
                assert marts_daily(marts) == truth_daily(platform)
            reliability.record(KILLED_PUBLISH, {}, "recovered by itself")
