"""Automation: schedules, sensors and alerts that keep the lake and marts current.

``automation_definitions()`` returns the keyword arguments the one ``dg.Definitions``
adds (``schedules``, ``sensors``); everything is RUNNING by default, because a
platform whose schedules must first be switched on in the UI silently does nothing.
Intervals come from the settings the definitions are built with
(:func:`ads_platform.settings.definition_settings`).
"""

from __future__ import annotations

from typing import Any

from ads_platform.automation.alerts import build_alert_sensors
from ads_platform.automation.run_guard import build_run_worker_guard
from ads_platform.automation.schedules import build_schedules
from ads_platform.automation.sensors import build_sensors
from ads_platform.settings import Settings


def automation_definitions(settings: Settings) -> dict[str, Any]:
    """``dg.Definitions(..., **automation_definitions(settings))``."""
    return {
        "schedules": build_schedules(settings),
        "sensors": [*build_sensors(settings), *build_alert_sensors(), build_run_worker_guard()],
    }


__all__ = ["automation_definitions"]
