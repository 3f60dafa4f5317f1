"""The fast ingest path stores exactly what the row-by-row path stored.

Rows are parsed column by column, action lists go straight into Arrow, a range goes to
Arrow once and each day takes its rows, and a range's files are written by a few
threads.  Each of these is checked here against the slower form it replaced, on the
sandbox's own Meta-shaped rows and on the edge cases the row parser knows.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ads_platform import frames, schemas
from ads_platform.datasets import AD_INSIGHTS
from ads_platform.datasets.base import MONEY, to_arrow, typed_frame
from ads_platform.datasets.insights import VIDEO_FIELDS
from ads_platform.ingestion import insights as pull
from ads_platform.ingestion import zero_guard
from ads_platform.lake import Lake
from ads_platform.meta.client import decode_body
from ads_platform.sandbox.config import SandboxConfig
from ads_platform.sandbox.graph import GraphApi, GraphRequest
from ads_platform.sandbox.state import SandboxState

NOW = dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC)
ACCOUNT = pull.AccountInfo("act_1", "one", "USD", "UTC", 1)


def sandbox_rows() -> tuple[str, list[dict[str, Any]]]:
    """Three days of ad rows for 40 ads, as the sandbox serves them (one page)."""
    state = SandboxState(
        SandboxConfig(seed=7, accounts=1, ads_per_account=40, today=dt.date(2026, 3, 15))
    )
    account_id = state.world.accounts[0].id
    response = GraphApi(state).handle(
        GraphRequest(
            "GET",
            f"/v25.0/{account_id}/insights",
            {
                "level": "ad",
                "fields": ",".join(AD_INSIGHTS.api_fields),
                "time_increment": "1",
                "time_range": '{"since":"2026-03-01","until":"2026-03-03"}',
                "action_attribution_windows": '["1d_click","7d_click","1d_view"]',
                "limit": "500",
            },
            authorization="Bearer EAAtest",
        )
    )
    body = orjson.loads(response.body)
    assert "paging" not in body or "next" not in body["paging"]
    return account_id, body["data"]


EDGE_ROWS: list[dict[str, Any]] = [
    {
        "account_id": "1",
        "campaign_id": "11",
        "adset_id": "12",
        "ad_id": "13",
        "date_start": "2026-03-01",
        "date_stop": "2026-03-01",
        "impressions": "10",
        "spend": "1.50",
        "actions": [
            {"action_type": "lead"},
            {"action_type": "purchase", "value": "2", "7d_click": None},
            {"value": "1"},
        ],
        "video_play_actions": [
            {"action_type": "video_view", "value": "4"},
            {"action_type": "video_view", "value": "3"},
        ],
        "video_avg_time_watched_actions": [{"action_type": "video_view", "value": "2.5"}],
    },
    {
        "ad_id": "14",
        "campaign_id": "11",
        "adset_id": "12",
        "date_start": "2026-03-02",
        "impressions": " 7 ",
        "reach": "",
        "clicks": "3.0",
        "video_p25_watched_actions": [],
    },
]


def reference_actions(row: dict[str, Any]) -> list[dict[str, str | None]]:
    """The flattening the row-by-row parser did (kept here as the reference)."""
    out: list[dict[str, str | None]] = []
    for stat in ("actions", "action_values", "conversions", "conversion_values"):
        for item in row.get(stat) or []:
            kind = item.get("action_type")
            for key, value in item.items():
                if key != "action_type":
                    out.append(
                        {
                            "stat": stat,
                            "action_type": None if kind is None else str(kind),
                            "window": str(key),
                            "value": None if value is None else str(value),
                        }
                    )
            if len(item) == 1:
                out.append(
                    {
                        "stat": stat,
                        "action_type": None if kind is None else str(kind),
                        "window": None,
                        "value": None,
                    }
                )
    return out


def record_frame(rows: list[dict[str, Any]], account_id: str) -> pd.DataFrame:
    """The frame as the row-by-row parser built it: one dict per row, then typed_frame."""
    records = []
    for row in rows:
        spend = frames.parse_money(row.get("spend"), "spend")
        impressions = frames.parse_count(row.get("impressions"), "impressions")
        records.append(
            {
                "date_day": dt.date.fromisoformat(row["date_start"]),
                "account_id": "act_"
                + str(row.get("account_id") or account_id.removeprefix("act_")),
                "campaign_id": str(row["campaign_id"]),
                "ad_set_id": str(row["adset_id"]),
                "ad_id": str(row["ad_id"]),
                "currency": str(row.get("account_currency") or "USD"),
                "impressions": 0 if impressions is None else impressions,
                "reach": frames.parse_count(row.get("reach"), "reach"),
                "clicks_all": frames.parse_count(row.get("clicks"), "clicks"),
                "link_clicks": frames.parse_count(row.get("inline_link_clicks"), "x"),
                "spend": Decimal(0) if spend is None else spend,
                "fetched_at": NOW,
                "run_id": "r",
                "actions": reference_actions(row),
                **frames.video_metrics(row),
            }
        )
    return typed_frame(records, AD_INSIGHTS.arrow)


def columnar_frame(rows: list[dict[str, Any]], account_id: str) -> pd.DataFrame:
    return frames.insights_frame(
        rows, account_id=account_id, currency="USD", fetched_at=NOW, run_id="r"
    )


@pytest.mark.parametrize("source", ["sandbox", "edge cases"])
def test_the_column_by_column_frame_holds_what_the_row_by_row_frame_held(source: str) -> None:
    account_id, rows = sandbox_rows() if source == "sandbox" else ("act_1", EDGE_ROWS)
    fast, slow = columnar_frame(rows, account_id), record_frame(rows, account_id)
    assert list(fast.columns) == list(slow.columns)
    others = [c for c in fast.columns if c != "actions"]
    pd.testing.assert_frame_equal(fast[others], slow[others])
    assert fast["actions"].tolist() == slow["actions"].tolist()
    assert [frames.flatten_actions(r) for r in rows] == slow["actions"].tolist()
    assert any(len(a) for a in fast["actions"])
    video = [column for column, _ in VIDEO_FIELDS]
    if source == "edge cases":
        assert (
            fast.loc[0, "video_plays"] == 7 and fast.loc[0, "video_avg_time_watched_seconds"] == 2.5
        )
        assert fast[video].iloc[1].isna().all()


def test_both_frames_write_the_same_arrow_table() -> None:
    account_id, rows = sandbox_rows()
    fast = AD_INSIGHTS.to_arrow(columnar_frame(rows, account_id))
    slow = AD_INSIGHTS.to_arrow(record_frame(rows, account_id))
    assert fast.equals(slow)
    assert fast.schema == AD_INSIGHTS.arrow


def test_an_arrow_action_column_passes_the_shape_check_and_a_null_row_fails_it() -> None:
    account_id, rows = sandbox_rows()
    good = columnar_frame(rows, account_id)
    assert isinstance(good["actions"].dtype, pd.ArrowDtype)
    AD_INSIGHTS.validate(good)
    broken = good.copy()
    values = broken["actions"].array._pa_array.combine_chunks()
    mask = pa.array([i == 0 for i in range(len(values))])
    broken["actions"] = pd.Series(
        pd.arrays.ArrowExtensionArray(
            pa.compute.if_else(mask, pa.scalar(None, values.type), values)
        )
    )
    with pytest.raises(schemas.ValidationFailed, match="actions"):
        AD_INSIGHTS.validate(broken)


def test_money_arrow_cannot_take_exactly_is_still_rounded_to_the_cent_and_nan_still_refused() -> (
    None
):
    schema = pa.schema([("spend", MONEY)])
    frame = pd.DataFrame(
        {
            "spend": [1.005, 2.0],
            "spend__exact": pd.Series([Decimal("1.005"), Decimal("2")], dtype="object"),
        }
    )
    assert to_arrow(frame, schema).column("spend").to_pylist() == [Decimal("1.00"), Decimal("2.00")]
    nan = frame.assign(spend__exact=pd.Series([Decimal("NaN"), None], dtype="object"))
    with pytest.raises(pa.ArrowInvalid):
        to_arrow(nan, schema)


@pytest.mark.parametrize("order", ["by day, as Meta sends them", "days interleaved"])
def test_each_day_takes_from_the_range_table_what_converting_the_day_alone_gave(
    order: str,
) -> None:
    account_id, rows = sandbox_rows()
    if order == "days interleaved":
        rows = rows[::2] + rows[1::2]
        assert [r["date_start"] for r in rows] != sorted(r["date_start"] for r in rows)
    account = pull.AccountInfo(account_id, "a", "USD", "UTC", 1)
    ad_all, account_all = pull.build_frames(account, rows, [], fetched_at=NOW, run_id="r")
    days = [dt.date(2026, 3, d) for d in (1, 2, 3, 4)]
    split = pull.split_days(days, ad_all, account_all)
    for day in days:
        valid = split[day]
        assert isinstance(valid, pull.ValidDay)
        alone = ad_all[ad_all["date_day"] == day].reset_index(drop=True)
        assert valid.ad_table.equals(AD_INSIGHTS.to_arrow(alone))
    assert split[days[-1]].ad_table.num_rows == 0  # no rows that day: an empty file's table


def test_a_days_totals_from_its_arrow_table_are_its_frames_totals_with_exact_spend() -> None:
    account_id, rows = sandbox_rows()
    account = pull.AccountInfo(account_id, "a", "USD", "UTC", 1)
    ad_all, _ = pull.build_frames(account, rows, [], fetched_at=NOW, run_id="r")
    for day in (dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 4)):
        alone = ad_all[ad_all["date_day"] == day].reset_index(drop=True)
        from_frame = zero_guard.totals_of(alone)
        from_table = zero_guard.totals_of(AD_INSIGHTS.to_arrow(alone))
        day_rows = [r for r in rows if r["date_start"] == day.isoformat()]
        spend = sum((Decimal(r["spend"]) for r in day_rows), Decimal(0))
        clicks = sum(int(r.get(f) or 0) for r in day_rows for f in ("clicks", "inline_link_clicks"))
        assert from_table == zero_guard.DayTotals(
            rows=len(day_rows),
            spend=float(spend),  # the exact sum, then one rounding to a float
            impressions=sum(int(r["impressions"]) for r in day_rows),
            clicks=clicks,
        )
        assert (from_frame.rows, from_frame.impressions, from_frame.clicks) == (
            from_table.rows,
            from_table.impressions,
            from_table.clicks,
        )
        assert from_frame.spend == pytest.approx(from_table.spend, abs=1e-6)
    assert day_rows == []  # the fourth has no rows: zeros, from either form


def test_parallel_writes_are_on_disk_when_the_block_ends(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    table = pa.table({"n": [1, 2, 3]})
    paths = [lake.partition_path("d", "act_1", dt.date(2026, 3, d)) for d in range(1, 11)]
    with lake.parallel_writes(threads=4) as writes:
        for path in paths:
            writes.write(path, table)
    assert [pq.read_table(p).num_rows for p in paths] == [3] * 10


def test_a_failed_parallel_write_is_raised_once_the_other_writes_are_done(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    blocker = tmp_path / "d" / "account_id=act_1"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where a directory must go")
    good = lake.partition_path("d", "act_2", dt.date(2026, 3, 1))

    def write_both() -> None:
        with lake.parallel_writes(threads=2) as writes:
            writes.write(
                lake.partition_path("d", "act_1", dt.date(2026, 3, 1)), pa.table({"n": [1]})
            )
            writes.write(good, pa.table({"n": [1]}))

    with pytest.raises(OSError):
        write_both()
    assert pq.read_table(good).num_rows == 1


@pytest.mark.parametrize(
    ("content", "decoded"),
    [
        (b'{"data": [{"spend": "1.10"}]}', {"data": [{"spend": "1.10"}]}),
        (b"", b""),
        (b"  \n", b"  \n"),
        (b"<html>Service Unavailable</html>", b"<html>Service Unavailable</html>"),
        (b'{"data": [', b'{"data": ['),
    ],
)
def test_an_answer_body_is_json_when_it_parses_and_its_bytes_otherwise(
    content: bytes, decoded: object
) -> None:
    assert decode_body(content) == decoded
