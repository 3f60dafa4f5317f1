"""The matrix's world: the sandbox's clock never behind an account, each run's accounts
adjacent (a run covers a rectangle of accounts × days)."""

from __future__ import annotations

import datetime as dt

import pytest

from ads_platform_tests.reliability.matrix import CASES, CONTROLS, Scope
from ads_platform_tests.reliability.scenario import CLOCK_MARGIN, layout, local_today, sandbox_date

ZONES = ["Pacific/Auckland", "Asia/Tokyo", "UTC", "America/New_York", "America/Los_Angeles"]


@pytest.mark.parametrize("hour", range(0, 24, 3))
def test_the_sandbox_date_is_the_first_one_no_account_is_ahead_of(hour: int) -> None:
    now = dt.datetime(2026, 11, 29, hour, 40, tzinfo=dt.UTC)
    chosen = sandbox_date(ZONES, now)

    def sandbox_today(day: dt.date, zone: str) -> dt.date:
        return local_today(zone, dt.datetime.combine(day, dt.time(12), dt.UTC))

    later = now + CLOCK_MARGIN
    assert all(sandbox_today(chosen, z) >= local_today(z, later) for z in ZONES)
    earlier = chosen - dt.timedelta(days=1)
    assert any(sandbox_today(earlier, z) < local_today(z, later) for z in ZONES)


def test_a_zone_crossing_midnight_during_the_scenario_is_covered() -> None:
    # 07:55 UTC: Los Angeles is on the 28th, and on the 29th five minutes later.
    now = dt.datetime(2026, 11, 29, 7, 55, tzinfo=dt.UTC)
    chosen = sandbox_date(["America/Los_Angeles"], now)
    noon = dt.datetime.combine(chosen, dt.time(12), dt.UTC)
    assert local_today("America/Los_Angeles", noon) == dt.date(2026, 11, 29)


def test_each_run_covers_its_accounts_only_its_control_first_the_crash_last() -> None:
    slots = layout()
    account_cases = [c for c in CASES if c.scope in (Scope.ACCOUNT, Scope.QUIET, Scope.CRASH)]
    pulls = [pull for _, pull in slots]
    for pull in CONTROLS:
        where = [i for i, p in enumerate(pulls) if p is pull]
        assert where == list(range(where[0], where[-1] + 1))  # adjacent
        assert slots[where[0]] == (None, pull)  # its control first
    assert all(case.scope is Scope.CRASH for case, pull in slots if pull is None)
    assert slots[-1][1] is None
    cases = [c for c, _ in slots if c is not None]
    assert sorted(c.name for c in cases) == sorted(c.name for c in account_cases)  # each once
