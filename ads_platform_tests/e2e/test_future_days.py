"""Days that have not started in an account's time zone are never pulled, stored or counted.

The date grid ends at the easternmost account's today (UTC+14's before the zones are
known), and a range run can even reach past it; but a day after the account's own local
today has no data yet.  Storing it as an empty "success" made data_freshness report a future
``last_good_day`` and a negative ``days_behind``.
"""

from __future__ import annotations

import datetime as dt

import pytest

from ads_platform_tests.conftest import Platform
from ads_platform_tests.e2e.helpers import (
    account_timezone,
    align_sandbox_clock,
    attempts,
    build_freshness_marts,
    ingest,
    lake,
    marts_rows,
    materialized_partitions,
    setup_accounts,
)

pytestmark = pytest.mark.slow


def _span(since: dt.date, until: dt.date) -> list[dt.date]:
    return [since + dt.timedelta(days=i) for i in range((until - since).days + 1)]


def test_a_range_past_the_account_local_today_stores_and_counts_only_started_days(
    platform: Platform,
) -> None:
    setup_accounts(platform, entities=False)
    by_zone = {str(account_timezone(platform, a)): a for a in platform.accounts}
    # West of UTC (its today can still be UTC yesterday) and east of it (UTC tomorrow).
    accounts = [by_zone["America/New_York"], by_zone["Asia/Tokyo"]]
    # Past the end of the partitions (the grid ends at the latest local today, at most
    # the day of UTC+14).
    beyond = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)
    todays: dict[str, dt.date] = {}
    for account_id in accounts:
        today = align_sandbox_clock(platform, account_id)
        todays[account_id] = today
        result = ingest(platform, account_id, today - dt.timedelta(days=1), beyond)
        assert result.success
        future = _span(today + dt.timedelta(days=1), beyond)
        assert future
        done = materialized_partitions(platform)
        assert {f"{account_id}|{today - dt.timedelta(days=1)}", f"{account_id}|{today}"} <= done
        for day in future:
            assert not lake(platform).partition_path("ad_insights_daily", account_id, day).exists()
            assert f"{account_id}|{day}" not in done
        log = attempts(platform, account_id)
        by_day = {row["date_day"]: row for row in log}
        assert by_day[today]["status"] == "success"
        for day in future:
            assert by_day[day]["status"] == "skipped"
            assert "has not started" in str(by_day[day]["message"])
        # Each attempt carries its own time: "the last attempt" is well defined.
        times = [row["attempted_at"] for row in log]
        assert len(set(times)) == len(times)

    build_freshness_marts(platform)
    rows = {
        str(r["account_id"]): r
        for r in marts_rows(
            platform,
            "select account_id, account_today, last_good_day, days_behind, is_stale "
            "from data_freshness",
        )
    }
    for account_id in accounts:
        row = rows[account_id]
        assert row["last_good_day"] == todays[account_id] == row["account_today"]
        assert row["days_behind"] == 0
        assert row["is_stale"] is False
