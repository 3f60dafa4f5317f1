"""What the sensors, schedules and alerts share: asset keys, settings, clocks, run tags."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

import dagster as dg
from dagster._core.definitions.assets.job.asset_job import IMPLICIT_ASSET_JOB_NAME

from ads_platform import datasets as ds
from ads_platform.day_grid import grid_timezone
from ads_platform.partitions import ad_accounts_partitions, last_day, range_tags
from ads_platform.settings import Settings

log = logging.getLogger("ads_platform.automation")

Clock = Callable[[], dt.datetime]

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
#: Runs go to Dagster's implicit asset job (the one the UI's "Materialize" uses): it
#: accepts any asset selection, whereas an asset-selection ``target`` needs a single
#: partitions definition and these assets have three (none, account, account × day).
ASSET_JOB = IMPLICIT_ASSET_JOB_NAME

#: Tag naming what asked for a run (schedules, sensors): shows up in the UI and alerts.
TRIGGER_TAG = "ads_platform/trigger"
ACCOUNTS_PARTITION_SET = ad_accounts_partitions.name or "ad_accounts"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def partition_days(settings: Settings, now: dt.datetime) -> tuple[dt.date, dt.date | None]:
    """First and last day of the date dimension as Dagster sees it at ``now``."""
    start = settings.ingestion.start_date
    return start, last_day(start, now, grid_timezone(settings, now))


def enabled_accounts(settings: Settings) -> list[str]:
    """Accounts automation may pull: enabled in the settings, or discovered while on."""
    ids = [a.id for a in settings.enabled_accounts]
    if settings.discovery.enabled:
        from ads_platform.ingestion.accounts import discovered_accounts
        from ads_platform.lake import Lake

        ids += sorted(discovered_accounts(Lake(settings.lake_dir)) - set(ids))
    return ids


def ordered_accounts(instance: dg.DagsterInstance) -> list[str]:
    """The ``ad_accounts`` dynamic partitions in Dagster's order (ranges follow it)."""
    return list(instance.get_dynamic_partitions(ACCOUNTS_PARTITION_SET))


# Run keys: a schedule returning several run requests must key each of them, and
# Dagster de-duplicates those per tick only, so the builders below set descriptive keys.
# A *sensor* run key is remembered forever (the same range re-requested after a later
# token incident would be skipped, and thousands of keys load the run storage), so
# sensors drop them: their de-duplication is the cursor.


def without_run_keys(requests: Sequence[dg.RunRequest]) -> list[dg.RunRequest]:
    return [r.with_replaced_attrs(run_key=None) for r in requests]


def insights_keys(settings: Settings | None) -> list[dg.AssetKey]:
    """``ad_insights_daily`` and the breakdowns switched on: pulled in the same range runs."""
    on = settings.ingestion.breakdowns if settings is not None else ()
    return [INSIGHTS, *(dg.AssetKey(ds.BREAKDOWNS[k].name) for k in ds.BREAKDOWNS if k in on)]


def insights_run(
    start_key: str,
    end_key: str,
    trigger: str,
    extra: dict[str, str] | None = None,
    *,
    settings: Settings | None = None,
) -> dg.RunRequest:
    """One run over a range (or rectangle) of ``ad_insights_daily`` and, given the
    settings, of the breakdowns switched on (the same run, not one per dataset)."""
    return dg.RunRequest(
        run_key=f"{trigger}:{INSIGHTS.to_user_string()}:{start_key}:{end_key}",
        asset_selection=insights_keys(settings),
        tags={**range_tags(start_key, end_key), TRIGGER_TAG: trigger, **(extra or {})},
    )


def account_assets_run(
    accounts: Sequence[str],
    trigger: str,
    assets: Sequence[dg.AssetKey] = ACCOUNT_ASSETS,
    extra: dict[str, str] | None = None,
) -> dg.RunRequest:
    """One run of per-account assets over adjacent accounts (a one-account run is a
    plain partition run, several are a range)."""
    tags = {TRIGGER_TAG: trigger, **(extra or {})}
    run_key = (
        f"{trigger}:{','.join(k.to_user_string() for k in assets)}:{accounts[0]}:{accounts[-1]}"
    )
    if len(accounts) == 1:
        return dg.RunRequest(
            run_key=run_key, asset_selection=list(assets), partition_key=accounts[0], tags=tags
        )
    return dg.RunRequest(
        run_key=run_key,
        asset_selection=list(assets),
        tags={**range_tags(accounts[0], accounts[-1]), **tags},
    )


def iso_utc(value: dt.datetime) -> str:
    """Cursor and state timestamps: ISO 8601 in UTC."""
    return value.astimezone(dt.UTC).isoformat()


def parse_utc(value: object) -> dt.datetime | None:
    """Read back :func:`iso_utc` (naive values are taken as UTC; garbage is None)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
