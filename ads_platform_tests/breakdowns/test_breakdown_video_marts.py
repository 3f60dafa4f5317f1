"""Video on the breakdown marts, over a lake that still holds files from before video.

A real ``dbt build`` over a small lake written with the platform's own parse and
writers: per breakdown, one day pulled before the video columns existed (the lake file
has none of them: it must still build, its video NULL) and one day with video lists on
some cells only.  The facts keep NULL where Meta sent no video (never 0); the reports
sum the counts and the seconds watched and recompute the average from those sums
(never an average of averages).  The ad-level facts read an old file the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from ads_platform.datasets import AD_INSIGHTS, BREAKDOWNS, Breakdown
from ads_platform.datasets.insights import VIDEO_FIELDS
from ads_platform.ingestion.breakdowns import breakdown_frame
from ads_platform_tests.marts.lake_fixture import ACCOUNTS, DAYS, LakeBuilder, run_dbt

pytestmark = pytest.mark.slow

ACCOUNT = "act_101"  # ads 3001, 3002, 3003
OLD_DAY, NEW_DAY = DAYS[0], DAYS[1]
STORED = [column for column, _ in VIDEO_FIELDS]
COUNTS = STORED[:-1]
MART_VIDEO = [*COUNTS, "video_watch_seconds", "video_avg_time_watched_seconds"]

#: (ad, cell) → plays and the served whole-second average watch time.
#: Ad 3002 has no video at all; ad 3003 only in cell 1 (cell 2 omits the lists).
VIDEO: dict[tuple[str, int], tuple[int, int]] = {
    ("3001", 1): (40, 6),
    ("3001", 2): (10, 3),
    ("3003", 1): (25, 9),
}


def _expected_counts(plays: int) -> list[int]:
    """The counts of a row with ``plays`` plays: a monotone funnel, then the ThruPlays."""
    return [
        plays,
        plays * 4 // 5,
        plays * 3 // 5,
        plays * 2 // 5,
        plays // 5,
        plays // 10,
        plays // 2,
    ]


def _lists(plays: int, avg: int) -> dict[str, list[dict[str, str]]]:
    """Meta's video lists for one row, one ``video_view`` element each."""
    values = [*_expected_counts(plays), avg]
    return {
        api: [{"action_type": "video_view", "value": str(v)}]
        for (_, api), v in zip(VIDEO_FIELDS, values, strict=True)
    }


def _cell_rows(builder: LakeBuilder, breakdown: Breakdown, day: dt.date) -> list[dict[str, Any]]:
    """Every ad-day split into two cells (the same figures in each; video per VIDEO)."""
    rows = []
    for ad_row in builder.ad_rows(ACCOUNT, day):
        for cell in (1, 2):
            row = {**ad_row, **{d: f"{d}-{cell}" for d in breakdown.dims}}
            video = VIDEO.get((ad_row["ad_id"], cell))
            if video is not None:
                row.update(_lists(*video))
            rows.append(row)
    return rows


def _without_video(path: Path) -> None:
    """Rewrite a lake file as it was written before the video columns were declared."""
    table = pq.read_table(path).drop_columns(STORED)
    pq.write_table(table, path, compression="zstd")


@pytest.fixture(scope="module")
def marts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    home = tmp_path_factory.mktemp("breakdown_video")
    builder = LakeBuilder(home)
    builder.write_accounts()
    builder.write_entities(ACCOUNT)
    currency = ACCOUNTS[ACCOUNT][0]
    for day in (OLD_DAY, NEW_DAY):
        ad_rows = builder.ad_rows(ACCOUNT, day)
        if day == NEW_DAY:
            ad_rows = [{**r, **_lists(50, 7)} if r["ad_id"] == "3001" else r for r in ad_rows]
        builder.write_day(ACCOUNT, day, ad_rows)
        for breakdown in BREAKDOWNS.values():
            frame = breakdown_frame(
                breakdown,
                _cell_rows(builder, breakdown, day),
                account_id=ACCOUNT,
                currency=currency,
                fetched_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
                run_id="run-1",
            )
            breakdown.dataset.validate(frame)
            path = builder.lake.partition_path(breakdown.name, ACCOUNT, day)
            builder.lake.write(path, breakdown.dataset.to_arrow(frame))
    for name in (AD_INSIGHTS.name, *(b.name for b in BREAKDOWNS.values())):
        _without_video(builder.lake.partition_path(name, ACCOUNT, OLD_DAY))
    selection = ["+fct_ad_daily", *(f"+rpt_account_{key}_daily" for key in BREAKDOWNS)]
    result = run_dbt(home, "build", "--indirect-selection", "cautious", "--select", *selection)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    con = duckdb.connect(str(home / "warehouse" / "marts.duckdb"), read_only=True)
    yield con
    con.close()


