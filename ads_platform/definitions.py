"""The one ``Definitions`` object of the platform (``workspace.yaml`` points here)."""

from __future__ import annotations

import dagster as dg

from ads_platform.assets.accounts import ad_accounts
from ads_platform.assets.entities import entity_assets
from ads_platform.assets.fx_rates import fx_rates
from ads_platform.assets.insights import ad_insights_daily
from ads_platform.assets.marts import dbt_resource, marts_dbt_assets
from ads_platform.assets.reach import reach_monthly
from ads_platform.assets.token_health import token_health
from ads_platform.automation import automation_definitions
from ads_platform.resources import PlatformResource

defs = dg.Definitions(
    assets=[
        ad_accounts,
        *entity_assets,
        ad_insights_daily,
        reach_monthly,
        token_health,
        fx_rates,
        marts_dbt_assets,
    ],
    resources={"platform": PlatformResource(), "dbt": dbt_resource()},
    # Runs here are one or a few HTTP-bound steps; a subprocess per step cost ~3 s of
    # start-up per run (a 10-account backfill is 10 runs) for no isolation we need.
    # Accounts are pulled in parallel threads inside the step instead.
    executor=dg.in_process_executor,
    **automation_definitions(),
)
