"""Pure logic of ingestion: parsing, the zero guard, ranges, reconciliation, reporting."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from ads_platform import frames, schemas
from ads_platform.assets.reporting import summarize_failures
from ads_platform.ingestion import zero_guard
from ads_platform.ingestion.insights import contiguous_ranges, reconcile
from ads_platform.ingestion.outcomes import PartitionOutcome
from ads_platform.ingestion.reach import months_to_pull
from ads_platform.lake import Lake, LakeError

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
DAY = dt.date(2026, 11, 10)


def row(ad_id: str = "3", **overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "account_id": "123",
        "account_currency": "USD",
        "campaign_id": "1",
        "adset_id": "2",
        "ad_id": ad_id,
        "date_start": DAY.isoformat(),
        "date_stop": DAY.isoformat(),
        "impressions": "1000",
        "clicks": "20",
        "inline_link_clicks": "10",
        "reach": "900",
        "spend": "12.34",
    }
    base.update(overrides)
    return base


def frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    return frames.insights_frame(
        rows, account_id="act_123", currency="USD", fetched_at=NOW, run_id="r"
    )


def test_counts_are_exact_and_missing_fields_stay_null() -> None:
    f = frame([row(impressions="9007199254740993", reach=None, spend="0.10")])
    assert int(f["impressions"][0]) == 9007199254740993  # beyond float precision
    assert pd.isna(f["reach"][0])
    assert f["spend__exact"][0] == Decimal("0.10")
    schemas.validate(schemas.AdInsightsDaily, f, "t")


def test_actions_keep_every_window_unknown_types_and_missing_values() -> None:
    f = frame(
        [
            row(
                actions=[
                    {
                        "action_type": "offsite_conversion.fb_pixel_purchase",
                        "value": "3",
                        "7d_click": "2",
                    },
                    {"action_type": "brand_new_type", "1d_view": "1"},
                    {"action_type": "lead"},
                ],
                action_values=[
                    {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "99.5"}
                ],
            )
        ]
    )
    items = {(a["stat"], a["action_type"], a["window"]): a["value"] for a in f["actions"][0]}
    assert items[("actions", "offsite_conversion.fb_pixel_purchase", "value")] == "3"
    assert items[("actions", "offsite_conversion.fb_pixel_purchase", "7d_click")] == "2"
    assert items[("actions", "brand_new_type", "1d_view")] == "1"
    assert items[("actions", "lead", None)] is None
    assert items[("action_values", "offsite_conversion.fb_pixel_purchase", "value")] == "99.5"
    schemas.validate(schemas.AdInsightsDaily, f, "t")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"impressions": "12abc"}, "impressions: expected a count"),
        ({"spend": "lots"}, "spend: expected an amount"),
        ({"date_stop": "2026-11-11"}, "expected time_increment=1"),
        ({"actions": "purchase"}, "actions: expected a list"),
    ],
)
def test_broken_rows_are_errors_not_zeros(override: dict[str, object], message: str) -> None:
    with pytest.raises(frames.RowError, match=message):
        frame([row(**override)])


def test_schema_blocks_negative_duplicate_and_foreign_rows() -> None:
    with pytest.raises(schemas.ValidationFailed, match="greater_than_or_equal_to"):
        schemas.validate(schemas.AdInsightsDaily, frame([row(spend="-1")]), "t")
    with pytest.raises(schemas.ValidationFailed, match=r"unique|duplicate"):
        schemas.validate(schemas.AdInsightsDaily, frame([row(), row()]), "t")
    with pytest.raises(schemas.ValidationFailed, match="belong to act_999"):
        schemas.check_partition_keys(frame([row(account_id="999")]), "t", account_id="act_123")
    with pytest.raises(schemas.ValidationFailed, match="outside the partition"):
        schemas.check_partition_keys(
            frame([row()]), "t", account_id="act_123", days=[DAY + dt.timedelta(days=1)]
        )


def totals(spend: float = 0.0, impressions: int = 0, rows: int = 0) -> zero_guard.DayTotals:
    return zero_guard.DayTotals(rows=rows, spend=spend, impressions=impressions, clicks=0)


def test_zero_guard_blocks_zero_rows_with_evidence() -> None:
    recent = {DAY - dt.timedelta(days=1): totals(10.0, 100, 3)}
    outcome = zero_guard.evaluate(
        DAY, totals(rows=5), local_today=DAY + dt.timedelta(days=2), active_ads=4, recent=recent
    )
    assert not outcome.passed
    assert "4 ad(s) were active" in outcome.description
    assert "nothing was stored" in outcome.description


def test_zero_guard_lets_quiet_accounts_and_today_through() -> None:
    quiet = zero_guard.evaluate(
        DAY, totals(), local_today=DAY + dt.timedelta(days=2), active_ads=0, recent={}
    )
    assert quiet.passed
    today = zero_guard.evaluate(DAY, totals(rows=3), local_today=DAY, active_ads=9, recent={})
    assert today.passed
    delivered = zero_guard.evaluate(
        DAY, totals(1.0, 10, 1), local_today=DAY + dt.timedelta(days=1), active_ads=9, recent={}
    )
    assert delivered.passed


def test_zero_guard_empty_result_needs_entity_evidence() -> None:
    recent = {DAY - dt.timedelta(days=1): totals(10.0, 100, 3)}
    later = DAY + dt.timedelta(days=3)
    # Entity state known, nothing active: an account that stopped is quiet, not broken.
    assert zero_guard.evaluate(DAY, totals(), local_today=later, active_ads=0, recent=recent).passed
    # Entity state says ads were active: an empty answer is blocked.
    assert not zero_guard.evaluate(
        DAY, totals(), local_today=later, active_ads=2, recent=recent
    ).passed
    # Entity state never pulled: recent delivery is the evidence.
    assert not zero_guard.evaluate(
        DAY, totals(), local_today=later, active_ads=None, recent=recent
    ).passed


def test_contiguous_ranges_split_gaps_and_long_runs() -> None:
    days = [DAY + dt.timedelta(days=i) for i in (0, 1, 2, 5, 6)] + [
        DAY + dt.timedelta(days=10 + i) for i in range(40)
    ]
    ranges = contiguous_ranges(days, max_days=31)
    assert ranges[0] == (DAY, DAY + dt.timedelta(days=2))
    assert ranges[1] == (DAY + dt.timedelta(days=5), DAY + dt.timedelta(days=6))
    assert ranges[2] == (DAY + dt.timedelta(days=10), DAY + dt.timedelta(days=40))
    assert ranges[3] == (DAY + dt.timedelta(days=41), DAY + dt.timedelta(days=49))


def test_reconciliation_warns_with_both_figures() -> None:
    ads = frame([row(spend="10.00"), row(ad_id="4", spend="5.00")])
    account = frames.account_insights_frame(
        [row(spend="15.00", impressions="2000")],
        account_id="act_123",
        currency="USD",
        fetched_at=NOW,
        run_id="r",
    )
    assert reconcile(ads, account, 0.005).passed
    off = frames.account_insights_frame(
        [row(spend="20.00", impressions="2000")],
        account_id="act_123",
        currency="USD",
        fetched_at=NOW,
        run_id="r",
    )
    outcome = reconcile(ads, off, 0.005)
    assert not outcome.passed
    assert outcome.severity == "WARN"
    assert "15.00" in outcome.description
    assert "20.00" in outcome.description


def test_failures_are_summarized_per_account_and_reason() -> None:
    failed = [
        PartitionOutcome(
            "d",
            "act_1",
            DAY + dt.timedelta(days=i),
            "failed",
            message="token for act_1 expired: re-authorize",
        )
        for i in range(3)
    ]
    failed.append(
        PartitionOutcome("d", "act_2", DAY, "blocked", message=f"act_2 {DAY}: blocked: zeros")
    )
    text = summarize_failures(failed)
    assert f"act_1 {DAY}..{DAY + dt.timedelta(days=2)} (3 day(s)): token for act_1 expired" in text
    assert f"act_2 {DAY}..{DAY} (1 day(s)): blocked: zeros" in text


def test_lake_paths_are_safe_and_writes_atomic(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    with pytest.raises(LakeError):
        lake.partition_path("ad_insights_daily", "../etc", DAY)
    path = lake.partition_path("ad_insights_daily", "act_1", DAY)
    table = frames.to_arrow(frame([row()]), frames.INSIGHTS_ARROW)
    lake.write(path, table)
    assert pq.read_table(path).num_rows == 1
    assert lake.partition_days("ad_insights_daily", "act_1") == [DAY]
    assert lake.account_ids("ad_insights_daily") == ["act_1"]
    assert [p.name for p in path.parent.iterdir()] == ["data.parquet"]
    assert lake.delete(path)
    assert not lake.delete(path)


def test_entity_versions_keep_history() -> None:
    spec = frames.CAMPAIGNS
    first = [
        spec.parse(
            {"id": "1", "name": "Spring", "status": "ACTIVE", "effective_status": "ACTIVE"}, "act_1"
        )
    ]
    history, added = frames.merge_versions(None, first, spec, NOW)
    assert added == 1
    same, added = frames.merge_versions(history, first, spec, NOW + dt.timedelta(hours=1))
    assert added == 0
    assert len(same) == 1
    renamed = [
        spec.parse(
            {"id": "1", "name": "Summer", "status": "ACTIVE", "effective_status": "ACTIVE"}, "act_1"
        )
    ]
    history, added = frames.merge_versions(history, renamed, spec, NOW + dt.timedelta(days=1))
    assert added == 1
    assert list(history.sort_values("valid_from")["name"]) == ["Spring", "Summer"]
    schemas.validate(schemas.Campaigns, history, "campaigns")


def test_reach_months_restate_recent_and_fill_missing() -> None:
    today = dt.date(2026, 11, 20)
    stored = {dt.date(2026, m, 1) for m in range(1, 11)}
    months = months_to_pull(stored, today, dt.date(2026, 1, 1), lookback_days=28)
    assert months == [dt.date(2026, 10, 1), dt.date(2026, 11, 1)]
    months = months_to_pull(set(), today, dt.date(2026, 9, 15), lookback_days=28)
    assert months == [dt.date(2026, 9, 1), dt.date(2026, 10, 1), dt.date(2026, 11, 1)]
