"""Which partitions are due at a given instant: pure functions, no Dagster state.

Every ad account reports in its own time zone (Meta's ``timezone_name``): a "day" of
``act_1`` in Asia/Tokyo starts 17 hours before the same date in America/Los_Angeles.
The schedules therefore never ask "what is yesterday?" once for everybody; they ask it
per account, at the instant of the tick, and these functions answer.  Keeping them pure
(an instant and a map of time zones in, partition keys out) is what makes the day
boundaries testable without a clock or an instance.

Partition key ranges over the ``account × date`` grid are *rectangles*: Dagster expands
``act_1|D1 .. act_3|D2`` to every account between ``act_1`` and ``act_3`` *in the
dynamic partition order* times every day between D1 and D2.  A run may only cover
accounts that are adjacent in that order and share the same days, or it would
silently include other accounts; :func:`contiguous_groups` builds exactly such runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = ZoneInfo("UTC")

#: Local hour at which an account's closed days are pulled (see :func:`daily_windows`).
DAILY_LOCAL_HOUR = 3

T = TypeVar("T", bound=Hashable)


def zone(name: str | None) -> ZoneInfo:
    """A time zone by IANA name; UTC when unknown (never fails a tick over a bad name)."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def local_today(now: dt.datetime, tz: dt.tzinfo) -> dt.date:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(tz).date()


@dataclass(frozen=True)
class DayRange:
    """An inclusive range of days of one account."""

    account_id: str
    start: dt.date
    end: dt.date

    @property
    def start_key(self) -> str:
        return f"{self.account_id}|{self.start.isoformat()}"

    @property
    def end_key(self) -> str:
        return f"{self.account_id}|{self.end.isoformat()}"

    @property
    def n_days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class GridRange:
    """A rectangle of the ``account × date`` grid: adjacent accounts, the same days."""

    first_account: str
    last_account: str
    start: dt.date
    end: dt.date
    accounts: tuple[str, ...]

    @property
    def start_key(self) -> str:
        return f"{self.first_account}|{self.start.isoformat()}"

    @property
    def end_key(self) -> str:
        return f"{self.last_account}|{self.end.isoformat()}"


def clip(
    start: dt.date, end: dt.date, first_day: dt.date, last_day: dt.date | None
) -> tuple[dt.date, dt.date] | None:
    """``[start, end]`` limited to the days that exist as partitions (None if empty)."""
    start = max(start, first_day)
    if last_day is not None:
        end = min(end, last_day)
    return (start, end) if start <= end else None


def closed_window(today: dt.date, lookback_days: int) -> tuple[dt.date, dt.date]:
    """The closed days re-pulled on a day: the last ``max(lookback_days, 1)`` of them.

    Yesterday is always included (it has just closed); Meta restates conversions for
    up to 28 days, so with the default setting the window is ``today-28 .. today-1``.
    """
    return today - dt.timedelta(days=max(lookback_days, 1)), today - dt.timedelta(days=1)


def backfill_window(today: dt.date, backfill_days: int) -> tuple[dt.date, dt.date]:
    """A new account's starting window: ``backfill_days`` closed days up to yesterday."""
    return today - dt.timedelta(days=max(backfill_days, 1)), today - dt.timedelta(days=1)


def daily_windows(
    now: dt.datetime,
    timezones: Mapping[str, dt.tzinfo],
    *,
    lookback_days: int,
    first_day: dt.date,
    last_day: dt.date | None,
    local_hour: int = DAILY_LOCAL_HOUR,
) -> list[DayRange]:
    """Accounts whose local clock reads ``local_hour`` at ``now``, with their window.

    The daily schedule ticks every hour; an account is due at the one tick that falls
    in the hour ``local_hour:00–local_hour:59`` of its own time zone, so every account
    gets its closed days at its local early morning, whatever its offset (half-hour
    zones included).  Hour 3 exists exactly once a day in practically every zone:
    daylight-saving changes happen at or before 03:00 local.
    """
    due = []
    for account_id, tz in timezones.items():
        local = now.astimezone(tz)
        if local.hour != local_hour:
            continue
        start, end = closed_window(local.date(), lookback_days)
        window = clip(start, end, first_day, last_day)
        if window:
            due.append(DayRange(account_id, *window))
    return due


def todays(now: dt.datetime, timezones: Mapping[str, dt.tzinfo]) -> dict[str, dt.date]:
    """Each account's local *today* at ``now``."""
    return {account_id: local_today(now, tz) for account_id, tz in timezones.items()}


def contiguous_groups(
    order: Sequence[str], values: Mapping[str, T]
) -> list[tuple[tuple[str, ...], T]]:
    """Split ``order`` into runs of adjacent accounts that all have the same value.

    Accounts missing from ``values`` break a run (a rectangle must not cover them).
    """
    groups: list[tuple[list[str], T]] = []
    previous_included = False
    for account_id in order:
        if account_id not in values:
            previous_included = False
            continue
        value = values[account_id]
        if previous_included and groups and groups[-1][1] == value:
            groups[-1][0].append(account_id)
        else:
            groups.append(([account_id], value))
        previous_included = True
    return [(tuple(accounts), value) for accounts, value in groups]


def today_ranges(
    now: dt.datetime,
    order: Sequence[str],
    timezones: Mapping[str, dt.tzinfo],
    *,
    first_day: dt.date,
    last_day: dt.date | None,
) -> list[GridRange]:
    """Rectangles covering each account's local today (fewest runs, nothing extra).

    An account whose local today is not a partition yet (east of UTC, late in the UTC
    day, when the date dimension does not reach that far) is left out rather than
    asked for a partition that does not exist.
    """
    wanted: dict[str, dt.date] = {}
    for account_id, day in todays(now, timezones).items():
        if clip(day, day, first_day, last_day):
            wanted[account_id] = day
    return [
        GridRange(accounts[0], accounts[-1], day, day, accounts)
        for accounts, day in contiguous_groups(order, wanted)
    ]


def account_ranges(order: Sequence[str], selected: Sequence[str]) -> list[tuple[str, ...]]:
    """Adjacent runs of ``selected`` accounts in the dynamic partition ``order``."""
    marks = dict.fromkeys(selected, True)
    return [accounts for accounts, _ in contiguous_groups(order, marks)]


def day_runs(account_id: str, wanted: Sequence[dt.date]) -> list[DayRange]:
    """Consecutive days → one range each (``[1, 2, 3, 7]`` → ``1..3`` and ``7..7``)."""
    out: list[DayRange] = []
    for day in sorted(set(wanted)):
        if out and out[-1].end + dt.timedelta(days=1) == day:
            out[-1] = DayRange(account_id, out[-1].start, day)
        else:
            out.append(DayRange(account_id, day, day))
    return out
