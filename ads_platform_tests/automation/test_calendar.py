"""Partition keys due at an instant, at day boundaries, in Asia/Tokyo and Los Angeles."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ads_platform.automation import calendar
from ads_platform.days import days_between

TOKYO = "act_101"
LA = "act_202"
ZONES = {TOKYO: ZoneInfo("Asia/Tokyo"), LA: ZoneInfo("America/Los_Angeles")}
FIRST = dt.date(2025, 1, 1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def windows(now: dt.datetime, lookback: int = 28) -> dict[str, tuple[str, str]]:
    due = calendar.daily_windows(now, ZONES, lookback_days=lookback, first_day=FIRST, last_day=None)
    return {w.account_id: (w.start.isoformat(), w.end.isoformat()) for w in due}


def test_tokyo_is_due_at_its_local_3am_with_its_own_yesterday() -> None:
    # 18:15 UTC on March 4 is 03:15 on March 5 in Tokyo (UTC+9, no DST).
    assert windows(utc(2026, 3, 4, 18, 15)) == {TOKYO: ("2026-02-05", "2026-03-04")}
    # One minute before Tokyo's 03:00 nobody is due.
    assert windows(utc(2026, 3, 4, 17, 59)) == {}


def test_los_angeles_is_due_at_its_local_3am_standard_and_daylight_time() -> None:
    # PST (UTC-8): 11:15 UTC is 03:15 local; yesterday is March 3 there.
    assert windows(utc(2026, 3, 4, 11, 15)) == {LA: ("2026-02-04", "2026-03-03")}
    # After the switch to PDT on March 8 (UTC-7), 03:15 local is 10:15 UTC.
    assert windows(utc(2026, 3, 9, 10, 15)) == {LA: ("2026-02-09", "2026-03-08")}
    assert windows(utc(2026, 3, 9, 11, 15)) == {}


@pytest.mark.parametrize("start", ["2026-03-05", "2026-10-30", "2026-12-30"])
def test_every_local_day_is_pulled_exactly_once_across_dst_and_year_end(start: str) -> None:
    """Hourly ticks over 5 days: each account's window ends on each local day once."""
    first = dt.datetime.fromisoformat(start).replace(tzinfo=dt.UTC, minute=15)
    ends: dict[str, list[str]] = {TOKYO: [], LA: []}
    for hour in range(24 * 5):
        for account, (_, end) in windows(first + dt.timedelta(hours=hour)).items():
            ends[account].append(end)
    for account, seen in ends.items():
        assert len(seen) == len(set(seen)), account
        as_days = sorted(d(x) for x in seen)
        assert as_days == days_between(as_days[0], as_days[-1]), account
        assert len(seen) in (4, 5, 6), account


def test_lookback_zero_still_pulls_yesterday_and_start_date_clips() -> None:
    assert windows(utc(2026, 3, 4, 18, 15), lookback=0) == {TOKYO: ("2026-03-04", "2026-03-04")}
    due = calendar.daily_windows(
        utc(2026, 3, 4, 18, 15),
        ZONES,
        lookback_days=28,
        first_day=d("2026-03-01"),
        last_day=None,
    )
    assert [(w.start, w.end) for w in due] == [(d("2026-03-01"), d("2026-03-04"))]


def test_today_ranges_share_one_run_when_both_accounts_have_the_same_local_date() -> None:
    # 14:00 UTC: Tokyo 23:00 March 4, Los Angeles 06:00 March 4.
    ranges = calendar.today_ranges(
        utc(2026, 3, 4, 14, 0), [TOKYO, LA], ZONES, first_day=FIRST, last_day=d("2026-03-04")
    )
    assert [(r.start_key, r.end_key) for r in ranges] == [
        ("act_101|2026-03-04", "act_202|2026-03-04")
    ]


def test_today_ranges_split_at_tokyo_midnight() -> None:
    # 15:30 UTC: Tokyo is already at 00:30 on March 5, Los Angeles still on March 4.
    now = utc(2026, 3, 4, 15, 30)
    ranges = calendar.today_ranges(now, [TOKYO, LA], ZONES, first_day=FIRST, last_day=None)
    assert [(r.start_key, r.end_key) for r in ranges] == [
        ("act_101|2026-03-05", "act_101|2026-03-05"),
        ("act_202|2026-03-04", "act_202|2026-03-04"),
    ]
    # When the date dimension only reaches the UTC date, Tokyo's today is not asked for.
    clipped = calendar.today_ranges(
        now, [TOKYO, LA], ZONES, first_day=FIRST, last_day=d("2026-03-04")
    )
    assert [(r.start_key, r.end_key) for r in clipped] == [
        ("act_202|2026-03-04", "act_202|2026-03-04")
    ]


def test_today_ranges_at_los_angeles_midnight() -> None:
    before = calendar.todays(utc(2026, 3, 5, 7, 59), ZONES)
    after = calendar.todays(utc(2026, 3, 5, 8, 0), ZONES)
    assert before == {TOKYO: d("2026-03-05"), LA: d("2026-03-04")}
    assert after == {TOKYO: d("2026-03-05"), LA: d("2026-03-05")}


def test_rectangles_never_span_an_account_that_is_not_wanted() -> None:
    ranges = calendar.today_ranges(
        utc(2026, 3, 4, 14, 0),
        [TOKYO, "act_999", LA],
        ZONES,
        first_day=FIRST,
        last_day=None,
    )
    assert [r.accounts for r in ranges] == [(TOKYO,), (LA,)]


def test_contiguous_helpers() -> None:
    assert calendar.account_ranges(["a", "b", "c", "d"], ["a", "b", "d"]) == [("a", "b"), ("d",)]
    runs = calendar.day_runs(
        "act_1", [d("2026-01-03"), d("2026-01-01"), d("2026-01-02"), d("2026-01-07")]
    )
    assert [(r.start_key, r.end_key) for r in runs] == [
        ("act_1|2026-01-01", "act_1|2026-01-03"),
        ("act_1|2026-01-07", "act_1|2026-01-07"),
    ]


def test_unknown_time_zone_falls_back_to_utc() -> None:
    assert calendar.zone("Mars/Olympus_Mons") == calendar.UTC
    assert calendar.zone(None) == calendar.UTC
