"""The platform's Dagster definitions (``workspace.yaml`` points here).

Why a builder: the settings are read once, when the definitions are built, and passed
to what needs them (the day grid's start date, the automation's intervals); importing
any module reads no settings file and starts no ``dbt parse``.  Dagster loads ``defs``
lazily (``@dg.definitions``); tests and the demo call :func:`build_definitions` with the
settings they mean.
"""

from __future__ import annotations

import dagster as dg

from ads_platform.assets.accounts import ad_accounts
from ads_platform.assets.breakdowns import build_breakdown_assets
from ads_platform.assets.entities import entity_assets
from ads_platform.assets.fx_rates import fx_rates
from ads_platform.assets.insights import build_insights_asset
from ads_platform.assets.marts import build_marts_assets, dbt_resource
from ads_platform.assets.operations import operations_sources
from ads_platform.assets.reach import reach_monthly
from ads_platform.assets.token_health import token_health
from ads_platform.automation import automation_definitions
from ads_platform.day_grid import grid_timezone
from ads_platform.partitions import account_day_partitions
from ads_platform.resources import PlatformResource
from ads_platform.settings import Settings, definition_settings


def build_definitions(settings: Settings) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor, built from ``settings``."""
    grid = account_day_partitions(settings.ingestion.start_date, grid_timezone(settings))
    return dg.Definitions(
        assets=[
            ad_accounts,
            *entity_assets,
            build_insights_asset(grid),
            *build_breakdown_assets(grid, settings),
            reach_monthly,
            token_health,
            fx_rates,
            *operations_sources,
            build_marts_assets(settings),
        ],
        resources={"platform": PlatformResource(), "dbt": dbt_resource()},
        # Runs here are one or a few HTTP-bound steps; a subprocess per step cost ~3 s of
        # start-up per run (a 10-account backfill is 10 runs) for no isolation we need.
        # Accounts are pulled in parallel threads inside the step instead.
        executor=dg.in_process_executor,
        **automation_definitions(settings),
    )


def load_definitions() -> dg.Definitions:
    """The definitions from the settings the environment points at (``ADS_PLATFORM_CONFIG``)."""
    return build_definitions(definition_settings())


@dg.definitions
def defs() -> dg.Definitions:
    return load_definitions()
