"""Launching runs and backfills from the ``ads-platform`` commands, without a daemon.

Why the platform has this at all: ``ads-platform backfill --wait`` must work whether or
not a Dagster daemon is running (a laptop, a cron job).  Without one, the command drives
Dagster's own backfill daemon loop in its own process, against the same instance, with
runs launched synchronously; backfill policies, run grouping and partition bookkeeping
stay Dagster's.  With ``--no-wait`` (or a daemon running) the command instead submits
its runs to the instance for the daemon (:func:`submit_asset_runs`), as Dagster's
schedules and sensors do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg

#: How often a command that waits reads the state it waits on: a submitted run's
#: status, a daemon's backfill's progress, and (at the latest) a forked run's end
#: before the backfill loop iterates again to report progress.
POLL_SECONDS = 2.0

#: Instance overrides that make Dagster's daemons launch runs synchronously in this
#: process, one after another (steps still run as in production).  The tests' choice:
#: a run's code is covered and its failures raise where the test can see them.
SYNC_LAUNCH_OVERRIDES: dict[str, Any] = {
    "run_coordinator": {
        "module": "dagster._core.run_coordinator",
        "class": "DefaultRunCoordinator",
    },
    "run_launcher": {
        "module": "dagster._core.launcher.sync_in_memory_run_launcher",
        "class": "SyncInMemoryRunLauncher",
    },
}

#: The same, with each run executed in a child forked from this process, several at once
#: (:class:`ads_platform.run_launcher.ForkingRunLauncher`): ``ads-platform backfill
#: --wait`` without a daemon, where one run per account had left the API idle.
PARALLEL_LAUNCH_OVERRIDES: dict[str, Any] = {
    "run_coordinator": SYNC_LAUNCH_OVERRIDES["run_coordinator"],
    "run_launcher": {"module": "ads_platform.run_launcher", "class": "ForkingRunLauncher"},
}

#: What a Ctrl-C or a SIGTERM under :func:`interrupts_on_sigterm` raises: Python's own
#: interrupt, or Dagster's once a run executing in this process has caught it.
INTERRUPTS = (KeyboardInterrupt, dg.DagsterExecutionInterruptedError)


def pending_backfills(instance: dg.DagsterInstance, backfill_ids: Sequence[str]) -> list[str]:
    """The backfills of ``backfill_ids`` that Dagster is still executing (or cancelling)."""
    from dagster._core.execution.backfill import BulkActionStatus

    going = (BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING)
    return [
        i for i in backfill_ids if (b := instance.get_backfill(i)) is not None and b.status in going
    ]


def combined_status(instance: dg.DagsterInstance, backfill_ids: Sequence[str]) -> Any:
    """One status for the backfills of one command: the first that did not succeed, else
    success (a backfill that is gone counts as failed)."""
    from dagster._core.execution.backfill import BulkActionStatus

    for backfill_id in backfill_ids:
        backfill = instance.get_backfill(backfill_id)
        status = backfill.status if backfill else BulkActionStatus.FAILED
        if status != BulkActionStatus.COMPLETED_SUCCESS:
            return status
    return BulkActionStatus.COMPLETED_SUCCESS


def cancel_backfills(instance: dg.DagsterInstance, backfill_ids: Sequence[str]) -> None:
    """Mark the still-pending backfills of ``backfill_ids`` CANCELED, and their runs that
    never started (created, not launched yet when the loop was stopped) CANCELED too.

    Called once the loop's own runs have ended (:meth:`ForkingRunLauncher.stop_all`):
    the daemon's CANCELING step, which waits for them, has nothing left to wait for.
    """
    from dagster._core.execution.backfill import BulkActionStatus
    from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES

    pending = pending_backfills(instance, backfill_ids)
    for backfill_id in pending:
        runs = instance.get_runs(
            filters=dg.RunsFilter(
                tags={"dagster/backfill": backfill_id}, statuses=list(NOT_FINISHED_STATUSES)
            )
        )
        for run in runs:
            instance.report_run_canceled(run, "Its backfill was stopped before this run started.")
        backfill = instance.get_backfill(backfill_id)
        if backfill is not None:
            instance.update_backfill(backfill.with_status(BulkActionStatus.CANCELED))  # type: ignore[no-untyped-call]


@contextmanager
def interrupts_on_sigterm() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt here, as Ctrl-C does, for as long as it lasts,
    and either is remembered (:func:`ads_platform.interrupts.raise_interrupt`).

    Why: Python's default SIGTERM ends the process on the spot, so a ``backfill --wait``
    stopped by a service manager or ``kill`` left its forked runs going with nobody to
    collect them and its backfill REQUESTED for ever; as an interrupt, the loop stops
    its runs and cancels its backfills first (:func:`drive_backfill`).  Only the main
    thread can set a handler; elsewhere this does nothing.
    """
    import signal
    import threading

    from ads_platform.interrupts import HELD_SIGNALS, forget_interrupt, raise_interrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, raise_interrupt) for s in HELD_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        forget_interrupt()


