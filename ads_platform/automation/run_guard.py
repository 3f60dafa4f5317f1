"""The run worker guard: a run whose worker died gives back its run and its pool slots.

The failure it repairs: a marts run is killed (``kill -9``, the OOM killer, a host
restart) while dbt builds or while the build is published.  The run holds the only slot
of the ``duckdb_writer`` pool, and nothing in Dagster 1.13 gives that slot back in time:

* ``DefaultRunLauncher`` (the launcher of the shipped ``dagster.yaml``) does not support
  run worker health checks (``supports_check_run_worker_health`` is False), so the
  MONITORING daemon never looks at the worker of a STARTED run; it only times out runs
  that never start (``start_timeout_seconds``) or never finish cancelling
  (``cancel_timeout_seconds``), and ``max_runtime_seconds`` would also kill healthy long
  builds.
* The code server that launched the run marks it failed when its worker process exits
  (``_check_for_orphaned_runs``, every 0.5 s) - but only while that code server lives.
  If it died too (host restart, a killed process group), the run stays STARTED forever.
* Pool slots are not freed when a run fails from the outside: the worker frees a slot
  when its step ends, and a killed worker never does.  The MONITORING daemon frees the
  slots of *finished* runs ``free_slots_after_run_end_seconds`` after their end (300 s
  in ``dagster.yaml``): a STARTED-forever run keeps its slot forever, and even a failed
  one blocks every marts build (and the automatic retry of the killed run) for minutes.

So this sensor, RUNNING by default, looks every ``GUARD_INTERVAL_SECONDS`` at the runs
that are in progress or hold a pool slot, finds each one's run worker, and when that
process is gone: marks an unfinished run failed (cancelled if it was cancelling; the
failure counts as an unexpected termination, so ``run_retries`` retries it) and frees the
run's pool slots through the instance's concurrency API.  The retry, or the next marts
run, then gets the slot at once.

How the worker is found: every Dagster run worker reports its pid when it starts
("Started process for run (pid: N).", an engine event with ``pid`` metadata, written by
``dagster/_grpc/impl.py`` and ``dagster api execute_run``) and when it exits normally
("Process for run exited").  "Gone" means no such process, a zombie, or a process that
started well after the worker reported (the pid was reused).

What it leaves alone (the slot then waits for Dagster's ``free_slots_after_run_end_seconds``
backstop): runs whose worker is not on this machine (a pid means nothing elsewhere: only
runs launched through a local code server, ``localhost`` or a Unix socket in the run's
gRPC tag, are judged), runs without a recorded worker (in-process ``execute_in_process``
runs, runs that never started), and workers that are alive, however stuck.

A dead worker's dbt child dies with it (:mod:`ads_platform.dbt_with_parent`), so a freed
``duckdb_writer`` slot is also a free build database.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import dagster as dg
from dagster._core.events import JobFailureData, RunFailureReason
from dagster._core.storage.dagster_run import RunRecord
from dagster._core.storage.tags import GRPC_INFO_TAG

RUN_WORKER_GUARD = "run_worker_guard"
#: How often the guard looks: a dead marts run blocks the marts at most about this long.
GUARD_INTERVAL_SECONDS = 30
#: The messages of Dagster's run worker (dagster/_grpc/impl.py, dagster/_cli/api.py).
WORKER_STARTED_PREFIX = "Started process for "
WORKER_EXITED_PREFIX = "Process for run exited"
#: A live process that started this long after the worker reported its pid is another
#: process that reused the pid.  Generous: a wall clock stepped by NTP must not make a
#: live worker look dead.
PID_REUSE_SLACK_SECONDS = 60.0
_PID_IN_MESSAGE = re.compile(r"\(pid: (\d+)\)")
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_IN_PROGRESS = [
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


@dataclass(frozen=True)
class RunWorker:
    """The process that executes a run, as the run's event log records it."""

    run_id: str
    pid: int
    #: When the worker reported its pid (epoch seconds): it started before that.
    reported_at: float
    #: The worker reported its normal exit.
    exited: bool = False


@dataclass(frozen=True)
class GuardAction:
    """What the guard did for one run whose worker is gone."""

    run_id: str
    pid: int
    ended_as: dg.DagsterRunStatus | None
    freed_slots: bool

    def describe(self) -> str:
        done = []
        if self.ended_as is not None:
            done.append(f"marked {self.ended_as.value}")
        if self.freed_slots:
            done.append("freed its pool slots")
        return f"run {self.run_id}: worker process {self.pid} is gone; " + " and ".join(done)


def worker_gone_message(pid: int) -> str:
    return (
        f"The run worker process (pid {pid}) is gone: it was killed or crashed without "
        f"ending the run. Marked by the {RUN_WORKER_GUARD} sensor so that the run's pool "
        "slots can be given back."
    )


def is_local_run(run: dg.DagsterRun, hostname: str | None = None) -> bool:
    """Was the run launched through a code server on this machine (so its pid is ours)?"""
    raw = run.tags.get(GRPC_INFO_TAG)
    if not raw:
        return False
    try:
        info = json.loads(raw)
    except ValueError:
        return False
    if not isinstance(info, dict):
        return False
    if info.get("socket"):
        return True
    host = str(info.get("host") or "").lower()
    return host in _LOCAL_HOSTS or host == (hostname or socket.gethostname()).lower()


