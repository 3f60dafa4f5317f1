"""Partition definitions shared by the assets, sensors and schedules.

Accounts are a *dynamic* dimension (agencies add clients all the time); days are a
daily dimension starting at the configured start date.  Dimensions are ordered by
name, so a serialized key reads ``act_123|2026-01-05``; an account id never contains
``|`` (it is validated as ``act_`` + digits).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from ads_platform.settings import load_settings

ACCOUNT_DIM = "account"
DATE_DIM = "date"

ad_accounts_partitions = dg.DynamicPartitionsDefinition(name="ad_accounts")


def daily_partitions(start_date: dt.date) -> dg.DailyPartitionsDefinition:
    # end_offset=2: accounts east of UTC start their day before UTC does: at 20:00 UTC
    # it is already tomorrow in Tokyo (and Auckland), and that day needs a partition.
    return dg.DailyPartitionsDefinition(start_date=start_date.isoformat(), end_offset=2)


def account_day_partitions(start_date: dt.date) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition(
        {DATE_DIM: daily_partitions(start_date), ACCOUNT_DIM: ad_accounts_partitions}
    )


def _configured_start() -> dt.date:
    try:
        return load_settings(require_tokens=False).ingestion.start_date
    except Exception:
        return dt.date(2025, 1, 1)


START_DATE = _configured_start()
days_partitions = daily_partitions(START_DATE)
account_days_partitions = account_day_partitions(START_DATE)


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
