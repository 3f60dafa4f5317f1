"""Pull ad-level daily insights for one account over many days, partition by partition.

One request per contiguous date range (``time_increment=1``), not one per day: a
90-day backfill of an account is a handful of paged requests.  Ranges are cut into
chunks so memory stays bounded by a chunk, never an account's whole history.  Each
day is then validated and written on its own, so one blocked day does not cost the
others.

A day that has not started in the account's time zone is never fetched, written or
counted: the date grid runs to UTC tomorrow (accounts east of UTC need it) and a range
run can reach past it, so whatever asks for such a day gets a ``skipped`` outcome with
a note instead (see :func:`split_started`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa

from ads_platform import frames, schemas
from ads_platform.datasets import ACCOUNT_INSIGHTS, AD_INSIGHTS, Dataset
from ads_platform.days import days_between
from ads_platform.gc_pause import paused_gc
from ads_platform.ingestion import zero_guard
from ads_platform.ingestion.outcomes import (
    SCHEMA_CHECK,
    CheckOutcome,
    PartitionOutcome,
    guarded_store,
    schema_blocked,
)
from ads_platform.lake import Lake, ParallelWrites
from ads_platform.meta.client import GraphClient

DATASET = AD_INSIGHTS.name
ACCOUNT_DATASET = ACCOUNT_INSIGHTS.name
RECONCILE_CHECK = "reconciles_with_account_totals"


@dataclass(frozen=True)
class AccountInfo:
    account_id: str
    name: str | None
    currency: str
    timezone_name: str
    account_status: int | None

    @classmethod
    def from_node(cls, account_id: str, node: Mapping[str, Any]) -> AccountInfo:
        status = node.get("account_status")
        return cls(
            account_id=account_id,
            name=node.get("name"),
            currency=str(node.get("currency") or ""),
            timezone_name=str(node.get("timezone_name") or "UTC"),
            account_status=int(str(status)) if status not in (None, "") else None,
        )

    def local_today(self, now: dt.datetime | None = None) -> dt.date:
        return local_today(self.timezone_name, now)


#: The earliest time zone on Earth (Line Islands): no day has started anywhere before here.
EARLIEST_ZONE = dt.timezone(dt.timedelta(hours=14))


def local_today(timezone_name: str | None, now: dt.datetime | None = None) -> dt.date:
    """The account's local date; for an unknown zone, the latest date anywhere on Earth."""
    now = now or dt.datetime.now(dt.UTC)
    zone: dt.tzinfo = ZoneInfo(timezone_name) if timezone_name else EARLIEST_ZONE
    return now.astimezone(zone).date()


def split_started(
    days: Iterable[dt.date], timezone_name: str | None, now: dt.datetime | None = None
) -> tuple[list[dt.date], list[dt.date]]:
    """``(started, not_started)``: days up to the account's local today, and those after.

    With the zone unknown (an account never described), only days that have not
    started anywhere are refused, so no real day is ever lost to the rule.
    """
    today = local_today(timezone_name, now)
    wanted = sorted(set(days))
    return [d for d in wanted if d <= today], [d for d in wanted if d > today]


def not_started(
    account_id: str, day: dt.date, timezone_name: str | None, now: dt.datetime | None = None
) -> PartitionOutcome:
    """The ``skipped`` outcome of a day after the account's local today: nothing happened."""
    zone = timezone_name or "any time zone (the account's is not known yet)"
    note = (
        f"{account_id} {day}: skipped, the day has not started in {zone} (local today "
        f"{local_today(timezone_name, now)}); nothing was fetched or stored"
    )
    return PartitionOutcome(DATASET, account_id, day, "skipped", message=note)


@dataclass(frozen=True)
class TodayEvidence:
    """The account's local today, what is already stored for it, how far into it we are.

    A partial day only grows, so what is stored for today is the zero guard's evidence
    against a later, lower answer; how far into the local day decides whether "no rows
    yet" is still a real zero.
    """

    day: dt.date
    stored: zero_guard.DayTotals | None
    elapsed: dt.timedelta

    @classmethod
    def at(cls, lake: Lake, account: AccountInfo, now: dt.datetime) -> TodayEvidence:
        local_now = now.astimezone(ZoneInfo(account.timezone_name))
        day = local_now.date()
        midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
        stored = zero_guard.stored_daily_spend(lake, account.account_id, [day]).get(day)
        return cls(day, stored, local_now - midnight)


@dataclass
class PullResult:
    outcomes: list[PartitionOutcome] = field(default_factory=list)
    seconds: float = 0.0
    ranges: list[tuple[dt.date, dt.date]] = field(default_factory=list)