def find_run_worker(instance: dg.DagsterInstance, run_id: str) -> RunWorker | None:
    """The latest run worker the run's event log names (a resumed run has several)."""
    worker: RunWorker | None = None
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        message = (event.message if event else None) or ""
        if event is not None and message.startswith(WORKER_STARTED_PREFIX):
            pid = _metadata_pid(event)
            if pid is not None:
                worker = RunWorker(run_id, pid, entry.timestamp)
        elif (
            worker is not None
            and message.startswith(WORKER_EXITED_PREFIX)
            and _message_pid(message) == worker.pid
        ):
            worker = replace(worker, exited=True)
    return worker


def _metadata_pid(event: dg.DagsterEvent) -> int | None:
    metadata = getattr(event.event_specific_data, "metadata", None) or {}
    value = metadata.get("pid")
    try:
        return int(str(getattr(value, "value", value)))
    except (TypeError, ValueError):
        return None


def _message_pid(message: str) -> int | None:
    """The pid in "Process for run exited (pid: N)." (that event has no pid metadata)."""
    match = _PID_IN_MESSAGE.search(message)
    return int(match.group(1)) if match else None


def process_alive(pid: int, reported_at: float) -> bool:
    """Is ``pid`` a live process that already existed when its worker reported it?

    Linux: ``/proc/<pid>/stat`` gives the state (a zombie is dead) and the start time
    (a process started after ``reported_at`` is a reused pid).  Elsewhere only
    existence can be checked.  When in doubt the answer is "alive": the guard must never
    fail a run that is still working.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return False
        return _signal_zero_alive(pid)
    except OSError:
        return True
    fields = stat.rsplit(")", 1)[-1].split()
    if len(fields) < 20:
        return True
    if fields[0] in {"Z", "X", "x"}:
        return False
    boot = _boot_time()
    if boot is None:
        return True
    started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return started <= reported_at + PID_REUSE_SLACK_SECONDS


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def _signal_zero_alive(pid: int) -> bool:
    if sys.platform.startswith("win"):
        return True  # os.kill would terminate it: cannot tell, leave it alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def worker_is_gone(worker: RunWorker) -> bool:
    return worker.exited or not process_alive(worker.pid, worker.reported_at)


def _guarded_runs(instance: dg.DagsterInstance) -> tuple[list[RunRecord], set[str]]:
    """Runs in progress, plus runs that hold (or wait for) a pool slot; the latter's ids."""
    records = {
        r.dagster_run.run_id: r
        for r in instance.get_run_records(filters=dg.RunsFilter(statuses=_IN_PROGRESS))
    }
    holding: set[str] = set()
    if instance.event_log_storage.supports_global_concurrency_limits:
        holding = set(instance.event_log_storage.get_concurrency_run_ids())
    missing = sorted(holding - records.keys())
    if missing:
        for record in instance.get_run_records(filters=dg.RunsFilter(run_ids=missing)):
            records[record.dagster_run.run_id] = record
    return list(records.values()), holding


def recover_dead_runs(
    instance: dg.DagsterInstance, *, hostname: str | None = None
) -> list[GuardAction]:
    """End the runs whose local worker is gone and free their pool slots (module docstring)."""
    records, holding = _guarded_runs(instance)
    actions = []
    for record in records:
        run = record.dagster_run
        if not is_local_run(run, hostname):
            continue
        worker = find_run_worker(instance, run.run_id)
        if worker is None or not worker_is_gone(worker):
            continue
        actions.append(_recover(instance, run.run_id, worker, run.run_id in holding))
    return actions


def _recover(
    instance: dg.DagsterInstance, run_id: str, worker: RunWorker, holds_slots: bool
) -> GuardAction:
    message = worker_gone_message(worker.pid)
    ended_as = None
    run = instance.get_run_by_id(run_id)  # re-read: the code server may have ended it
    if run is not None and not run.is_finished:
        if run.status == dg.DagsterRunStatus.CANCELING:
            instance.report_run_canceled(run, message)
            ended_as = dg.DagsterRunStatus.CANCELED
        else:
            instance.report_run_failed(
                run,
                message,
                JobFailureData(error=None, failure_reason=RunFailureReason.UNEXPECTED_TERMINATION),
            )
            ended_as = dg.DagsterRunStatus.FAILURE
    if holds_slots:
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        if run is not None:
            instance.report_engine_event(
                f"Freed the pool slots of this run: its run worker process (pid {worker.pid}) "
                f"is gone ({RUN_WORKER_GUARD} sensor).",
                run,
            )
    return GuardAction(run_id, worker.pid, ended_as, holds_slots)


def summarize(actions: Iterable[GuardAction]) -> str:
    lines = [action.describe() for action in actions]
    return "; ".join(lines) if lines else "no run has a dead run worker on this machine"


def build_run_worker_guard(
    minimum_interval_seconds: int = GUARD_INTERVAL_SECONDS,
) -> dg.SensorDefinition:
    """The ``run_worker_guard`` sensor (RUNNING by default; see the module docstring)."""

    @dg.sensor(
        name=RUN_WORKER_GUARD,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Fails runs whose run worker process died (kill -9, OOM, host restart) "
        "and frees their pool slots, so a killed marts run cannot block the next one.",
    )
    def run_worker_guard(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        actions = recover_dead_runs(context.instance)
        for action in actions:
            context.log.warning(action.describe())
        return dg.SkipReason(summarize(actions))

    return run_worker_guard
