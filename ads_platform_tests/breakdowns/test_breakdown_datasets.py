"""The breakdown datasets: declared once, typed like the unbroken insights, grain unique."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from ads_platform import schemas
from ads_platform.datasets import AD_INSIGHTS, BREAKDOWNS, DATASETS, Partitioning


def _row(dims: tuple[str, ...], value: str, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "date_day": dt.date(2026, 1, 5),
        "account_id": "act_1",
        "campaign_id": "11",
        "ad_set_id": "12",
        "ad_id": "13",
        "currency": "EUR",
        "impressions": 100,
        "reach": 80,
        "clicks_all": 5,
        "link_clicks": 3,
        "spend": Decimal("1.25"),
        "actions": [],
        "fetched_at": dt.datetime(2026, 1, 6, tzinfo=dt.UTC),
        "run_id": "r",
    }
    row.update({d: value for d in dims})
    row.update(overrides)
    return row


def test_each_breakdown_is_a_day_account_dataset_in_the_registry_keyed_by_its_values() -> None:
    assert sorted(BREAKDOWNS) == ["age_gender", "country", "placement", "region"]
    for breakdown in BREAKDOWNS.values():
        assert DATASETS[breakdown.name] is breakdown.dataset
        assert breakdown.dataset.partitioning is Partitioning.DAY_ACCOUNT
        assert breakdown.dataset.grain == ("date_day", "ad_id", *breakdown.dims)


def test_breakdowns_keep_the_unbroken_typing_of_money_counts_and_actions() -> None:
    for breakdown in BREAKDOWNS.values():
        arrow = breakdown.dataset.arrow
        for field in AD_INSIGHTS.arrow:
            assert arrow.field(field.name).type == field.type, (breakdown.key, field.name)
        assert set(arrow.names) - set(AD_INSIGHTS.arrow.names) == set(breakdown.dims)


@pytest.mark.parametrize("key", ["placement", "age_gender", "country", "region"])
def test_a_missing_reach_is_stored_as_null_not_refused(key: str) -> None:
    dataset = BREAKDOWNS[key].dataset
    frame = dataset.frame([_row(BREAKDOWNS[key].dims, "x", reach=None)])
    dataset.validate(frame)
    assert frame["reach"].isna().all()


@pytest.mark.parametrize("key", ["placement", "age_gender", "country", "region"])
def test_two_rows_for_the_same_ad_day_and_value_break_the_grain(key: str) -> None:
    dims = BREAKDOWNS[key].dims
    dataset = BREAKDOWNS[key].dataset
    dataset.validate(dataset.frame([_row(dims, "a"), _row(dims, "b")]))
    with pytest.raises(schemas.ValidationFailed):
        dataset.validate(dataset.frame([_row(dims, "a"), _row(dims, "a")]))


@pytest.mark.parametrize("key", ["placement", "age_gender", "country", "region"])
def test_a_row_without_its_breakdown_value_is_refused(key: str) -> None:
    dims = BREAKDOWNS[key].dims
    dataset = BREAKDOWNS[key].dataset
    with pytest.raises(schemas.ValidationFailed):
        dataset.validate(dataset.frame([_row(dims, "a", **{dims[0]: None})]))