def contiguous_ranges(days: Iterable[dt.date], max_days: int) -> list[tuple[dt.date, dt.date]]:
    """Sorted days → ``[(since, until)]`` runs of consecutive days, each ≤ ``max_days``."""
    ordered = sorted(set(days))
    ranges: list[tuple[dt.date, dt.date]] = []
    for day in ordered:
        if ranges:
            since, until = ranges[-1]
            if day == until + dt.timedelta(days=1) and (day - since).days < max_days:
                ranges[-1] = (since, day)
                continue
        ranges.append((day, day))
    return ranges


def bucket_by_day(
    rows: Iterable[Mapping[str, Any]], account_id: str
) -> dict[str, list[Mapping[str, Any]]]:
    """Rows by ``date_start``; a row without one names the endpoint and the field.

    Used by every pull that asks for daily rows (unbroken and broken down).
    """
    by_day: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        day = row.get("date_start") if type(row) is dict else None  # JSON's rows: no ABC check
        if day is None or day == "":
            day = frames.required(
                row, "date_start", endpoint=frames.INSIGHTS_ENDPOINT, account_id=account_id
            )
        by_day[str(day)].append(row)
    return by_day


def range_by_day(
    client: GraphClient,
    account_id: str,
    since: dt.date,
    until: dt.date,
    dataset_name: str,
    **query: Any,
) -> dict[str, list[Mapping[str, Any]]]:
    """One range's insight rows by day (``query``: :meth:`GraphClient.iter_insights`'s).

    A row dated outside the range asked for means the API broke its contract: the range
    fails (``ValidationFailed`` naming ``dataset_name`` and the day).  Every pull of
    daily rows reads its ranges through here (the unbroken levels and the breakdowns).
    """
    by_day = bucket_by_day(client.iter_insights(account_id, since, until, **query), account_id)
    stray = sorted(set(by_day) - {d.isoformat() for d in days_between(since, until)})
    if stray:
        raise schemas.ValidationFailed(
            dataset_name, f"the API returned rows for {stray[0]}, outside {since}..{until}"
        )
    return by_day


def reconcile(
    ad_level: zero_guard.DayTotals, account_level: zero_guard.DayTotals, tolerance: float
) -> CheckOutcome:
    """Sum of ad-level spend/impressions vs Meta's account-level totals for the day."""
    meta: dict[str, object] = {
        "ad_level_spend": round(ad_level.spend, 2),
        "account_level_spend": round(account_level.spend, 2),
        "ad_level_impressions": ad_level.impressions,
        "account_level_impressions": account_level.impressions,
    }
    if zero_guard.totals_differ(ad_level, account_level, tolerance):
        return CheckOutcome(
            RECONCILE_CHECK,
            False,
            f"ad-level totals (spend {ad_level.spend:.2f}, impressions {ad_level.impressions}) "
            f"differ from the account totals (spend {account_level.spend:.2f}, impressions "
            f"{account_level.impressions}) by more than {tolerance:.1%}",
            meta,
            severity="WARN",
        )
    return CheckOutcome(RECONCILE_CHECK, True, "ad-level totals match the account", meta, "WARN")


def pull_account_insights(
    client: GraphClient,
    lake: Lake,
    account: AccountInfo,
    days: Sequence[dt.date],
    *,
    run_id: str,
    attribution_windows: Sequence[str],
    chunk_days: int = 31,
    reconciliation_tolerance: float = 0.005,
    zero_guard_history_days: int = 7,
    now: dt.datetime | None = None,
    dataset: Dataset = AD_INSIGHTS,
) -> PullResult:
    """Fetch, validate and write every requested day of one account.

    Raises only for account-level failures (token, permission, throttling past the
    budget): those fail every day of the account and the caller records them.
    Day-level problems (schema, zero guard) become ``blocked`` outcomes.  ``dataset`` is
    ``ad_insights_daily`` as the settings declare it (with their passthrough fields:
    requested in the same calls, stored as columns of the same files).
    """
    started = time.monotonic()
    now = now or dt.datetime.now(dt.UTC)
    today = TodayEvidence.at(lake, account, now)
    result = PullResult()
    entity_state = zero_guard.EntityState(lake, account.account_id)
    fetchable, future = split_started(days, account.timezone_name, now)
    history_start = (min(fetchable) if fetchable else today.day) - dt.timedelta(
        days=zero_guard_history_days
    )
    recent = zero_guard.stored_daily_spend(
        lake,
        account.account_id,
        [history_start + dt.timedelta(days=i) for i in range(zero_guard_history_days)],
    )
    # One pool of writers for the whole pull, not one per range: the files of a range
    # are written while the next range is fetched, so under the API's latency the HTTP
    # waits and the writes overlap.  At 0 ms it gains nothing measurable: the writers'
    # encoding needs the GIL between native steps and the parsing holds it (scale.md).
    with lake.parallel_writes() as writes:
        for since, until in contiguous_ranges(fetchable, chunk_days):
            result.ranges.append((since, until))
            validated = _read_range(
                client,
                account,
                since,
                until,
                attribution_windows=attribution_windows,
                run_id=run_id,
                dataset=dataset,
            )
            for day in days_between(since, until):
                outcome, totals = store_day(
                    lake,
                    account,
                    day,
                    validated[day],
                    today=today,
                    entity_state=entity_state,
                    recent=recent,
                    tolerance=reconciliation_tolerance,
                    writes=writes,
                )
                result.outcomes.append(outcome)
                if outcome.ok and totals is not None:
                    recent[day] = totals
    result.outcomes.extend(
        not_started(account.account_id, day, account.timezone_name, now) for day in future
    )
    result.seconds = time.monotonic() - started
    return result


