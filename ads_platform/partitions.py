"""Partition definitions shared by the assets, sensors and schedules.

Accounts are a *dynamic* dimension (agencies add clients all the time); days are a
daily dimension starting at the configured start date and ending at the current day
of the accounts' easternmost time zone (:mod:`ads_platform.day_grid`).  Dimensions are
ordered by name, so a serialized key reads ``act_123|2026-01-05``; an account id never
contains ``|`` (it is validated as ``act_`` + digits).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from ads_platform.day_grid import EARLIEST_ZONE, grid_timezone
from ads_platform.settings import load_settings

ACCOUNT_DIM = "account"
DATE_DIM = "date"

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


def _configured_grid() -> tuple[dt.date, str]:
    try:
        settings = load_settings(require_tokens=False)
    except Exception:
        return dt.date(2025, 1, 1), EARLIEST_ZONE
    return settings.ingestion.start_date, grid_timezone(settings)


START_DATE, GRID_TIMEZONE = _configured_grid()
days_partitions = daily_partitions(START_DATE, GRID_TIMEZONE)
account_days_partitions = account_day_partitions(START_DATE, GRID_TIMEZONE)


def split_keys(keys: list[str] | tuple[str, ...]) -> dict[str, list[dt.date]]:
    """``["act_1|2026-01-05", …]`` → ``{"act_1": [date, …]}``."""
    by_account: dict[str, list[dt.date]] = {}
    for key in keys:
        multi = account_days_partitions.get_partition_key_from_str(key)
        account = multi.keys_by_dimension[ACCOUNT_DIM]
        day = dt.date.fromisoformat(multi.keys_by_dimension[DATE_DIM])
        by_account.setdefault(account, []).append(day)
    return {account: sorted(days) for account, days in by_account.items()}


def key_for(account_id: str, day: dt.date) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({ACCOUNT_DIM: account_id, DATE_DIM: day.isoformat()})
