"""Reach at the grain it was pulled: account, campaign and ad set × month.

Reach counts deduplicated people within the exact level and time range it was asked
for, so it never adds across days, ads, ad sets or campaigns.  The only correct monthly
reach is one Meta computed for that month: one request per month and level
(``time_increment=all_days``), stored as its own non-additive fact.

Besides months, the account's and its campaigns' reach for the last 7, 14 and 30
account-local days ending yesterday (``ROLLING_PERIODS``, the dashboard's relative
periods of the same keys) is pulled as one range each: one request per window and level,
six per pull.  Each pull replaces the windows stored before (their dates moved on), so the
partition holds only the windows ending on the day before the latest pull; a reader shows
them only for exactly the dates they cover.

A partition written before the ad-set level existed (no ``ad_set_id`` column) counts
no month as stored: its complete months are pulled again once, so they gain their
ad-set rows instead of never having them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ads_platform import frames, schemas
from ads_platform.datasets import REACH
from ads_platform.datasets.reach import LEVELS, ROLLING_LEVELS, ROLLING_PERIODS
from ads_platform.ingestion.outcomes import SCHEMA_CHECK, CheckOutcome, PartitionOutcome
from ads_platform.lake import Lake
from ads_platform.meta.client import GraphClient

DATASET = REACH.name


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def months_to_pull(
    stored: set[dt.date],
    local_today: dt.date,
    start_date: dt.date,
    lookback_days: int,
    max_months: int = 13,
) -> list[dt.date]:
    """Months still open to restatement, plus complete months never stored."""
    first = max(
        month_start(start_date), month_start(local_today - dt.timedelta(days=31 * (max_months - 1)))
    )
    restated_from = month_start(local_today - dt.timedelta(days=lookback_days))
    months = []
    month = first
    while month <= local_today:
        if month >= restated_from or month not in stored:
            months.append(month)
        month = next_month(month)
    return months


def rolling_windows(local_today: dt.date) -> list[tuple[str, dt.date, dt.date]]:
    """``(kind, first day, last day)`` of each window, ending the account's yesterday."""
    yesterday = local_today - dt.timedelta(days=1)
    return [
        (kind, local_today - dt.timedelta(days=days), yesterday)
        for kind, days in ROLLING_PERIODS.items()
    ]


def reach_values(row: Mapping[str, Any], level: str, account_id: str) -> dict[str, Any]:
    """The stored values of one reach row (``level`` as stored: account, campaign, ad_set).

    A campaign row must name its campaign; an ad-set row its ad set and campaign.
    """
    endpoint = frames.INSIGHTS_ENDPOINT

    def required(field: str) -> str:
        return str(frames.required(row, field, endpoint=endpoint, account_id=account_id))

    with frames.from_endpoint(endpoint, account_id):
        campaign_id = required("campaign_id") if level != "account" else None
        ad_set_id = required("adset_id") if level == "ad_set" else None
        return {
            "level": level,
            "account_id": account_id,
            "campaign_id": campaign_id,
            "ad_set_id": ad_set_id,
            "currency": str(row.get("account_currency") or ""),
            "reach": frames.parse_count(row.get("reach"), "reach"),
            "impressions": frames.parse_count(row.get("impressions"), "impressions"),
            "spend": frames.parse_money(row.get("spend"), "spend"),
        }


def pull_reach(
    client: GraphClient,
    lake: Lake,
    account_id: str,
    *,
    local_today: dt.date,
    start_date: dt.date,
    lookback_days: int,
) -> PartitionOutcome:
    path = lake.partition_path(DATASET, account_id)
    previous = lake.read(path)
    stored = set()
    if previous is not None and "ad_set_id" not in previous.columns:
        # Written before the ad-set level: every month in reach is pulled again.
        previous = previous.assign(ad_set_id=pd.Series(None, index=previous.index, dtype=object))
    elif previous is not None and len(previous):
        stored = {
            d
            for d, kind, complete in zip(
                previous["period_start"], previous["period"], previous["is_complete"], strict=True
            )
            if complete and kind == "month"
        }
    fetched_at = dt.datetime.now(dt.UTC)
    records: list[Mapping[str, Any]] = []
    months = months_to_pull(stored, local_today, start_date, lookback_days)
    for month in months:
        end_of_month = next_month(month) - dt.timedelta(days=1)
        until = min(end_of_month, local_today)
        for level, api_level in LEVELS.items():
            rows = client.iter_insights(
                account_id,
                month,
                until,
                level=api_level,
                fields=list(REACH.api_fields),
                time_increment="all_days",
            )
            for row in rows:
                records.append(
                    {
                        **reach_values(row, level, account_id),
                        "period": "month",
                        "period_start": month,
                        "period_end": end_of_month,
                        "is_complete": end_of_month < local_today,
                        "fetched_at": fetched_at,
                    }
                )
    windows = rolling_windows(local_today)
    for kind, since, until in windows:
        for level in ROLLING_LEVELS:
            rows = client.iter_insights(
                account_id,
                since,
                until,
                level=LEVELS[level],
                fields=list(REACH.api_fields),
                time_increment="all_days",
            )
            for row in rows:
                records.append(
                    {
                        **reach_values(row, level, account_id),
                        "period": kind,
                        "period_start": since,
                        "period_end": until,
                        "is_complete": True,  # the window ends yesterday: every day is over
                        "fetched_at": fetched_at,
                    }
                )
    new = pd.DataFrame(records, columns=REACH.arrow.names)
    if previous is not None and len(previous):
        # Months not pulled again stay; windows are always replaced by today's.
        kept = previous[(previous["period"] == "month") & ~previous["period_start"].isin(months)]
        combined = pd.concat([kept, new], ignore_index=True) if len(new) else kept
    else:
        combined = new
    for column in ("reach", "impressions"):
        combined[column] = combined[column].astype("Int64")
    try:
        REACH.validate(combined)
        schemas.check_partition_keys(combined, DATASET, account_id=account_id)
    except schemas.ValidationFailed as exc:
        # Nothing is written: the last good file of the account stays.
        return PartitionOutcome(
            DATASET,
            account_id,
            None,
            "blocked",
            message=f"{account_id}: {exc}",
            error_kind="validation",
            checks=[CheckOutcome(SCHEMA_CHECK, False, str(exc))],
        )
    lake.write(path, REACH.to_arrow(combined))
    return PartitionOutcome(
        DATASET,
        account_id,
        None,
        "success",
        rows=len(combined),
        message=f"{len(months)} month(s) pulled: {', '.join(str(m) for m in months) or 'none'}; "
        f"windows {', '.join(f'{k} {s}–{u}' for k, s, u in windows)}",
        checks=[CheckOutcome(SCHEMA_CHECK, True, f"{len(combined)} rows match the schema")],
        path=str(path),
    )
