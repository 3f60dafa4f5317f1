"""The breakdown pull's day checks: the zero guard against the unbroken day, reconciliation."""

from __future__ import annotations

import datetime as dt

import pytest

from ads_platform import frames
from ads_platform.datasets import BREAKDOWNS
from ads_platform.ingestion.breakdowns import breakdown_frame, guard, reconcile
from ads_platform.ingestion.zero_guard import DayTotals

DELIVERED = DayTotals(rows=4, spend=12.5, impressions=900, clicks=20)
NOTHING = DayTotals(rows=0, spend=0.0, impressions=0, clicks=0)


def test_a_breakdown_day_of_zeros_is_blocked_when_the_unbroken_day_delivered() -> None:
    check = guard(NOTHING, DELIVERED)
    assert not check.passed
    assert "12.50" in check.description and "900" in check.description


def test_a_breakdown_day_of_zeros_is_blocked_when_no_unbroken_day_vouches_for_it() -> None:
    assert not guard(NOTHING, None).passed


def test_a_breakdown_day_of_zeros_passes_when_the_unbroken_day_is_zero_too() -> None:
    assert guard(NOTHING, NOTHING).passed


def test_a_breakdown_day_with_delivery_passes_the_guard_whatever_the_unbroken_day() -> None:
    assert guard(DELIVERED, None).passed
    assert guard(DELIVERED, NOTHING).passed


def test_reconciliation_warns_with_both_figures_when_the_spend_differs() -> None:
    check = reconcile(DayTotals(4, 13.0, 900, 20), DELIVERED, tolerance=0.005)
    assert not check.passed and check.severity == "WARN"
    assert check.metadata["breakdown_spend"] == 13.0
    assert check.metadata["unbroken_spend"] == 12.5


def test_reconciliation_passes_within_the_tolerance() -> None:
    check = reconcile(DayTotals(4, 12.51, 901, 20), DELIVERED, tolerance=0.005)
    assert check.passed and check.severity == "WARN"


def test_a_breakdown_row_without_its_value_names_the_missing_field() -> None:
    row = {
        "account_id": "1",
        "campaign_id": "2",
        "adset_id": "3",
        "ad_id": "4",
        "date_start": "2026-01-05",
        "date_stop": "2026-01-05",
        "impressions": "10",
        "spend": "1.00",
        "publisher_platform": "facebook",
    }
    with pytest.raises(frames.RowError, match="platform_position"):
        breakdown_frame(
            BREAKDOWNS["placement"],
            [row],
            account_id="act_1",
            currency="EUR",
            fetched_at=dt.datetime(2026, 1, 6, tzinfo=dt.UTC),
            run_id="r",
        )
    frame = breakdown_frame(
        BREAKDOWNS["placement"],
        [{**row, "platform_position": "feed"}],
        account_id="act_1",
        currency="EUR",
        fetched_at=dt.datetime(2026, 1, 6, tzinfo=dt.UTC),
        run_id="r",
    )
    BREAKDOWNS["placement"].dataset.validate(frame)
    assert frame["platform_position"].tolist() == ["feed"]
    assert frame["reach"].isna().all()