def _raise_lost_interrupt() -> None:
    """An interrupt raised where Python ignored it (see
    :func:`ads_platform.interrupts.raise_interrupt`) stops the loop here instead."""
    from ads_platform.interrupts import interrupt_raised

    if interrupt_raised():
        raise KeyboardInterrupt


def drive_backfill(
    workspace: Any,
    instance: dg.DagsterInstance,
    backfill_ids: str | Sequence[str],
    *,
    adding: Sequence[Any] = (),
    max_iterations: int = 200,
    on_iteration: Callable[[], None] | None = None,
) -> Any:
    """Dagster's backfill daemon iterations until none of ``backfill_ids`` is still
    requested (or ``max_iterations``); their :func:`combined_status`.

    ``adding``: backfills (``PartitionBackfill``) this loop adds to the instance first,
    inside its handling of interrupts.  Why: a Ctrl-C or SIGTERM that came between the
    caller's ``add_backfill`` and the loop left the backfill REQUESTED, for a daemon to
    run later although its user had stopped it (CI, 2026-11-30: holding interrupts
    while the storage writes, :mod:`ads_platform.interrupts`, delivers one just after
    the write).

    One loop for ``ads-platform backfill --wait`` and the tests.  Runs are launched as
    the instance says: under :data:`SYNC_LAUNCH_OVERRIDES`, one after another in this
    process; under :data:`PARALLEL_LAUNCH_OVERRIDES`, in forked children, and then the
    loop waits for one of them to end before it iterates again (an iteration while
    every run is still going would only read the same state).  Iterations spent
    waiting on running children do not count against ``max_iterations``.  Running runs
    side by side in threads of this process deadlocks instead: Dagster re-configures
    Python's logging (``logging.config.dictConfig``) whenever a run starts, while
    another run's thread is inside a logging handler (seen with py-spy, 2026-11-29).
    One iteration serves every requested backfill of the instance, so the groups of one
    command (:func:`ads_platform.backfill.account_groups`) go side by side.
    """
    from dagster._daemon.backfill import execute_backfill_iteration

    from ads_platform.run_launcher import ForkingRunLauncher

    ids = [backfill_ids] if isinstance(backfill_ids, str) else list(backfill_ids)
    quiet = logging.getLogger("ads_platform.backfill")
    launcher = instance.run_launcher
    forking = launcher if isinstance(launcher, ForkingRunLauncher) else None
    iterations = 0
    if forking is not None:
        forking.progress, forking.progress_every = on_iteration, POLL_SECONDS
    try:
        for backfill in adding:
            instance.add_backfill(backfill)
        while iterations < max_iterations:
            list(execute_backfill_iteration(workspace, quiet))
            if on_iteration is not None:
                on_iteration()
            _raise_lost_interrupt()
            if not pending_backfills(instance, ids):
                break
            if forking is not None and forking.running:
                forking.reap(timeout=POLL_SECONDS)
                _raise_lost_interrupt()
            else:
                iterations += 1
    except INTERRUPTS:
        # Ctrl-C, or SIGTERM under interrupts_on_sigterm(): no run may stay STARTED with
        # nobody to end it, and no daemon may later resume a backfill its user stopped.
        if forking is not None:
            forking.stop_all()
        cancel_backfills(instance, ids)
        raise
    finally:
        if forking is not None:
            forking.wait_all()
            forking.progress = None
    if pending_backfills(instance, ids):
        from dagster._core.execution.backfill import BulkActionStatus

        return BulkActionStatus.REQUESTED
    return combined_status(instance, ids)