def _read_range(
    client: GraphClient,
    account: AccountInfo,
    since: dt.date,
    until: dt.date,
    *,
    attribution_windows: Sequence[str],
    run_id: str,
    dataset: Dataset,
) -> dict[dt.date, DayFrames]:
    """One range of both levels, fetched and validated: each day ready to be judged."""
    with paused_gc():  # the range's rows are many small acyclic objects: gc_pause
        ad_rows = range_by_day(
            client,
            account.account_id,
            since,
            until,
            DATASET,
            level="ad",
            fields=dataset.api_fields,
            action_attribution_windows=list(attribution_windows),
        )
        account_rows = range_by_day(
            client,
            account.account_id,
            since,
            until,
            DATASET,
            level="account",
            fields=ACCOUNT_INSIGHTS.api_fields,
            action_attribution_windows=None,
        )
        return _validate_range(
            account,
            since,
            until,
            ad_rows,
            account_rows,
            fetched_at=dt.datetime.now(dt.UTC),
            run_id=run_id,
            dataset=dataset,
        )


@dataclass(frozen=True)
class ValidDay:
    """One day's validated rows: the Arrow tables its two files are written from.

    Tables, not frames: what the checks of a day need (its totals, a preview) is read
    from the tables, so a day of a validated range is two slices, never a pandas copy.
    """

    ad_table: pa.Table
    account_table: pa.Table

    @classmethod
    def of(
        cls, ad_frame: pd.DataFrame, account_frame: pd.DataFrame, dataset: Dataset = AD_INSIGHTS
    ) -> ValidDay:
        return cls(dataset.to_arrow(ad_frame), ACCOUNT_INSIGHTS.to_arrow(account_frame))


DayFrames = ValidDay | schemas.ValidationFailed


