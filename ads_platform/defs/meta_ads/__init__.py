"""The Graph API pulls as assets, and the named jobs the automation launches."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from ads_platform.assets.accounts import ad_accounts
from ads_platform.assets.breakdowns import build_breakdown_assets
from ads_platform.assets.entities import entity_assets
from ads_platform.assets.fx_rates import fx_rates
from ads_platform.assets.insights import build_insights_asset
from ads_platform.assets.reach import reach_monthly
from ads_platform.assets.token_health import token_health
from ads_platform.day_grid import grid_timezone
from ads_platform.partitions import account_day_partitions
from ads_platform.settings import Settings


def build(settings: Settings, jobs: Sequence[dg.UnresolvedAssetJobDefinition]) -> dg.Definitions:
    """The pulls over the day × account grid of ``settings``; ``jobs`` launch them."""
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
        ],
        jobs=list(jobs),
    )