def definitions_target() -> Any:
    """The code location exactly as ``workspace.yaml`` loads it."""
    from dagster._core.workspace.load_target import ModuleTarget

    return ModuleTarget(
        module_name="ads_platform.definitions",
        attribute=None,
        working_directory=None,
        location_name="ads_platform",
    )


def in_process_target() -> Any:
    """The same code location, loaded in this process instead of a code server's.

    Why for the loop that executes a backfill here: the code server is a second process
    that imports the code location again (6 s of two cores' time, measured
    2026-11-29) before the first run is created, while this process has imported it
    already.  The location keeps its name, so the UI links its runs to
    ``workspace.yaml``'s location; the runs' code origin is the same module.
    """
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

    return InProcessWorkspaceLoadTarget(
        InProcessCodeLocationOrigin(
            LoadableTargetOrigin(module_name="ads_platform.definitions"),
            location_name="ads_platform",
        )
    )


@contextmanager
def daemon_workspace(instance: dg.DagsterInstance, *, in_process: bool = False) -> Iterator[Any]:
    """The workspace a Dagster daemon loop needs, loading the platform's code location
    in a code server as ``workspace.yaml`` does, or in this process
    (:func:`in_process_target`)."""
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._daemon.controller import create_daemon_grpc_server_registry

    target = in_process_target() if in_process else definitions_target()
    with (
        create_daemon_grpc_server_registry(instance) as registry,
        WorkspaceProcessContext(instance, target, grpc_server_registry=registry) as workspace,
    ):
        yield workspace


def submit_asset_runs(
    instance: dg.DagsterInstance, requests: Sequence[dg.RunRequest], *, in_process: bool = False
) -> list[dg.DagsterRun]:
    """Create each run against the code location and submit it to ``instance``'s run
    coordinator; the runs, in order.

    Why submitted and not executed: ``ads-platform backfill --no-wait`` (or ``--wait``
    while a daemon runs) hands every run to the daemon, which is what executes the
    backfill's own runs too.  With the shipped instance (queued run coordinator) they are
    QUEUED: in the UI's run list, executed by the daemon's run queue in the order
    submitted.  Created the way Dagster's schedules, sensors and backfills create theirs
    (``submit_asset_run``): the job snapshot and origin come from the code location as
    ``workspace.yaml`` loads it, so the daemon finds its code; with ``in_process``, as
    this process loaded it, for runs this process forks (as its backfill loop does).
    """
    import asyncio
    import logging

    from dagster._core.execution.submit_asset_runs import submit_asset_run
    from dagster._core.utils import make_new_run_id

    log = logging.getLogger("ads_platform.launching")

    async def submit_all(context: Any) -> list[dg.DagsterRun]:
        # One event loop for the lot: the request context's loaders are bound to it.
        workspace = context.create_request_context()
        cache: dict[Any, Any] = {}
        return [
            await submit_asset_run(
                make_new_run_id(), request, index, instance, context, workspace, cache, {}, log
            )
            for index, request in enumerate(requests)
        ]

    with daemon_workspace(instance, in_process=in_process) as context:
        return asyncio.run(submit_all(context))
