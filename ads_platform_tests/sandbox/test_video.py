"""Video metrics: action lists on video ads only, a monotone watch funnel, sums across
levels and breakdowns, a plays-weighted average watch time, and the truth."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any

import httpx
import pytest

from ads_platform.sandbox import Sandbox

from .conftest import TODAY
from .helpers import get_all

SINCE = TODAY - dt.timedelta(days=6)
COUNTS = (
    "video_play_actions",
    "video_p25_watched_actions",
    "video_p50_watched_actions",
    "video_p75_watched_actions",
    "video_p95_watched_actions",
    "video_p100_watched_actions",
)
THRUPLAY = "video_thruplay_watched_actions"
AVG = "video_avg_time_watched_actions"
VIDEO_FIELDS = (*COUNTS, THRUPLAY, AVG)
FIELDS = ",".join(("ad_name", "impressions", "spend", *VIDEO_FIELDS))
#: The breakdowns the platform pulls (placement, age x gender, country, region).
PLATFORM_BREAKDOWNS = ("publisher_platform,platform_position", "age,gender", "country", "region")
#: The truth's video keys -> the action-list field of each count.
TRUTH_KEYS = dict(
    zip(("plays", "p25", "p50", "p75", "p95", "p100"), COUNTS, strict=True), thruplays=THRUPLAY
)


def _pull(
    client: httpx.Client,
    account: str,
    *,
    level: str = "ad",
    since: dt.date = SINCE,
    until: dt.date = TODAY,
    fields: str = FIELDS,
    breakdowns: str | None = None,
) -> list[dict[str, Any]]:
    params: dict[str, Any] = {
        "level": level,
        "fields": fields,
        "time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()}),
        "time_increment": 1,
        "limit": 200,
    }
    if breakdowns:
        params["breakdowns"] = breakdowns
    return get_all(client, f"{account}/insights", params)


def _value(row: dict[str, Any], field: str) -> int:
    actions = row.get(field, [])
    assert len(actions) <= 1
    return int(actions[0]["value"]) if actions else 0


def _is_video(ad_name: str) -> bool:
    return ad_name.startswith(("Video", "Reel"))


def test_video_fields_are_video_view_action_lists_on_video_ads_only(
    sb: Sandbox, client: httpx.Client
) -> None:
    video_rows = other_rows = 0
    for account in sb.account_ids:
        for row in _pull(client, account):
            if _is_video(row["ad_name"]):
                video_rows += 1
                for field in VIDEO_FIELDS:
                    assert row[field] == [
                        {"action_type": "video_view", "value": row[field][0]["value"]}
                    ]
                    assert row[field][0]["value"].isdigit()
            else:
                other_rows += 1
                assert not set(VIDEO_FIELDS) & set(row), row
    assert video_rows > 10 and other_rows > 10


def test_video_fields_appear_only_when_asked_for(sb: Sandbox, client: httpx.Client) -> None:
    rows = _pull(client, sb.account_ids[0], fields="ad_name,impressions,video_p50_watched_actions")
    video = [r for r in rows if _is_video(r["ad_name"])]
    assert video
    for row in video:
        assert set(VIDEO_FIELDS) & set(row) == {"video_p50_watched_actions"}


@pytest.mark.parametrize("level", ["ad", "campaign", "account"])
def test_the_watch_funnel_is_monotone_and_within_impressions(
    sb: Sandbox, client: httpx.Client, level: str
) -> None:
    checked = 0
    for account in sb.account_ids:
        for row in _pull(client, account, level=level, fields=FIELDS.replace("ad_name,", "")):
            if "video_play_actions" not in row:
                continue
            funnel = [_value(row, f) for f in COUNTS]
            assert funnel == sorted(funnel, reverse=True), funnel
            assert funnel[0] <= int(row["impressions"])
            assert funnel[-1] <= _value(row, THRUPLAY) <= funnel[0]
            assert funnel[0] > 0 and funnel[-1] >= 0
            checked += 1
    assert checked > 5


def test_video_counts_sum_across_levels_and_the_average_is_weighted_by_plays(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[1]
    ads = _pull(client, account, fields="campaign_id,impressions," + ",".join(VIDEO_FIELDS))
    campaigns = _pull(
        client, account, level="campaign", fields="campaign_id," + ",".join(VIDEO_FIELDS)
    )
    sums: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in ads:
        acc = sums[(row["date_start"], row["campaign_id"])]
        for field in (*COUNTS, THRUPLAY):
            acc[field] += _value(row, field)
        acc["watch"] += _value(row, AVG) * _value(row, "video_play_actions")  # exact per ad-day
    compared = 0
    for row in campaigns:
        acc = sums[(row["date_start"], row["campaign_id"])]
        if "video_play_actions" not in row:
            assert not acc["video_play_actions"]
            continue
        for field in (*COUNTS, THRUPLAY):
            assert _value(row, field) == acc[field], field
        plays = acc["video_play_actions"]
        assert _value(row, AVG) == (2 * acc["watch"] + plays) // (2 * plays)
        compared += 1
    assert compared > 3


@pytest.mark.parametrize("breakdowns", PLATFORM_BREAKDOWNS)
def test_video_counts_split_exactly_over_breakdowns_and_stay_monotone(
    sb: Sandbox, client: httpx.Client, breakdowns: str
) -> None:
    account = sb.account_ids[2]
    fields = "ad_id," + ",".join(VIDEO_FIELDS)
    plain = {(r["date_start"], r["ad_id"]): r for r in _pull(client, account, fields=fields)}
    summed: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in _pull(client, account, fields=fields, breakdowns=breakdowns):
        funnel = [_value(row, f) for f in COUNTS]
        assert funnel == sorted(funnel, reverse=True)
        acc = summed[(row["date_start"], row["ad_id"])]
        for field in (*COUNTS, THRUPLAY):
            acc[field] += _value(row, field)
        acc["watch"] += _value(row, AVG) * _value(row, "video_play_actions")
    assert any(_value(row, "video_play_actions") for row in plain.values())
    for key, row in plain.items():
        for field in (*COUNTS, THRUPLAY):
            assert summed[key][field] == _value(row, field), (key, field)
        assert summed[key]["watch"] == _value(row, AVG) * _value(row, "video_play_actions")


@pytest.mark.parametrize("breakdowns", PLATFORM_BREAKDOWNS)
def test_breakdown_truth_carries_each_values_video_summing_to_the_unbroken_day(
    sb: Sandbox, client: httpx.Client, breakdowns: str
) -> None:
    account = sb.account_ids[2]
    dims = breakdowns.split(",")
    truth = sb.breakdown_truth(account, SINCE, TODAY, dims)
    # What the ad-level breakdown rows served, summed per day and value (exact seconds).
    served: dict[tuple[str, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    fields = "ad_id," + ",".join(VIDEO_FIELDS)
    for row in _pull(client, account, fields=fields, breakdowns=breakdowns):
        acc = served[(row["date_start"], *(row[d] for d in dims))]
        for key, field in TRUTH_KEYS.items():
            acc[key] += _value(row, field)
        acc["watch_seconds"] += _value(row, AVG) * _value(row, "video_play_actions")
    plays = 0
    for day in truth["days"]:
        total = day["total"]["video"]
        for key in total:
            assert sum(r["video"][key] for r in day["rows"]) == total[key], (day["date"], key)
        for row in day["rows"]:
            got = served[(day["date"], *(row[d] for d in dims))]
            assert row["video"] == {key: got[key] for key in row["video"]}, day["date"]
            plays += row["video"]["plays"]
    assert plays > 0


def test_truth_carries_the_video_totals_of_the_ad_rows(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[0]
    truth = sb.truth(account, SINCE, TODAY)
    ads = _pull(client, account, fields="impressions," + ",".join(VIDEO_FIELDS))
    names = dict(
        zip(("plays", "p25", "p50", "p75", "p95", "p100"), COUNTS, strict=True),
        thruplays=THRUPLAY,
    )
    assert any(day["video"]["plays"] for day in truth["days"])
    for day in truth["days"]:
        rows = [r for r in ads if r["date_start"] == day["date"]]
        for key, field in names.items():
            assert day["video"][key] == sum(_value(r, field) for r in rows), (day["date"], key)
        assert day["video"]["watch_seconds"] == sum(
            _value(r, AVG) * _value(r, "video_play_actions") for r in rows
        )


def test_todays_video_counts_are_partial_and_final_once_the_day_is_over(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[0]
    today = sb.truth(account, TODAY, TODAY)["days"][0]["video"]["plays"]
    sb.set_today(TODAY + dt.timedelta(days=1))
    full = sb.truth(account, TODAY, TODAY)["days"][0]["video"]["plays"]
    sb.set_today(TODAY + dt.timedelta(days=30))
    later = sb.truth(account, TODAY, TODAY)["days"][0]["video"]["plays"]
    assert 0 < today < full == later
