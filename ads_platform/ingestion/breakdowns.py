"""Pull one breakdown (placement, age × gender, country, region) of an account's ad-level days.

The same shape as the unbroken pull (:mod:`ads_platform.ingestion.insights`): one
request per contiguous date range (``level=ad``, ``time_increment=1``, the client's
paging, async and retry path), the range validated at once by the dataset's model and
only on failure day by day, then each account-day written atomically on its own.

Why the guard and the reconciliation read the *stored* unbroken day: the breakdown
asset runs after ``ad_insights_daily`` in the same range run, so the lake already holds
what Meta said the day totals were.  A breakdown day of zeros while that day delivered
is the "errors as zeros" failure and is blocked; a breakdown whose spend differs from
the unbroken day is only a warning, because Meta's breakdowns do not always add up.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd
import pyarrow as pa

from ads_platform import frames, schemas
from ads_platform.datasets import Breakdown
from ads_platform.days import days_between
from ads_platform.gc_pause import paused_gc
from ads_platform.ingestion import zero_guard
from ads_platform.ingestion.insights import (
    AccountInfo,
    PullResult,
    contiguous_ranges,
    day_tables,
    not_started,
    range_by_day,
    split_started,
)
from ads_platform.ingestion.outcomes import (
    SCHEMA_CHECK,
    CheckOutcome,
    PartitionOutcome,
    guarded_store,
    schema_blocked,
)
from ads_platform.lake import Lake, ParallelWrites
from ads_platform.meta.client import GraphClient

RECONCILE_CHECK = "reconciles_with_unbroken_totals"
ZERO_GUARD_CHECK = zero_guard.CHECK_NAME

#: A day of a breakdown: its validated rows as the Arrow table to write, or why not.
DayTable: TypeAlias = pa.Table | schemas.ValidationFailed


def pull_account_breakdown(
    client: GraphClient,
    lake: Lake,
    account: AccountInfo,
    days: Sequence[dt.date],
    breakdown: Breakdown,
    *,
    run_id: str,
    attribution_windows: Sequence[str],
    chunk_days: int = 31,
    reconciliation_tolerance: float = 0.005,
    now: dt.datetime | None = None,
) -> PullResult:
    """Fetch, validate and write every requested day of one account for one breakdown.

    Raises only for account-level failures (token, permission, throttling past the
    budget), as the unbroken pull does; day-level problems become ``blocked`` outcomes.
    """
    started = time.monotonic()
    now = now or dt.datetime.now(dt.UTC)
    result = PullResult()
    dataset = breakdown.dataset
    fetchable, future = split_started(days, account.timezone_name, now)
    with lake.parallel_writes() as writes:  # one pool for the pull: see pull_account_insights
        for since, until in contiguous_ranges(fetchable, chunk_days):
            result.ranges.append((since, until))
            days_of_range = days_between(since, until)
            with paused_gc():  # as the unbroken pull: the range's rows are many small objects
                by_day = range_by_day(
                    client,
                    account.account_id,
                    since,
                    until,
                    dataset.name,
                    level="ad",
                    fields=dataset.api_fields,
                    action_attribution_windows=list(attribution_windows),
                    breakdowns=list(breakdown.dims),
                )
                validated = _validate_range(
                    breakdown,
                    account,
                    days_of_range,
                    by_day,
                    fetched_at=dt.datetime.now(dt.UTC),
                    run_id=run_id,
                )
            unbroken = zero_guard.stored_daily_spend(lake, account.account_id, days_of_range)
            for day in days_of_range:
                result.outcomes.append(
                    _store_day(
                        lake,
                        breakdown,
                        account.account_id,
                        day,
                        validated[day],
                        unbroken.get(day),
                        reconciliation_tolerance,
                        writes,
                    )
                )
    result.outcomes.extend(
        dataclasses.replace(
            not_started(account.account_id, day, account.timezone_name, now),
            dataset=dataset.name,
        )
        for day in future
    )
    result.seconds = time.monotonic() - started
    return result


def breakdown_frame(
    breakdown: Breakdown,
    rows: Sequence[Mapping[str, Any]],
    *,
    account_id: str,
    currency: str,
    fetched_at: dt.datetime,
    run_id: str,
) -> pd.DataFrame:
    """Breakdown rows → the dataset's frame: the unbroken parse plus the value columns.

    A row without one of its breakdown keys cannot be placed in the grain: it is a
    :class:`frames.RowError` naming the field, as a missing id is.
    """
    frame = frames.insights_frame(
        rows, account_id=account_id, currency=currency, fetched_at=fetched_at, run_id=run_id
    )
    for dim in breakdown.dims:
        frame[dim] = pd.Series(
            [
                str(
                    frames.required(
                        row, dim, endpoint=frames.INSIGHTS_ENDPOINT, account_id=account_id
                    )
                )
                for row in rows
            ],
            dtype="object",
            index=frame.index,
        )
    return frame


def _frame_for(
    breakdown: Breakdown,
    account: AccountInfo,
    rows: Sequence[Mapping[str, Any]],
    *,
    fetched_at: dt.datetime,
    run_id: str,
) -> pd.DataFrame:
    name = breakdown.dataset.name
    try:
        frame = breakdown_frame(
            breakdown,
            rows,
            account_id=account.account_id,
            currency=account.currency,
            fetched_at=fetched_at,
            run_id=run_id,
        )
    except frames.RowError as exc:
        raise schemas.ValidationFailed(name, str(exc)) from None
    breakdown.dataset.validate(frame)
    schemas.check_partition_keys(frame, name, account_id=account.account_id)
    return frame


def _validate_range(
    breakdown: Breakdown,
    account: AccountInfo,
    span: Sequence[dt.date],
    by_day: Mapping[str, list[Mapping[str, Any]]],
    *,
    fetched_at: dt.datetime,
    run_id: str,
) -> dict[dt.date, DayTable]:
    """One validation per range; only when it fails, day by day to find the culprits."""
    try:
        whole = _frame_for(
            breakdown,
            account,
            [r for rows in by_day.values() for r in rows],
            fetched_at=fetched_at,
            run_id=run_id,
        )
    except schemas.ValidationFailed:
        out: dict[dt.date, DayTable] = {}
        for day in span:
            try:
                frame = _frame_for(
                    breakdown,
                    account,
                    by_day.get(day.isoformat(), []),
                    fetched_at=fetched_at,
                    run_id=run_id,
                )
            except schemas.ValidationFailed as exc:
                out[day] = exc
            else:
                out[day] = breakdown.dataset.to_arrow(frame)
        return out
    return dict(day_tables(span, whole, breakdown.dataset))


def guard(totals: zero_guard.DayTotals, unbroken: zero_guard.DayTotals | None) -> CheckOutcome:
    """A breakdown day of zeros is believed only when the unbroken day is stored as zero too.

    The unbroken day is the evidence: delivery there and nothing here is the API
    failing, not the audience vanishing.  With no unbroken day stored, nothing vouches
    for a zero, so it is blocked as well (a later run, after the unbroken day is
    stored, stores it).
    """
    meta: dict[str, object] = {
        "breakdown_spend": round(totals.spend, 2),
        "breakdown_impressions": totals.impressions,
        "breakdown_rows": totals.rows,
    }
    if unbroken is not None:
        meta |= {
            "unbroken_spend": round(unbroken.spend, 2),
            "unbroken_impressions": unbroken.impressions,
        }
    if not totals.all_zero:
        return CheckOutcome(ZERO_GUARD_CHECK, True, "the breakdown has delivery", meta)
    if unbroken is None:
        return CheckOutcome(
            ZERO_GUARD_CHECK,
            False,
            "all zeros and no unbroken day stored to confirm them; not stored",
            meta,
        )
    if not unbroken.all_zero:
        return CheckOutcome(
            ZERO_GUARD_CHECK,
            False,
            f"all zeros while the unbroken day delivered (spend {unbroken.spend:.2f}, "
            f"impressions {unbroken.impressions}); not stored",
            meta,
        )
    return CheckOutcome(ZERO_GUARD_CHECK, True, "zeros, as the unbroken day", meta)


def reconcile(
    totals: zero_guard.DayTotals, unbroken: zero_guard.DayTotals | None, tolerance: float
) -> CheckOutcome:
    """Sum over the breakdown's values vs the stored unbroken day (a warning, both figures)."""
    meta: dict[str, object] = {
        "breakdown_spend": round(totals.spend, 2),
        "breakdown_impressions": totals.impressions,
    }
    if unbroken is None:
        return CheckOutcome(
            RECONCILE_CHECK,
            False,
            f"no unbroken day stored to compare with (breakdown spend {totals.spend:.2f}, "
            f"impressions {totals.impressions})",
            meta,
            severity="WARN",
        )
    meta |= {
        "unbroken_spend": round(unbroken.spend, 2),
        "unbroken_impressions": unbroken.impressions,
    }
    if zero_guard.totals_differ(totals, unbroken, tolerance):
        return CheckOutcome(
            RECONCILE_CHECK,
            False,
            f"breakdown totals (spend {totals.spend:.2f}, impressions {totals.impressions}) "
            f"differ from the unbroken day (spend {unbroken.spend:.2f}, impressions "
            f"{unbroken.impressions}) by more than {tolerance:.1%}",
            meta,
            severity="WARN",
        )
    return CheckOutcome(
        RECONCILE_CHECK, True, "breakdown totals match the unbroken day", meta, "WARN"
    )


def _store_day(
    lake: Lake,
    breakdown: Breakdown,
    account_id: str,
    day: dt.date,
    validated: DayTable,
    unbroken: zero_guard.DayTotals | None,
    tolerance: float,
    writes: ParallelWrites,
) -> PartitionOutcome:
    """Judge one validated day against the unbroken day; ``writes`` writes it if it passes."""
    name = breakdown.dataset.name
    if isinstance(validated, schemas.ValidationFailed):
        return schema_blocked(name, account_id, day, validated)
    totals = zero_guard.totals_of(validated)
    zero = guard(totals, unbroken)
    checks = [
        CheckOutcome(SCHEMA_CHECK, True, f"{len(validated)} rows match the schema"),
        zero,
        reconcile(totals, unbroken, tolerance),
    ]

    def write() -> Path:
        path = lake.partition_path(name, account_id, day)
        writes.write(path, validated)
        return path

    return guarded_store(name, account_id, day, validated, totals, checks, zero, write)
