"""The date grid ends at the latest day any pulled account has reached, never later."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from dagster._core.definitions.partitions.context import partition_loading_context

from ads_platform.day_grid import EARLIEST_ZONE, easternmost_zone
from ads_platform.partitions import daily_partitions

START = dt.date(2026, 1, 1)

ZONE_SETS = [
    ["America/New_York"],
    ["America/Los_Angeles", "Asia/Tokyo"],
    ["Europe/Berlin", "America/New_York", "Asia/Tokyo"],
    ["Pacific/Pago_Pago"],  # UTC-11: the old grid showed two days ahead of it
    ["Pacific/Chatham", "Pacific/Kiritimati"],  # +12:45/+13:45 and +14
    ["Australia/Lord_Howe", "Asia/Kathmandu"],  # half-hour DST; +5:45
]


def _instants() -> list[dt.datetime]:
    """Every 20 minutes over days that cross the US and EU clock changes of 2026."""
    out = []
    for first in (dt.datetime(2026, 3, 7, tzinfo=dt.UTC), dt.datetime(2026, 3, 28, tzinfo=dt.UTC)):
        out += [first + dt.timedelta(minutes=20 * i) for i in range(3 * 72)]
    return out


def _last_day(zones: list[str | None], now: dt.datetime) -> dt.date:
    grid = daily_partitions(START, easternmost_zone(zones, now))
    with partition_loading_context(effective_dt=now):
        last = grid.get_last_partition_key()
    assert last is not None
    return dt.date.fromisoformat(last)


@pytest.mark.parametrize("zones", ZONE_SETS, ids=lambda z: "+".join(z))
def test_the_grid_ends_at_the_latest_local_today_of_the_accounts_at_every_instant(
    zones: list[str],
) -> None:
    for now in _instants():
        local_todays = [now.astimezone(ZoneInfo(z)).date() for z in zones]
        # No day that has not started in any account's zone; every account's today there.
        assert _last_day(list(zones), now) == max(local_todays), (zones, now)


def test_one_zone_never_shows_tomorrow_where_the_old_utc_grid_did() -> None:
    # 23:30 in New York on March 4 is 04:30 UTC on March 5: the grid that ended at UTC
    # tomorrow listed March 6, two days that New York had not started.
    now = dt.datetime(2026, 3, 5, 4, 30, tzinfo=dt.UTC)
    assert _last_day(["America/New_York"], now) == dt.date(2026, 3, 4)


@pytest.mark.parametrize(
    "zones",
    [[], [None], ["America/New_York", None], ["Not/AZone"], ["America/New_York", ""]],
    ids=["none", "unknown", "one-unknown", "unreadable", "empty-name"],
)
def test_an_account_whose_zone_is_not_known_yet_keeps_every_today_on_the_grid(
    zones: list[str | None],
) -> None:
    now = dt.datetime(2026, 3, 4, 10, 30, tzinfo=dt.UTC)  # already March 5 at UTC+14
    assert easternmost_zone(zones, now) == EARLIEST_ZONE
    assert _last_day(zones, now) == dt.date(2026, 3, 5)


def test_utc_plus_14_is_where_a_date_starts_first() -> None:
    assert ZoneInfo(EARLIEST_ZONE).utcoffset(dt.datetime(2026, 6, 1)) == dt.timedelta(hours=14)