def build_frames(
    account: AccountInfo,
    ad_rows: Sequence[Mapping[str, Any]],
    account_rows: Sequence[Mapping[str, Any]],
    *,
    fetched_at: dt.datetime,
    run_id: str,
    dataset: Dataset = AD_INSIGHTS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of both levels → their typed frames; a row that cannot be parsed fails them."""
    aid = account.account_id
    try:
        ad_frame = frames.insights_frame(
            ad_rows,
            account_id=aid,
            currency=account.currency,
            fetched_at=fetched_at,
            run_id=run_id,
            dataset=dataset,
        )
        account_frame = frames.account_insights_frame(
            account_rows,
            account_id=aid,
            currency=account.currency,
            fetched_at=fetched_at,
            run_id=run_id,
        )
    except frames.RowError as exc:
        raise schemas.ValidationFailed(DATASET, str(exc)) from None
    return ad_frame, account_frame


def check_frames(
    account: AccountInfo,
    ad_frame: pd.DataFrame,
    account_frame: pd.DataFrame,
    dataset: Dataset = AD_INSIGHTS,
) -> None:
    """Both frames through their models and the partition-key rule (raises ``ValidationFailed``)."""
    aid = account.account_id
    dataset.validate(ad_frame)
    schemas.check_partition_keys(ad_frame, DATASET, account_id=aid)
    ACCOUNT_INSIGHTS.validate(account_frame)
    schemas.check_partition_keys(account_frame, ACCOUNT_DATASET, account_id=aid)


def _frames_for(
    account: AccountInfo,
    ad_rows: Sequence[Mapping[str, Any]],
    account_rows: Sequence[Mapping[str, Any]],
    *,
    fetched_at: dt.datetime,
    run_id: str,
    dataset: Dataset,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    ad_frame, account_frame = build_frames(
        account, ad_rows, account_rows, fetched_at=fetched_at, run_id=run_id, dataset=dataset
    )
    check_frames(account, ad_frame, account_frame, dataset)
    return ad_frame, account_frame


def _validate_range(
    account: AccountInfo,
    since: dt.date,
    until: dt.date,
    ad_rows: Mapping[str, list[Mapping[str, Any]]],
    account_rows: Mapping[str, list[Mapping[str, Any]]],
    *,
    fetched_at: dt.datetime,
    run_id: str,
    dataset: Dataset,
) -> dict[dt.date, DayFrames]:
    """Validate a whole range at once; only when it fails, day by day to find the culprits.

    Pandera's cost is mostly per call, not per row: one call per range instead of two
    per day made a 90-day pull several times faster.  Days stay independent: a broken
    day is blocked on its own and the others are stored.
    """
    days = days_between(since, until)
    try:
        ad_all, account_all = _frames_for(
            account,
            [r for rows in ad_rows.values() for r in rows],
            [r for rows in account_rows.values() for r in rows],
            fetched_at=fetched_at,
            run_id=run_id,
            dataset=dataset,
        )
    except schemas.ValidationFailed:
        out: dict[dt.date, DayFrames] = {}
        for day in days:
            key = day.isoformat()
            try:
                out[day] = ValidDay.of(
                    *_frames_for(
                        account,
                        ad_rows.get(key, []),
                        account_rows.get(key, []),
                        fetched_at=fetched_at,
                        run_id=run_id,
                        dataset=dataset,
                    ),
                    dataset,
                )
            except schemas.ValidationFailed as exc:
                out[day] = exc
        return out
    return split_days(days, ad_all, account_all, dataset)


def split_days(
    days: Sequence[dt.date],
    ad_all: pd.DataFrame,
    account_all: pd.DataFrame,
    dataset: Dataset = AD_INSIGHTS,
) -> dict[dt.date, DayFrames]:
    """A range's validated frames → one :class:`ValidDay` per day (empty for a day without rows)."""
    ad_days = day_tables(days, ad_all, dataset)
    account_days = day_tables(days, account_all, ACCOUNT_INSIGHTS)
    return {day: ValidDay(ad_days[day], account_days[day]) for day in days}


def day_tables(
    days: Sequence[dt.date], frame: pd.DataFrame, dataset: Dataset
) -> dict[dt.date, pa.Table]:
    """A validated range's frame → each day's Arrow table (empty for a day without rows).

    The range goes to Arrow once and each day takes its rows from it: converting day by
    day cost more in per-call overhead than the conversion itself.  Used by every pull
    that validates a range of days at once (unbroken and broken down).
    """
    frame = frame.reset_index(drop=True)
    positions = frame.groupby("date_day", sort=False).indices if len(frame) else {}
    table = dataset.to_arrow(frame)

    def day_of(day: dt.date) -> pa.Table:
        rows = positions.get(day)
        if rows is None:
            return table.slice(0, 0)
        first, count = int(rows[0]), len(rows)
        if int(rows[-1]) - first + 1 == count:  # the day's rows are together (Meta sorts by day)
            return table.slice(first, count)
        return table.take(rows)

    return {day: day_of(day) for day in days}


def store_day(
    lake: Lake,
    account: AccountInfo,
    day: dt.date,
    validated: DayFrames,
    *,
    today: TodayEvidence,
    entity_state: zero_guard.EntityState,
    recent: Mapping[dt.date, zero_guard.DayTotals],
    tolerance: float,
    writes: ParallelWrites | None = None,
) -> tuple[PartitionOutcome, zero_guard.DayTotals | None]:
    """Judge one validated day (zero guard, reconciliation) and write it when it passes.

    With ``writes``, the files are handed to it and are on disk once its block ends.
    """
    aid = account.account_id
    writer: Lake | ParallelWrites = writes if writes is not None else lake
    if isinstance(validated, schemas.ValidationFailed):
        return schema_blocked(DATASET, aid, day, validated), None
    ad_table = validated.ad_table
    checks = [CheckOutcome(SCHEMA_CHECK, True, f"{len(ad_table)} rows match the schema")]
    totals = zero_guard.totals_of(ad_table)
    guard = zero_guard.evaluate(
        day,
        totals,
        local_today=today.day,
        active_ads=entity_state.active_ads_on(day, account.timezone_name)
        if entity_state.known
        else None,
        recent=recent,
        stored_today=today.stored,
        day_elapsed=today.elapsed,
    )
    checks.append(guard)
    checks.append(reconcile(totals, zero_guard.totals_of(validated.account_table), tolerance))

    def write() -> Path:
        path = lake.partition_path(DATASET, aid, day)
        writer.write(lake.partition_path(ACCOUNT_DATASET, aid, day), validated.account_table)
        writer.write(path, validated.ad_table)
        return path

    outcome = guarded_store(
        DATASET,
        aid,
        day,
        ad_table,
        totals,
        checks,
        guard,
        write,
        message="today (partial)" if day == today.day else "",
    )
    return outcome, totals if outcome.ok else None
