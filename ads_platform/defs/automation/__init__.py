"""Schedules, sensors and alerts, launching the named jobs of ``meta_ads``."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from ads_platform.automation import automation_definitions
from ads_platform.settings import Settings


def build(settings: Settings, jobs: Sequence[dg.UnresolvedAssetJobDefinition]) -> dg.Definitions:
    """Schedules and sensors only: ``jobs`` are defined by ``meta_ads``."""
    automation = automation_definitions(settings, jobs)
    return dg.Definitions(schedules=automation["schedules"], sensors=automation["sensors"])
