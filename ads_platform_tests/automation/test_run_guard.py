"""The run worker guard: runs whose worker process is gone end and give back their slots.

Real instance storage and real processes: a worker is a ``sleep`` process the test
starts, and "killed" is that process killed with SIGKILL.  The runs carry what a run
launched through a local code server carries: the gRPC tag of the launcher and the
worker's "Started process for run (pid: N)." engine event.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator

import dagster as dg
import pytest
from dagster._core.events import EngineEventData
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._core.test_utils import create_run_for_test

from ads_platform.automation.run_guard import (
    RUN_WORKER_GUARD,
    build_run_worker_guard,
    process_alive,
    worker_gone_message,
)

POOL = "duckdb_writer"
STEP = "marts_dbt_assets"
LOCAL = {GRPC_INFO_TAG: json.dumps({"host": "localhost", "port": 4266})}


@pytest.fixture
def instance(shared_instance: dg.DagsterInstance) -> dg.DagsterInstance:
    shared_instance.wipe()
    shared_instance.event_log_storage.set_concurrency_slots(POOL, 1)
    return shared_instance


@pytest.fixture
def worker() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "120"])
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def kill(process: subprocess.Popen[bytes]) -> int:
    os.kill(process.pid, signal.SIGKILL)
    process.wait()  # reaped: the pid is free, as when a code server reaps its dead worker
    return process.pid


def started_run(
    instance: dg.DagsterInstance,
    pid: int,
    *,
    status: dg.DagsterRunStatus = dg.DagsterRunStatus.STARTED,
    tags: dict[str, str] | None = None,
    slot: bool = True,
) -> dg.DagsterRun:
    run = create_run_for_test(instance, job_name="__ASSET_JOB", status=status, tags=tags or LOCAL)
    instance.report_engine_event(
        f"Started process for run (pid: {pid}).", run, EngineEventData.in_process(pid)
    )
    if slot:
        assert instance.event_log_storage.claim_concurrency_slot(POOL, run.run_id, STEP).is_claimed
    return run


def holders(instance: dg.DagsterInstance) -> set[str]:
    return {s.run_id for s in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots}


def tick(instance: dg.DagsterInstance) -> str:
    with dg.build_sensor_context(instance=instance) as context:
        result = build_run_worker_guard().evaluate_tick(context)
    assert not result.run_requests
    return result.skip_message or ""


def status(instance: dg.DagsterInstance, run: dg.DagsterRun) -> dg.DagsterRunStatus:
    current = instance.get_run_by_id(run.run_id)
    assert current is not None
    return current.status


def messages(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[str]:
    return [entry.message or "" for entry in instance.all_logs(run.run_id)]


def test_a_started_run_whose_worker_was_killed_fails_and_gives_back_its_slot(
    instance: dg.DagsterInstance, worker: subprocess.Popen[bytes]
) -> None:
    run = started_run(instance, worker.pid)
    assert "no run has a dead run worker" in tick(instance)
    assert status(instance, run) == dg.DagsterRunStatus.STARTED
    assert holders(instance) == {run.run_id}

    pid = kill(worker)
    summary = tick(instance)

    assert status(instance, run) == dg.DagsterRunStatus.FAILURE
    assert worker_gone_message(pid) in messages(instance, run)
    assert holders(instance) == set()
    assert f"run {run.run_id}: worker process {pid} is gone" in summary
    # The failure is an unexpected termination, which run_retries retries.
    failure = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
    ).records[0]
    data = failure.event_log_entry.dagster_event.event_specific_data  # type: ignore[union-attr]
    assert data.failure_reason.value == "UNEXPECTED_TERMINATION"  # type: ignore[union-attr]

    assert "no run has a dead run worker" in tick(instance)  # nothing left to do


def test_a_run_its_code_server_already_failed_gives_back_its_slot(
    instance: dg.DagsterInstance, worker: subprocess.Popen[bytes]
) -> None:
    run = started_run(instance, worker.pid)
    kill(worker)
    instance.report_run_failed(run)  # what the code server's orphan check does
    assert holders(instance) == {run.run_id}  # ... without freeing the slot

    tick(instance)

    assert holders(instance) == set()
    assert status(instance, run) == dg.DagsterRunStatus.FAILURE
    assert sum("marked as failed" in m for m in messages(instance, run)) == 1  # not failed twice
    assert any("Freed the pool slots of this run" in m for m in messages(instance, run))


def test_a_cancelling_run_whose_worker_is_gone_ends_cancelled(
    instance: dg.DagsterInstance, worker: subprocess.Popen[bytes]
) -> None:
    run = started_run(instance, worker.pid, status=dg.DagsterRunStatus.CANCELING)
    kill(worker)
    tick(instance)
    assert status(instance, run) == dg.DagsterRunStatus.CANCELED
    assert holders(instance) == set()


def test_runs_whose_worker_is_alive_or_elsewhere_are_left_alone(
    instance: dg.DagsterInstance, worker: subprocess.Popen[bytes]
) -> None:
    alive = started_run(instance, worker.pid, slot=True)
    dead_pid = kill(subprocess.Popen(["sleep", "120"]))
    remote = {GRPC_INFO_TAG: json.dumps({"host": "runner-7.internal", "port": 4266})}
    elsewhere = started_run(instance, dead_pid, tags=remote, slot=False)
    in_process = started_run(instance, dead_pid, tags={"source": "execute_in_process"}, slot=False)

    assert "no run has a dead run worker" in tick(instance)

    for run in (alive, elsewhere, in_process):
        assert status(instance, run) == dg.DagsterRunStatus.STARTED
    assert holders(instance) == {alive.run_id}


def test_a_worker_that_reported_its_exit_is_gone_even_if_its_pid_lives_on(
    instance: dg.DagsterInstance, worker: subprocess.Popen[bytes]
) -> None:
    run = started_run(instance, worker.pid)
    # Emitted by the worker itself (its pid is in the event): here, this process.
    run_of_this_process = started_run(instance, os.getpid(), slot=False)
    instance.report_engine_event(
        f"Process for run exited (pid: {os.getpid()}).", run_of_this_process
    )

    tick(instance)

    assert status(instance, run) == dg.DagsterRunStatus.STARTED
    assert status(instance, run_of_this_process) == dg.DagsterRunStatus.FAILURE


def test_a_reused_pid_is_not_the_worker(worker: subprocess.Popen[bytes]) -> None:
    now = time.time()
    assert process_alive(worker.pid, reported_at=now)
    # The worker reported this pid an hour before this process started: another process.
    assert not process_alive(worker.pid, reported_at=now - 3600)
    assert not process_alive(kill(worker), reported_at=now)


def test_the_guard_is_in_the_definitions_and_running_by_default() -> None:
    from ads_platform_tests.platform_defs import defs

    guard = defs.get_sensor_def(RUN_WORKER_GUARD)
    assert guard.default_status == dg.DefaultSensorStatus.RUNNING
