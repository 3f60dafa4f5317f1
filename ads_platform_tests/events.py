"""Dagster event records built by hand: what an asset materialization writes to the event
log, for the storage tests and ``benchmarks/event_log_storage.py`` (one shape for both)."""

from __future__ import annotations

import time

import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.events.log import EventLogEntry


def materialization_entry(run_id: str, n: int, assets: int = 7) -> EventLogEntry:
    """The ``n``-th materialization of run ``run_id``, of one of ``assets`` assets."""
    event = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
        job_name="job",
        event_specific_data=StepMaterializationData(
            dg.AssetMaterialization(asset_key=f"asset_{n % assets}", metadata={"n": n})
        ),
    )
    return EventLogEntry(
        error_info=None,
        level=20,
        user_message="",
        run_id=run_id,
        timestamp=time.time(),
        step_key="step",
        job_name="job",
        dagster_event=event,
    )
