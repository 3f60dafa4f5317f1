"""The platform's Dagster definitions (``workspace.yaml`` points here).

Why a builder: the settings are read once, when the definitions are built, and passed
to what needs them (the day grid's start date, the automation's intervals); importing
any module reads no settings file and starts no ``dbt parse``.  Dagster loads ``defs``
lazily (``@dg.definitions``); tests and the demo call :func:`build_definitions` with the
settings they mean.
"""

from __future__ import annotations

import dagster as dg

from ads_platform.defs import automation, marts, meta_ads, operations
from ads_platform.jobs import ingestion_jobs
from ads_platform.resources import PlatformResource
from ads_platform.settings import Settings, definition_settings


def build_definitions(settings: Settings) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor, built from ``settings``.

    The domains of ``ads_platform/defs/`` merged; the jobs are built once and shared by
    the pulls (``meta_ads``) and what launches them (``automation``).
    """
    jobs = ingestion_jobs(settings)
    return dg.Definitions.merge(
        meta_ads.build(settings, jobs),
        operations.build(),
        marts.build(settings),
        automation.build(settings, jobs),
        dg.Definitions(
            resources={"platform": PlatformResource()},
            # Runs here are one or a few HTTP-bound steps; a subprocess per step cost ~3 s
            # of start-up per run (a 10-account backfill is 10 runs) for no isolation we
            # need.  Accounts are pulled in parallel threads inside the step instead.
            executor=dg.in_process_executor,
        ),
    )


def load_definitions() -> dg.Definitions:
    """The definitions from the settings the environment points at (``ADS_PLATFORM_CONFIG``)."""
    return build_definitions(definition_settings())


@dg.definitions
def defs() -> dg.Definitions:
    return load_definitions()
