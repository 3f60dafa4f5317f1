"""Pure logic of ingestion: parsing, the zero guard, ranges, reconciliation, reporting."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ads_platform import datasets as ds
from ads_platform import frames, schemas
from ads_platform.assets.reporting import summarize_failures
from ads_platform.datasets.entities import Campaigns
from ads_platform.datasets.insights import AdInsightsDaily
from ads_platform.ingestion import zero_guard
from ads_platform.ingestion.insights import (
    contiguous_ranges,
    not_started,
    reconcile,
    split_started,
)
from ads_platform.ingestion.outcomes import PartitionOutcome, preview_markdown, record_attempts
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
    schemas.validate(AdInsightsDaily, f, "t")


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
    schemas.validate(AdInsightsDaily, f, "t")


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
        schemas.validate(AdInsightsDaily, frame([row(spend="-1")]), "t")
    with pytest.raises(schemas.ValidationFailed, match=r"unique|duplicate"):
        schemas.validate(AdInsightsDaily, frame([row(), row()]), "t")
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


def test_zero_guard_lets_quiet_accounts_and_delivery_through() -> None:
    quiet = zero_guard.evaluate(
        DAY, totals(), local_today=DAY + dt.timedelta(days=2), active_ads=0, recent={}
    )
    assert quiet.passed
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


EARLY = dt.timedelta(hours=1)
LATE = dt.timedelta(hours=15)


def test_zero_guard_blocks_today_when_it_is_lower_than_what_is_stored() -> None:
    stored = zero_guard.DayTotals(rows=4, spend=305.77, impressions=19_955, clicks=120)
    for fresh in (
        totals(rows=4),  # errors as zeros over a stored partial day
        totals(rows=0),  # an empty answer over a stored partial day, even early
        zero_guard.DayTotals(rows=4, spend=305.77, impressions=19_000, clicks=120),
        zero_guard.DayTotals(rows=4, spend=300.00, impressions=20_000, clicks=130),
        zero_guard.DayTotals(rows=4, spend=306.00, impressions=20_000, clicks=119),
    ):
        outcome = zero_guard.evaluate(
            DAY,
            fresh,
            local_today=DAY,
            active_ads=0,  # even with nothing active now: what was stored was delivered
            recent={},
            stored_today=stored,
            day_elapsed=EARLY,
        )
        assert not outcome.passed, fresh
        assert "lower than what is already stored for today" in outcome.description
    grown = zero_guard.DayTotals(rows=5, spend=305.78, impressions=19_955, clicks=121)
    assert zero_guard.evaluate(
        DAY, grown, local_today=DAY, active_ads=3, recent={}, stored_today=stored
    ).passed


def test_zero_guard_blocks_zero_rows_today_while_ads_are_active() -> None:
    outcome = zero_guard.evaluate(
        DAY, totals(rows=3), local_today=DAY, active_ads=9, recent={}, day_elapsed=EARLY
    )
    assert not outcome.passed
    assert "9 ad(s) were active" in outcome.description


def test_zero_guard_lets_a_quiet_today_through_and_an_empty_one_early_in_the_day() -> None:
    recent = {DAY - dt.timedelta(days=1): totals(10.0, 100, 3)}
    # Nothing active, nothing stored: a truly quiet account passes, zero rows or none.
    for fresh in (totals(), totals(rows=2)):
        assert zero_guard.evaluate(
            DAY, fresh, local_today=DAY, active_ads=0, recent={}, day_elapsed=LATE
        ).passed
    # No rows yet early in the local day, nothing stored: a real zero (Meta reports late).
    early = zero_guard.evaluate(
        DAY, totals(), local_today=DAY, active_ads=5, recent=recent, day_elapsed=EARLY
    )
    assert early.passed and "early in the local day" in early.description
    # Still no rows hours into the day while ads are active: blocked like a closed day.
    assert not zero_guard.evaluate(
        DAY, totals(), local_today=DAY, active_ads=5, recent=recent, day_elapsed=LATE
    ).passed


def test_zero_guard_never_passes_a_day_that_has_not_started() -> None:
    outcome = zero_guard.evaluate(
        DAY + dt.timedelta(days=1), totals(5.0, 10, 1), local_today=DAY, active_ads=1, recent={}
    )
    assert not outcome.passed and "has not started" in outcome.description


def test_days_after_the_account_local_today_are_not_started() -> None:
    days = [dt.date(2026, 11, 19) + dt.timedelta(days=i) for i in range(4)]  # 19..22
    late_evening_utc = dt.datetime(2026, 11, 20, 23, 30, tzinfo=dt.UTC)
    # New York is still on the 20th, Tokyo already on the 21st.
    assert split_started(days, "America/New_York", late_evening_utc) == (days[:2], days[2:])
    assert split_started(days, "Asia/Tokyo", late_evening_utc) == (days[:3], days[3:])
    # Unknown zone: only days that have not started anywhere (UTC+14 is on the 21st).
    assert split_started(days, None, late_evening_utc) == (days[:3], days[3:])
    skipped = not_started("act_1", days[3], "Asia/Tokyo", late_evening_utc)
    assert skipped.status == "skipped" and skipped.skipped and not skipped.ok
    assert "has not started in Asia/Tokyo (local today 2026-11-21)" in skipped.message


def test_each_attempt_of_a_run_has_its_own_increasing_time(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    same = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
    outcomes = [
        PartitionOutcome("ad_insights_daily", "act_1", DAY, "success", attempted_at=same),
        PartitionOutcome("ad_insights_daily", "act_1", DAY, "blocked", attempted_at=same),
        PartitionOutcome("ad_insights_daily", "act_2", DAY, "failed", attempted_at=same),
        PartitionOutcome(
            "ad_insights_daily", "act_1", DAY, "skipped", attempted_at=same - dt.timedelta(1)
        ),
    ]
    record_attempts(lake, outcomes, "run-1")
    table = pq.read_table(lake.dataset_dir("ingestion_attempts") / "account_id=act_1")
    logged = sorted(table.to_pylist(), key=lambda r: r["attempted_at"])
    assert [r["status"] for r in logged] == ["success", "blocked", "skipped"]
    times = [r["attempted_at"] for r in logged]
    assert times[0] == same and times[0] < times[1] < times[2]


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
    totals = zero_guard.totals_of
    assert reconcile(totals(ads), totals(account), 0.005).passed
    off = frames.account_insights_frame(
        [row(spend="20.00", impressions="2000")],
        account_id="act_123",
        currency="USD",
        fetched_at=NOW,
        run_id="r",
    )
    outcome = reconcile(totals(ads), totals(off), 0.005)
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
    table = ds.AD_INSIGHTS.to_arrow(frame([row()]))
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
    schemas.validate(Campaigns, history, "campaigns")


def test_reach_months_restate_recent_and_fill_missing() -> None:
    today = dt.date(2026, 11, 20)
    stored = {dt.date(2026, m, 1) for m in range(1, 11)}
    months = months_to_pull(stored, today, dt.date(2026, 1, 1), lookback_days=28)
    assert months == [dt.date(2026, 10, 1), dt.date(2026, 11, 1)]
    months = months_to_pull(set(), today, dt.date(2026, 9, 15), lookback_days=28)
    assert months == [dt.date(2026, 9, 1), dt.date(2026, 10, 1), dt.date(2026, 11, 1)]


def test_a_stored_days_preview_is_a_markdown_table_of_its_first_rows_without_internals() -> None:
    frame = pd.DataFrame(
        {
            "ad_id": ["1", "2", "3"],
            "ad_name": ["a|b", "line\nbreak", None],
            "spend": [1.5, float("nan"), 2.0],
            "spend__exact": ["1.50", "0.00", "2.00"],
            "actions": [[{"action_type": "x"}], [], []],
            "fetched_at": [pd.Timestamp("2026-11-20", tz="UTC")] * 3,
        }
    )
    assert preview_markdown(frame, limit=2).splitlines() == [
        "| ad_id | ad_name | spend |",
        "|---|---|---|",
        "| 1 | a\\|b | 1.5 |",
        "| 2 | line break |  |",
    ]
    assert preview_markdown(frame.iloc[:0]) == "_no rows_"


def test_a_stored_days_preview_from_its_arrow_table_shows_money_as_stored() -> None:
    table = pa.table(
        {
            "ad_id": ["1", "2", "3"],
            "ad_name": ["a|b", "line\nbreak", None],
            "spend": pa.array([Decimal("1.50"), None, Decimal("2.00")], pa.decimal128(18, 2)),
            "reach": pa.array([7, None, 9], pa.int64()),
            "actions": pa.array([[{"action_type": "x"}], [], []]),
            "fetched_at": pa.array([dt.datetime(2026, 11, 20, tzinfo=dt.UTC)] * 3),
        }
    )
    assert preview_markdown(table, limit=2).splitlines() == [
        "| ad_id | ad_name | spend | reach |",
        "|---|---|---|---|",
        "| 1 | a\\|b | 1.50 | 7 |",
        "| 2 | line break |  |  |",
    ]
    assert preview_markdown(table.slice(0, 0)) == "_no rows_"


class _StrayDayClient:
    """Answers every insights request with one row dated the day before the range."""

    def __init__(self) -> None:
        self.calls = 0

    def iter_insights(self, account_id: str, since: dt.date, until: dt.date, **_: object):  # type: ignore[no-untyped-def]
        self.calls += 1
        yield {"date_start": (since - dt.timedelta(days=1)).isoformat(), "ad_id": "1"}


@pytest.mark.parametrize("pull", ["unbroken", "placement"])
def test_a_row_dated_outside_the_range_asked_for_fails_the_range_and_writes_nothing(
    pull: str, tmp_path: Path
) -> None:
    from ads_platform.ingestion.breakdowns import pull_account_breakdown
    from ads_platform.ingestion.insights import AccountInfo, pull_account_insights

    account = AccountInfo("act_1", "one", "USD", "UTC", 1)
    lake = Lake(tmp_path / "lake")
    client = _StrayDayClient()
    common: dict[str, object] = {"run_id": "r", "attribution_windows": ["1d_click"], "now": NOW}

    def run() -> object:
        if pull == "unbroken":
            return pull_account_insights(client, lake, account, [DAY], **common)  # type: ignore[arg-type]
        return pull_account_breakdown(  # type: ignore[arg-type]
            client, lake, account, [DAY], ds.BREAKDOWNS[pull], **common
        )

    with pytest.raises(schemas.ValidationFailed, match=r"rows for 2026-11-09, outside 2026-11-10"):
        run()
    assert client.calls == 1  # the first level's stray day ends the range
    assert not list((tmp_path / "lake").rglob("*.parquet"))