def _fetch(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


@pytest.mark.parametrize("key", list(BREAKDOWNS))
def test_breakdown_facts_carry_video_per_cell_and_null_where_meta_sent_none(
    marts: duckdb.DuckDBPyConnection, key: str
) -> None:
    dim = BREAKDOWNS[key].dims[0]
    rows = _fetch(
        marts,
        f"""select date_day, ad_id, {dim}, {", ".join(MART_VIDEO)}
            from fct_ad_{key}_daily order by all""",
    )
    assert len(rows) == 2 * 2 * 3  # days x cells x ads
    for day, ad_id, value, *video in rows:
        cell = int(value.rsplit("-", 1)[1])
        served = VIDEO.get((ad_id, cell)) if day == NEW_DAY else None
        if served is None:  # an old file, a non-video ad or a cell without lists
            assert video == [None] * len(MART_VIDEO), (day, ad_id, cell)
            continue
        plays, avg = served
        assert video == [*_expected_counts(plays), float(plays * avg), float(avg)]


@pytest.mark.parametrize("key", list(BREAKDOWNS))
def test_breakdown_reports_sum_the_counts_and_recompute_the_average_from_seconds(
    marts: duckdb.DuckDBPyConnection, key: str
) -> None:
    dim = BREAKDOWNS[key].dims[0]
    got = {
        (r[0], r[1]): r[2:]
        for r in _fetch(
            marts,
            f"select date_day, {dim}, {', '.join(MART_VIDEO)} from rpt_account_{key}_daily",
        )
    }
    for cell in (1, 2):
        value = f"{dim}-{cell}"
        # Before video: NULL, not zero plays.
        assert got[(OLD_DAY, value)] == (None,) * len(MART_VIDEO)
        served = [v for (_, c), v in VIDEO.items() if c == cell]
        counts = [sum(col) for col in zip(*(_expected_counts(p) for p, _ in served), strict=True)]
        seconds = sum(p * a for p, a in served)
        plays = sum(p for p, _ in served)
        *row_counts, row_seconds, row_avg = got[(NEW_DAY, value)]
        assert row_counts == counts and row_seconds == seconds
        assert row_avg == pytest.approx(seconds / plays)
    # Cell 1 mixes 40 plays at 6 s and 25 at 9 s: 7.15 s, not the mean of averages 7.5 s.
    assert got[(NEW_DAY, f"{dim}-1")][-1] == pytest.approx((40 * 6 + 25 * 9) / 65)


def test_the_ad_level_facts_read_an_old_file_without_video_as_null(
    marts: duckdb.DuckDBPyConnection,
) -> None:
    rows = _fetch(
        marts,
        f"select date_day, ad_id, {', '.join(MART_VIDEO)} from fct_ad_daily order by all",
    )
    assert {(day, ad_id) for day, ad_id, *_ in rows} == {
        (day, ad) for day in (OLD_DAY, NEW_DAY) for ad in ("3001", "3002", "3003")
    }
    for day, ad_id, *video in rows:
        if day == NEW_DAY and ad_id == "3001":
            assert video == [*_expected_counts(50), 350.0, 7.0]
        else:
            assert video == [None] * len(MART_VIDEO), (day, ad_id)
