"""Automation: schedules, sensors and alerts that keep the lake and marts current.

``automation_definitions()`` returns the keyword arguments the one ``dg.Definitions``
adds (``jobs``, ``schedules``, ``sensors``; ``ads_platform/defs/automation`` composes
them); everything is RUNNING by default, because a
platform whose schedules must first be switched on in the UI silently does nothing.
Intervals come from the settings the definitions are built with
(:func:`ads_platform.settings.definition_settings`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dagster as dg

from ads_platform.automation.alerts import build_alert_sensors
from ads_platform.automation.run_guard import build_run_worker_guard
from ads_platform.automation.schedules import build_schedules
from ads_platform.automation.sensors import build_sensors
from ads_platform.jobs import ingestion_jobs
from ads_platform.settings import Settings


def automation_definitions(
    settings: Settings, jobs: Sequence[dg.UnresolvedAssetJobDefinition] | None = None
) -> dict[str, Any]:
    """``dg.Definitions(..., **automation_definitions(settings))``.

    Every schedule and sensor targets the same job objects, ``jobs`` (built from the
    settings when not given: :func:`ads_platform.jobs.ingestion_jobs`).
    """
    jobs = list(jobs) if jobs is not None else ingestion_jobs(settings)
    return {
        "jobs": jobs,
        "schedules": build_schedules(settings, jobs),
        "sensors": [
            *build_sensors(settings, jobs),
            *build_alert_sensors(),
            build_run_worker_guard(),
        ],
    }


__all__ = ["automation_definitions"]
