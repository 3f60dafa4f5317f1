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

#: Instance overrides that make Dagster's daemons launch runs synchronously in this
#: process (steps still run as in production).
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


def drive_backfill(
    workspace: Any,
    instance: dg.DagsterInstance,
    backfill_id: str,
    *,
    max_iterations: int = 200,
    on_iteration: Callable[[], None] | None = None,
) -> Any:
    """Dagster's backfill daemon iterations on ``backfill_id`` until it is no longer
    requested (or ``max_iterations``); its final status.

    One loop for ``ads-platform backfill --wait`` and the tests.  Runs are launched as
    the instance says: under :data:`SYNC_LAUNCH_OVERRIDES`, one after another in this
    process.  Running them side by side in threads of this process deadlocks: Dagster
    re-configures Python's logging (``logging.config.dictConfig``) whenever a run
    starts, while another run's thread is inside a logging handler (seen with py-spy,
    2026-11-29); the daemon's run queue runs them in processes instead.
    """
    from dagster._core.execution.backfill import BulkActionStatus
    from dagster._daemon.backfill import execute_backfill_iteration

    quiet = logging.getLogger("ads_platform.backfill")
    status = BulkActionStatus.REQUESTED
    for _ in range(max_iterations):
        list(execute_backfill_iteration(workspace, quiet))
        current = instance.get_backfill(backfill_id)
        status = current.status if current else status
        if on_iteration is not None:
            on_iteration()
        if status != BulkActionStatus.REQUESTED:
            break
    return status


def definitions_target() -> Any:
    """The code location exactly as ``workspace.yaml`` loads it."""
    from dagster._core.workspace.load_target import ModuleTarget

    return ModuleTarget(
        module_name="ads_platform.definitions",
        attribute=None,
        working_directory=None,
        location_name="ads_platform",
    )


@contextmanager
def daemon_workspace(instance: dg.DagsterInstance) -> Iterator[Any]:
    """The workspace a Dagster daemon loop needs, loading the platform's code location."""
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._daemon.controller import create_daemon_grpc_server_registry

    with (
        create_daemon_grpc_server_registry(instance) as registry,
        WorkspaceProcessContext(
            instance, definitions_target(), grpc_server_registry=registry
        ) as workspace,
    ):
        yield workspace


def submit_asset_runs(
    instance: dg.DagsterInstance, requests: Sequence[dg.RunRequest]
) -> list[dg.DagsterRun]:
    """Create each run against the code location and submit it to ``instance``'s run
    coordinator; the runs, in order.

    Why submitted and not executed: ``ads-platform backfill --no-wait`` (or ``--wait``
    while a daemon runs) hands every run to the daemon, which is what executes the
    backfill's own runs too.  With the shipped instance (queued run coordinator) they are
    QUEUED: in the UI's run list, executed by the daemon's run queue in the order
    submitted.  Created the way Dagster's schedules, sensors and backfills create theirs
    (``submit_asset_run``): the job snapshot and origin come from the code location as
    ``workspace.yaml`` loads it, so the daemon finds its code.
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

    with daemon_workspace(instance) as context:
        return asyncio.run(submit_all(context))
