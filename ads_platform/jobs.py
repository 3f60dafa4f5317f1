"""The named jobs that schedules and sensors launch, one per partitioning of the pulls.

Why three and not one: an asset job needs a single partitions definition, and the pulls
have three — ``ad_accounts`` (none), the per-account assets (the ``ad_accounts`` set)
and the insights with their breakdowns (day × account).  Runs used to go to Dagster's
private implicit job (``__ASSET_JOB``), which the UI shows as "Target: None"; with
named jobs every schedule and sensor shows what it launches, and a run's job says what
kind of pull it is.  A run request still narrows the assets (``asset_selection``) and
the partitions (a key, or the range tags of :mod:`ads_platform.partitions`).
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from ads_platform import datasets as ds
from ads_platform.settings import Settings

AD_ACCOUNTS = dg.AssetKey(ds.AD_ACCOUNTS)
INSIGHTS = dg.AssetKey(ds.AD_INSIGHTS_DAILY)
CAMPAIGNS = dg.AssetKey(ds.CAMPAIGNS)
AD_SETS = dg.AssetKey(ds.AD_SETS)
ADS = dg.AssetKey(ds.ADS)
CREATIVES = dg.AssetKey(ds.CREATIVES)
TOKEN_HEALTH = dg.AssetKey(ds.TOKEN_HEALTH)
REACH = dg.AssetKey(ds.REACH_MONTHLY)
#: Pulled together in one run (an edited creative re-points its ad: both change at once).
ENTITY_ASSETS = (CAMPAIGNS, AD_SETS, ADS, CREATIVES)
#: Per-account assets refreshed once a day and after a new account / a recovered token.
ACCOUNT_ASSETS = (*ENTITY_ASSETS, TOKEN_HEALTH, REACH)

#: ``ad_accounts``: names, currencies, time zones, discovery (unpartitioned).
REFRESH_AD_ACCOUNTS_JOB = "refresh_ad_accounts"
#: Entities, token health and reach of one account or a range of adjacent accounts.
ACCOUNT_ASSETS_JOB = "ingest_account_assets"
#: ``ad_insights_daily`` and the breakdowns switched on, over a range of day × account.
INSIGHTS_JOB = "ingest_insights"


def insights_keys(settings: Settings | None) -> list[dg.AssetKey]:
    """``ad_insights_daily`` and the breakdowns switched on: pulled in the same range runs."""
    on = settings.ingestion.breakdowns if settings is not None else ()
    return [INSIGHTS, *(dg.AssetKey(ds.BREAKDOWNS[k].name) for k in ds.BREAKDOWNS if k in on)]


def ingestion_jobs(settings: Settings | None) -> list[dg.UnresolvedAssetJobDefinition]:
    """The three pull jobs over the assets these settings build (breakdowns included;
    without settings, none: the defaults switch them off)."""
    return [
        dg.define_asset_job(
            REFRESH_AD_ACCOUNTS_JOB,
            selection=[AD_ACCOUNTS],
            description="Reads every enabled account (and me/adaccounts when discovery is on) "
            "and adds new accounts to the ad_accounts partitions.",
        ),
        dg.define_asset_job(
            ACCOUNT_ASSETS_JOB,
            selection=list(ACCOUNT_ASSETS),
            description="Campaigns, ad sets, ads, token health and reach of one account or a "
            "range of adjacent accounts (a run request may select fewer).",
        ),
        dg.define_asset_job(
            INSIGHTS_JOB,
            selection=insights_keys(settings),
            description="ad_insights_daily and the breakdowns switched on over a range of "
            "days × accounts, one range request per account and dataset.",
        ),
    ]


def job_named(
    jobs: Sequence[dg.UnresolvedAssetJobDefinition], name: str
) -> dg.UnresolvedAssetJobDefinition:
    """One of :func:`ingestion_jobs` by name (schedules target the very same object)."""
    return next(job for job in jobs if job.name == name)
