"""Partition definitions shared by the assets, sensors and schedules.

Accounts are a *dynamic* dimension (agencies add clients all the time); days are a
daily dimension starting at the configured start date and ending at the current day
of the accounts' easternmost time zone (:mod:`ads_platform.day_grid`).  Dimensions are
ordered by name, so a serialized key reads ``act_123|2026-01-05``; an account id never
contains ``|`` (it is validated as ``act_`` + digits).

Nothing here reads the settings: the day grid is built from the start date and time zone
the definitions were built with (:func:`ads_platform.definitions.build_definitions`).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from ads_platform.day_grid import EARLIEST_ZONE

ACCOUNT_DIM = "account"
DATE_DIM = "date"
#: How Dagster joins the dimensions of a multi-partition key (ordered by name).
KEY_DELIMITER = "|"

ad_accounts_partitions = dg.DynamicPartitionsDefinition(name="ad_accounts")


def daily_partitions(
    start_date: dt.date, timezone: str = EARLIEST_ZONE
) -> dg.DailyPartitionsDefinition:
    # end_offset=1: the grid ends at the current day of ``timezone``, the easternmost
    # zone of the accounts (ads_platform.day_grid): no later day shows as missing.
    return dg.DailyPartitionsDefinition(
        start_date=start_date.isoformat(), timezone=timezone, end_offset=1
    )


def account_day_partitions(
    start_date: dt.date, timezone: str = EARLIEST_ZONE
) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition(
        {DATE_DIM: daily_partitions(start_date, timezone), ACCOUNT_DIM: ad_accounts_partitions}
    )


def last_day(
    start_date: dt.date, now: dt.datetime, timezone: str = EARLIEST_ZONE
) -> dt.date | None:
    """The last day of the date dimension as Dagster sees it at ``now``."""
    with dg.partition_loading_context(effective_dt=now):
        last = daily_partitions(start_date, timezone).get_last_partition_key()
    return dt.date.fromisoformat(last) if last else None


def split_keys(keys: list[str] | tuple[str, ...]) -> dict[str, list[dt.date]]:
    """``["act_1|2026-01-05", …]`` → ``{"act_1": [date, …]}``."""
    by_account: dict[str, list[dt.date]] = {}
    for key in keys:
        account, _, day = key.partition(KEY_DELIMITER)
        if not day:
            raise ValueError(f"not an account|day partition key: {key!r}")
        by_account.setdefault(account, []).append(dt.date.fromisoformat(day))
    return {account: sorted(days) for account, days in by_account.items()}


def key_for(account_id: str, day: dt.date) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({ACCOUNT_DIM: account_id, DATE_DIM: day.isoformat()})


def range_tags(start: str, end: str) -> dict[str, str]:
    """The tags that make one run cover a range of partitions (as a single-run backfill)."""
    return {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}
