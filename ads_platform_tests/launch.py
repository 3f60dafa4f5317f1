"""Test-only launching: Dagster's daemons driven synchronously inside the test process.

These helpers use Dagster's test utilities (``dagster._core.test_utils``), which have
no place in the platform's import graph; the demo's launching is in
:mod:`ads_platform.demo`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from ads_platform.definitions import load_definitions
from ads_platform.launching import SYNC_LAUNCH_OVERRIDES, definitions_target

__all__ = [
    "SYNC_LAUNCH_OVERRIDES",
    "backfill_through_daemon",
    "definitions_target",
    "execute_queued_runs",
    "execute_submitted_backfill",
]


def backfill_through_daemon(
    instance: dg.DagsterInstance,
    partition_keys: Sequence[str],
    assets: Sequence[str],
    *,
    backfill_id: str,
    max_iterations: int = 50,
    on_iteration: Callable[[], None] | None = None,
) -> Any:
    """Launch a backfill the way the UI does and drive Dagster's backfill daemon loop.

    Uses Dagster's own backfill code (``PartitionBackfill`` + the daemon iteration), so
    backfill policies, run grouping and partition bookkeeping are Dagster's, not ours.
    Returns the final ``BulkActionStatus``.
    """
    import time

    from dagster._core.execution.backfill import PartitionBackfill

    from ads_platform.launching import daemon_workspace

    defs = load_definitions()

    with daemon_workspace(instance, in_process=True) as workspace:
        backfill = PartitionBackfill.from_asset_partitions(
            backfill_id=backfill_id,
            asset_graph=defs.resolve_asset_graph(),
            partition_names=list(partition_keys),
            asset_selection=[dg.AssetKey(a) for a in assets],
            backfill_timestamp=time.time(),
            tags={},
            dynamic_partitions_store=instance,
            all_partitions=False,
            title=None,
            description=None,
            run_config=None,
        )
        return _iterate(workspace, instance, backfill_id, max_iterations, on_iteration, [backfill])


def execute_submitted_backfill(
    instance: dg.DagsterInstance, backfill_id: str, *, max_iterations: int = 50
) -> Any:
    """Dagster's backfill daemon iterations on a backfill someone already submitted (the
    UI, ``ads-platform backfill --no-wait``), until it is done; the final status."""
    from ads_platform.launching import daemon_workspace

    with daemon_workspace(instance, in_process=True) as workspace:
        return _iterate(workspace, instance, backfill_id, max_iterations)


def _iterate(
    workspace: Any,
    instance: dg.DagsterInstance,
    backfill_id: str,
    max_iterations: int,
    on_iteration: Callable[[], None] | None = None,
    adding: Sequence[Any] = (),
) -> Any:
    """The product's own loop (:func:`ads_platform.launching.drive_backfill`), bounded."""
    from ads_platform.launching import drive_backfill

    return drive_backfill(
        workspace,
        instance,
        backfill_id,
        adding=adding,
        max_iterations=max_iterations,
        on_iteration=on_iteration,
    )


def execute_queued_runs(dagster_home: Path, *, max_iterations: int = 20) -> list[dg.DagsterRun]:
    """Dagster's run queue daemon (``QUEUED_RUN_COORDINATOR``) on the instance at
    ``dagster_home`` until no run is queued: each queued run is dequeued as the daemon does
    (priority, then submission order, the instance's concurrency limits) and launched
    synchronously in this process.  The runs it launched, in the order they started.

    Why this instance: its own ``dagster.yaml`` (the queued run coordinator reads its
    limits there) with only the run launcher made synchronous.
    """
    from dagster._core.instance.ref import InstanceRef
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
        QueuedRunCoordinatorDaemon,
    )

    overrides = {"run_launcher": SYNC_LAUNCH_OVERRIDES["run_launcher"]}
    queued = dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED])
    launched: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(dagster_home))
        ref = InstanceRef.from_dir(str(dagster_home), overrides=overrides)
        with (
            dg.DagsterInstance.from_ref(ref) as instance,
            create_test_daemon_workspace_context(definitions_target(), instance) as context,
            QueuedRunCoordinatorDaemon(interval_seconds=1) as daemon,
        ):
            for _ in range(max_iterations):
                waiting = [r.run_id for r in instance.get_runs(filters=queued)]
                if not waiting:
                    break
                list(daemon.run_iteration(context))
                launched += [i for i in waiting if i not in launched and _left_queue(instance, i)]
            if not launched:
                return []
            records = instance.get_run_records(filters=dg.RunsFilter(run_ids=launched))
            return [r.dagster_run for r in sorted(records, key=lambda r: r.start_time or 0.0)]


def _left_queue(instance: dg.DagsterInstance, run_id: str) -> bool:
    run = instance.get_run_by_id(run_id)
    return run is not None and run.status != dg.DagsterRunStatus.QUEUED


@contextmanager
def open_instance(dagster_home: Path) -> Iterator[dg.DagsterInstance]:
    """The instance at ``dagster_home`` as the CLI, the UI and the daemon open it.

    With ``DAGSTER_HOME`` set, for the block only: the shipped ``dagster.yaml`` finds its
    SQLite files through it (``storage: custom:``, :mod:`ads_platform.instance_storage`).
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(dagster_home))
        with dg.DagsterInstance.get() as instance:
            yield instance
