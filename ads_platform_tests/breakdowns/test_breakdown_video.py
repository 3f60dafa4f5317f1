"""Video on the breakdown pulls: asked for in the breakdown's one request per range,
parsed as the ad-level rows are (NULL without lists), checked by the dataset's schema."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ads_platform import schemas
from ads_platform.datasets import BREAKDOWNS
from ads_platform.datasets.insights import VIDEO_FIELDS
from ads_platform.ingestion.breakdowns import pull_account_breakdown
from ads_platform.ingestion.insights import AccountInfo
from ads_platform.lake import Lake

ACCOUNT = AccountInfo("act_7", "Seven", "EUR", "Europe/Berlin", 1)
DAYS = [dt.date(2026, 3, 1) + dt.timedelta(days=i) for i in range(3)]
STORED = [column for column, _ in VIDEO_FIELDS]
API = [api for _, api in VIDEO_FIELDS]


def _api_row(day: dt.date, dims: Sequence[str], cell: int, video: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "account_id": "7",
        "campaign_id": "11",
        "adset_id": "12",
        "ad_id": "13",
        "date_start": day.isoformat(),
        "date_stop": day.isoformat(),
        "impressions": "100",
        "reach": "80",
        "clicks": "5",
        "inline_link_clicks": "3",
        "spend": "1.25",
        **{d: f"{d}-{cell}" for d in dims},
    }
    if video:
        values = ["40", "30", "20", "10", "5", "2", "12", "6"]  # plays .. ThruPlays, avg
        row |= {
            api: [{"action_type": "video_view", "value": v}]
            for api, v in zip(API, values, strict=True)
        }
    return row


class RecordingClient:
    """Answers insights requests with two cells per day (video on cell 1 only)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def iter_insights(
        self, account_id: str, since: dt.date, until: dt.date, **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        self.calls.append({"since": since, "until": until, **kwargs})
        day = since
        while day <= until:
            yield _api_row(day, kwargs["breakdowns"], 1, video=True)
            yield _api_row(day, kwargs["breakdowns"], 2, video=False)
            day += dt.timedelta(days=1)


@pytest.mark.parametrize("key", list(BREAKDOWNS))
def test_one_request_per_range_asks_for_the_video_fields_and_stores_them_null_without_video(
    key: str, tmp_path: Path
) -> None:
    breakdown = BREAKDOWNS[key]
    client = RecordingClient()
    lake = Lake(tmp_path / "lake")
    result = pull_account_breakdown(
        client,  # type: ignore[arg-type]
        lake,
        ACCOUNT,
        DAYS,
        breakdown,
        run_id="r1",
        attribution_windows=["7d_click", "1d_view"],
        now=dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
    )
    # No extra call for video: one request for the range, the video fields in it.
    assert len(client.calls) == 1
    assert client.calls[0]["breakdowns"] == list(breakdown.dims)
    assert set(API) <= set(client.calls[0]["fields"])
    assert len(result.outcomes) == len(DAYS)
    stored = lake.read_table(lake.partition_path(breakdown.name, ACCOUNT.account_id, DAYS[0]))
    assert stored is not None
    by_cell = {row[breakdown.dims[0]]: row for row in stored.to_pylist()}
    video, none = by_cell[f"{breakdown.dims[0]}-1"], by_cell[f"{breakdown.dims[0]}-2"]
    assert [video[c] for c in STORED] == [40, 30, 20, 10, 5, 2, 12, 6.0]
    assert [none[c] for c in STORED] == [None] * len(STORED)  # no video is not zero plays


@pytest.mark.parametrize("column", STORED)
def test_the_breakdown_schema_refuses_a_negative_video_figure(column: str) -> None:
    breakdown = BREAKDOWNS["placement"]
    dataset = breakdown.dataset
    row: dict[str, Any] = {
        "date_day": DAYS[0],
        "account_id": "act_7",
        "campaign_id": "11",
        "ad_set_id": "12",
        "ad_id": "13",
        "publisher_platform": "facebook",
        "platform_position": "feed",
        "currency": "EUR",
        "impressions": 100,
        "spend": Decimal("1.25"),
        "actions": [],
        "fetched_at": dt.datetime(2026, 3, 2, tzinfo=dt.UTC),
        "run_id": "r",
        column: -1,
    }
    with pytest.raises(schemas.ValidationFailed, match=column):
        dataset.validate(dataset.frame([row]))
