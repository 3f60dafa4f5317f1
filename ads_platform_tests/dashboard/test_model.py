"""The dashboard's rules, without Streamlit or marts: no false zero, periods, totals."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from ads_platform.dashboard.model import (
    DayOutcome,
    DayState,
    Freshness,
    Period,
    PeriodError,
    day_states,
    fmt_metric,
    freshness_from_frame,
    hint_for,
    period_totals,
    resolve_period,
    trend_frame,
)

TODAY = dt.date(2026, 11, 29)


def _freshness(last_good: dt.date | None, stale: bool, reason: str | None = None) -> Freshness:
    return Freshness(
        account_id="act_1",
        account_name="Client",
        currency="EUR",
        timezone_name="Europe/Berlin",
        account_today=TODAY,
        last_good_day=last_good,
        is_stale=stale,
        stale_reason=reason,
        status_message=f"data as of {last_good}: {reason or 'up to date'}",
    )


def _days(first: int, last: int) -> list[dt.date]:
    """Days from ``first`` to ``last`` days before TODAY."""
    return [TODAY - dt.timedelta(days=n) for n in range(first, last - 1, -1)]


def _daily(days: list[dt.date], spend: float = 10.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date_day": days,
            "spend": [spend] * len(days),
            "impressions": [1000] * len(days),
            "link_clicks": [10] * len(days),
            "conversions": [2.0] * len(days),
            "conversion_value": [30.0] * len(days),
        }
    )


def test_days_after_the_last_good_day_are_missing_with_the_reason_never_zero() -> None:
    stale = _freshness(TODAY - dt.timedelta(days=4), True, "token expired — re-authorize")
    days = _days(7, 1)
    with_rows = set(_days(7, 4))
    states = day_states(days, with_rows, stale, first_data_day=TODAY - dt.timedelta(days=30))
    assert [states[d][0] for d in _days(3, 1)] == [DayState.MISSING] * 3
    assert {states[d][1] for d in _days(3, 1)} == {"token expired — re-authorize"}
    period = Period(days[0], days[-1])
    trend = trend_frame(_daily(sorted(with_rows)), period, states)
    missing = trend[trend["state"] == "missing"]
    assert len(missing) == 3 and missing["spend"].isna().all()  # gaps, not 0
    totals = period_totals(_daily(sorted(with_rows)), period, states)
    assert totals.covered == 4 and totals.missing == 3 and not totals.complete
    assert totals.get("spend") == 40.0
    assert totals.note == "4 of 7 days: token expired — re-authorize"


def test_a_day_without_rows_is_a_zero_only_when_a_pull_covered_it() -> None:
    fresh = _freshness(TODAY - dt.timedelta(days=1), False)
    days = _days(5, 1)
    first_data = TODAY - dt.timedelta(days=4)
    rows = {TODAY - dt.timedelta(days=4), TODAY - dt.timedelta(days=1)}
    # Without per-day outcomes: before the first day with data is unknown, after it covered.
    states = day_states(days, rows, fresh, first_data)
    assert states[TODAY - dt.timedelta(days=5)] == (
        DayState.MISSING,
        "before the first day with data",
    )
    assert states[TODAY - dt.timedelta(days=3)][0] is DayState.NO_DELIVERY
    # With per-day outcomes (a mart of them): only a successful pull makes a zero.
    outcomes = {
        TODAY - dt.timedelta(days=5): DayOutcome("success"),
        TODAY - dt.timedelta(days=3): DayOutcome("blocked", "blocked by the zero guard"),
    }
    states = day_states(days, rows, fresh, first_data, outcomes)
    assert states[TODAY - dt.timedelta(days=5)][0] is DayState.NO_DELIVERY
    assert states[TODAY - dt.timedelta(days=3)] == (DayState.MISSING, "blocked by the zero guard")
    assert states[TODAY - dt.timedelta(days=2)] == (DayState.MISSING, "never pulled")
    # An account never pulled successfully has no day at all.
    never = day_states(days, set(), _freshness(None, True, "no data ingested yet"), None)
    assert {s for s, _ in never.values()} == {DayState.MISSING}


def test_a_quiet_period_is_zero_with_no_delivery_and_undefined_ratios() -> None:
    fresh = _freshness(TODAY - dt.timedelta(days=1), False)
    period = Period(TODAY - dt.timedelta(days=7), TODAY - dt.timedelta(days=1))
    states = day_states(period.dates(), set(), fresh, None)
    totals = period_totals(_daily([]), period, states)
    assert totals.no_delivery and totals.note == "no delivery"
    assert totals.get("spend") == 0.0
    assert totals.get("cpa") is None and totals.get("roas") is None  # never inf or NaN


def test_totals_are_ratios_of_sums() -> None:
    period = Period(TODAY - dt.timedelta(days=2), TODAY - dt.timedelta(days=1))
    daily = pd.DataFrame(
        {
            "date_day": period.dates(),
            "spend": [100.0, 10.0],
            "impressions": [1, 1],
            "link_clicks": [1, 1],
            "conversions": [1.0, 9.0],
            "conversion_value": [50.0, 50.0],
        }
    )
    states = day_states(period.dates(), set(period.dates()), _freshness(TODAY, False), None)
    totals = period_totals(daily, period, states)
    assert totals.get("cpa") == pytest.approx(110.0 / 10.0)  # not the mean of 100 and 1.11
    assert totals.get("roas") == pytest.approx(100.0 / 110.0)


def test_periods_are_each_accounts_own_days_and_the_previous_period_is_as_long() -> None:
    tokyo_today, new_york_today = dt.date(2026, 11, 30), dt.date(2026, 11, 29)
    assert resolve_period("yesterday", tokyo_today) == Period(
        dt.date(2026, 11, 29), dt.date(2026, 11, 29)
    )
    assert resolve_period("yesterday", new_york_today).end == dt.date(2026, 11, 28)
    last_7 = resolve_period("last_7d", TODAY)
    assert (last_7.start, last_7.end, last_7.days) == (
        dt.date(2026, 11, 22),
        TODAY - dt.timedelta(1),
        7,
    )
    assert last_7.previous() == Period(dt.date(2026, 11, 15), dt.date(2026, 11, 21))
    assert resolve_period("this_month", TODAY).start == dt.date(2026, 11, 1)
    assert resolve_period("last_month", TODAY) == Period(
        dt.date(2026, 10, 1), dt.date(2026, 10, 31)
    )
    custom = resolve_period("custom", TODAY, dt.date(2026, 11, 1), dt.date(2026, 11, 3))
    assert custom.days == 3
    with pytest.raises(PeriodError, match="after the end date"):
        resolve_period("custom", TODAY, dt.date(2026, 11, 3), dt.date(2026, 11, 1))
    with pytest.raises(PeriodError, match="unknown period 'forever'"):
        resolve_period("forever", TODAY)


def test_the_freshness_label_reads_data_as_of_a_weekday() -> None:
    frame = pd.DataFrame(
        [
            {
                "account_id": "act_1",
                "account_name": "Client",
                "currency": "USD",
                "timezone_name": "America/New_York",
                "account_today": pd.Timestamp(TODAY),
                "last_good_day": pd.Timestamp(dt.date(2026, 11, 24)),
                "is_stale": True,
                "stale_reason": "token expired — re-authorize",
                "status_message": "data as of 2026-11-24: token expired — re-authorize",
                "last_attempt_error_kind": "token_invalid",
            }
        ]
    )
    (fresh,) = freshness_from_frame(frame).values()
    assert fresh.label == "data as of Tue 24 Nov: token expired — re-authorize"
    assert fresh.cause is not None and hint_for(cause=fresh.cause.value) == "re-authorize"
    assert hint_for("zero_guard").startswith("retried automatically")


def test_money_is_shown_in_the_accounts_currency() -> None:
    assert fmt_metric("spend", 1234.5, "EUR") == "1,234.50 EUR"
    assert fmt_metric("spend", 309286.0, "JPY") == "309,286 JPY"
    assert fmt_metric("spend", None, "EUR") == "—"
    assert fmt_metric("roas", math.nan, "EUR") == "—"
    assert fmt_metric("conversions", 2.5, "EUR") == "2.50"
