"""Insights: strings on the wire, exact sums across levels, reach, dates, size limits."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from ads_platform.sandbox import Sandbox

from .conftest import TODAY
from .helpers import VERSION, insights, ok, sum_by

SINCE = TODAY - dt.timedelta(days=6)
WINDOWS = ["1d_click", "7d_click", "28d_click", "1d_view"]


def _assert_strings(value: Any) -> None:
    if isinstance(value, dict):
        for v in value.values():
            _assert_strings(v)
    elif isinstance(value, list):
        for v in value:
            _assert_strings(v)
    else:
        assert isinstance(value, str), value


def test_rows_are_strings_and_sane(sb: Sandbox, client: httpx.Client) -> None:
    fields = (
        "account_id,account_currency,campaign_id,campaign_name,adset_id,adset_name,ad_id,ad_name,"
        "impressions,reach,frequency,clicks,inline_link_clicks,spend,cpc,cpm,ctr,actions,action_values"
    )
    for account in sb.account_ids:
        rows = insights(client, account, SINCE, TODAY, fields=fields, windows=WINDOWS)
        assert rows
        for row in rows:
            _assert_strings(row)
            assert row["account_id"] == account.removeprefix("act_")
            assert row["date_start"] == row["date_stop"]
            impressions, clicks = int(row["impressions"]), int(row["clicks"])
            assert impressions >= int(row.get("reach", "0")) >= 0
            assert clicks >= int(row["inline_link_clicks"]) >= 0
            assert row["ad_name"] and row["campaign_name"] and row["adset_name"]
            for action in row.get("actions", []):
                value = int(action["value"])
                assert value == int(action.get("7d_click", "0")) + int(action.get("1d_view", "0"))
                assert int(action.get("1d_click", "0")) <= int(action.get("7d_click", "0")) or (
                    "7d_click" not in action
                )
        currency = rows[0]["account_currency"]
        for row in rows:
            if currency == "JPY":
                assert "." not in row["spend"]
            else:
                assert len(row["spend"].split(".")[1]) == 2
    all_types = {
        a["action_type"]
        for account in sb.account_ids
        for r in insights(
            client, account, TODAY - dt.timedelta(days=40), TODAY - dt.timedelta(days=1)
        )
        for a in r.get("actions", [])
    }
    assert {"link_click", "landing_page_view", "post_engagement", "omni_purchase"} <= all_types
    assert "offsite_conversion.fb_pixel_purchase" in all_types


def test_reach_sometimes_omitted_on_ad_rows(sb: Sandbox, client: httpx.Client) -> None:
    rows = insights(client, sb.account_ids[1], TODAY - dt.timedelta(days=30), TODAY)
    missing = [r for r in rows if "reach" not in r]
    assert 0 < len(missing) < len(rows) / 10


def test_no_row_without_delivery(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[0]
    everything = json.dumps(
        ["ACTIVE", "PAUSED", "CAMPAIGN_PAUSED", "ADSET_PAUSED", "ARCHIVED", "DELETED"]
    )
    ads = ok(
        client.get(
            f"/{VERSION}/{account}/ads", params={"effective_status": everything, "limit": 500}
        )
    )
    n_ads = len(ads["data"])
    rows = insights(
        client, account, SINCE, TODAY + dt.timedelta(days=5), fields="spend,impressions"
    )
    per_day: dict[str, int] = {}
    for row in rows:
        per_day[row["date_start"]] = per_day.get(row["date_start"], 0) + 1
        assert int(row["impressions"]) > 0 or Decimal(row["spend"]) > 0
    assert max(per_day) == TODAY.isoformat()  # nothing after the account's today
    assert all(n < n_ads for n in per_day.values())  # some ads do not deliver
    assert len({(r["ad_id"], r["date_start"]) for r in rows}) == len(rows)
    future = insights(client, account, TODAY + dt.timedelta(days=1), TODAY + dt.timedelta(days=3))
    assert future == []


def test_deleted_ad_keeps_past_spend(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[0]
    deleted = ok(
        client.get(
            f"/{VERSION}/{account}/ads",
            params={"effective_status": '["DELETED"]', "fields": "id,updated_time", "limit": 500},
        )
    )["data"]
    ad = deleted[-1]
    gone = dt.date.fromisoformat(ad["updated_time"][:10])
    rows = insights(
        client,
        account,
        gone - dt.timedelta(days=20),
        gone + dt.timedelta(days=20),
        fields="ad_id,spend",
    )
    days = sorted(r["date_start"] for r in rows if r["ad_id"] == ad["id"])
    assert days
    assert max(days) < (gone + dt.timedelta(days=1)).isoformat()


def test_levels_are_exact_sums_of_ad_rows(sb: Sandbox, client: httpx.Client) -> None:
    for account in sb.account_ids:
        ad_rows = insights(client, account, SINCE, TODAY, windows=WINDOWS)
        for level, key in (
            ("account", "account_id"),
            ("campaign", "campaign_id"),
            ("adset", "adset_id"),
        ):
            level_rows = insights(client, account, SINCE, TODAY, level=level, windows=WINDOWS)
            assert level_rows
            for day in {r["date_start"] for r in ad_rows}:
                expected = sum_by([r for r in ad_rows if r["date_start"] == day], key)
                got = sum_by([r for r in level_rows if r["date_start"] == day], key)
                assert got == expected, (account, level, day)
        whole = insights(client, account, SINCE, TODAY, level="account", daily=False)
        assert len(whole) == 1
        assert (whole[0]["date_start"], whole[0]["date_stop"]) == (
            SINCE.isoformat(),
            TODAY.isoformat(),
        )
        total = sum_by([{**r, "k": ""} for r in ad_rows], "k")[""]
        assert sum_by([{**whole[0], "k": ""}], "k")[""] == total


def test_reach_is_deduplicated_per_level_and_range(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[1]
    ad_rows = insights(
        client, account, SINCE, TODAY - dt.timedelta(days=1), fields="reach,impressions"
    )
    daily = insights(
        client,
        account,
        SINCE,
        TODAY - dt.timedelta(days=1),
        level="account",
        fields="reach,impressions,frequency",
    )
    compared = 0
    for row in daily:
        day_ads = [r for r in ad_rows if r["date_start"] == row["date_start"]]
        if any("reach" not in r for r in day_ads):
            continue  # an ad row without reach: its day cannot be compared
        ad_reach = [int(r["reach"]) for r in day_ads]
        compared += 1
        assert max(ad_reach) <= int(row["reach"]) < sum(ad_reach)
        freq = Decimal(row["frequency"])
        assert abs(freq - Decimal(row["impressions"]) / Decimal(row["reach"])) < Decimal("0.00001")
    assert compared >= 3
    for level in ("account", "campaign", "adset"):
        ranged = insights(
            client,
            account,
            SINCE,
            TODAY - dt.timedelta(days=1),
            level=level,
            daily=False,
            fields="reach",
        )
        per_day = insights(
            client, account, SINCE, TODAY - dt.timedelta(days=1), level=level, fields="reach"
        )
        key = {"campaign": "campaign_id", "adset": "adset_id"}.get(level, "account_id")
        for row in ranged:
            reaches = [int(r["reach"]) for r in per_day if r[key] == row[key]]
            if len(reaches) > 1:
                assert max(reaches) <= int(row["reach"]) < sum(reaches)


def test_an_ad_sets_month_reach_is_served_and_told_between_its_largest_and_summed_days(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[1]
    month, last = dt.date(2026, 2, 1), dt.date(2026, 2, 28)  # a whole month before TODAY
    served = insights(
        client, account, month, last, level="adset", daily=False, fields="reach,impressions"
    )
    per_day = insights(client, account, month, last, level="adset", fields="reach")
    truth = sb.reach_truth(account, month, last, level="adset")
    assert len(served) >= 3 and len({r["campaign_id"] for r in served}) >= 2
    assert [(r["campaign_id"], r["adset_id"], int(r["reach"])) for r in served] == [
        (t["campaign_id"], t["adset_id"], t["reach"]) for t in truth["rows"]
    ]
    several = 0
    for row in truth["rows"]:
        days = [int(r["reach"]) for r in per_day if r["adset_id"] == row["adset_id"]]
        assert row["daily_reach"] == days  # the truth's days are the days served
        if len(days) > 1:
            several += 1
            assert max(days) <= row["reach"] < sum(days)  # deduplicated, never summed
    assert several >= 3


def test_dates_are_account_local_and_today_is_partial(sb: Sandbox, client: httpx.Client) -> None:
    instant = dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC)
    for spec in sb.accounts:
        truth = sb.truth(spec["id"], TODAY, TODAY + dt.timedelta(days=2))
        local_today = instant.astimezone(ZoneInfo(spec["timezone_name"])).date()
        assert truth["account_today"] == local_today.isoformat()
        assert [d["date"] for d in truth["days"]] == [local_today.isoformat()]
    account = sb.account_ids[2]  # Asia/Tokyo: 21:00 local at the sandbox instant
    partial = insights(client, account, TODAY, TODAY, level="account", fields="spend,impressions")
    sb.set_today(TODAY + dt.timedelta(days=1))
    full = insights(client, account, TODAY, TODAY, level="account", fields="spend,impressions")
    assert int(partial[0]["impressions"]) < int(full[0]["impressions"])
    assert int(partial[0]["impressions"]) >= int(full[0]["impressions"]) * 0.85


def test_too_large_sync_request_is_refused(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[0]
    long_range: dict[str, str | int] = {
        "level": "ad",
        "time_increment": 1,
        "time_range": json.dumps(
            {"since": (TODAY - dt.timedelta(days=93)).isoformat(), "until": TODAY.isoformat()}
        ),
        "fields": "spend",
    }
    resp = client.get(f"/{VERSION}/{account}/insights", params=long_range)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert (error["code"], error["error_subcode"]) == (100, 1504018)
    assert "reduce the amount of data" in error["message"]
    ok_range = {**long_range, "level": "campaign"}
    assert client.get(f"/{VERSION}/{account}/insights", params=ok_range).status_code == 200
    created = ok(client.post(f"/{VERSION}/{account}/insights", params=long_range))
    assert created["report_run_id"].isdigit()


def test_bad_insights_params(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[0]
    for params in (
        {"level": "country"},
        {"time_range": '{"since": "2026-03-10"}'},
        {"time_range": '{"since": "2026-03-10", "until": "2026-03-01"}'},
        {"time_increment": "weekly"},
        {"time_range": '{"since": "2020-01-01", "until": "2020-01-02"}'},
    ):
        resp = client.get(f"/{VERSION}/{account}/insights", params=params)
        assert resp.status_code == 400, params
        assert resp.json()["error"]["code"] in (100, 3018)
    default = ok(client.get(f"/{VERSION}/{account}/insights"))  # last_30d, account level
    assert len(default["data"]) == 1
    assert default["data"][0]["date_stop"] == (TODAY - dt.timedelta(days=1)).isoformat()


def test_insights_filtering_on_ad_status(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[0]
    deleted = ok(
        client.get(
            f"/{VERSION}/{account}/ads",
            params={"effective_status": '["DELETED"]', "fields": "id,updated_time", "limit": 500},
        )
    )["data"]
    gone = min(dt.date.fromisoformat(a["updated_time"][:10]) for a in deleted)
    params: dict[str, str | int] = {
        "level": "ad",
        "time_range": json.dumps(
            {"since": (gone - dt.timedelta(days=60)).isoformat(), "until": gone.isoformat()}
        ),
        "fields": "ad_id,spend",
        "limit": 500,
        "filtering": json.dumps(
            [{"field": "ad.effective_status", "operator": "IN", "value": ["DELETED"]}]
        ),
    }
    rows = ok(client.get(f"/{VERSION}/{account}/insights", params=params))["data"]
    assert rows
    assert {r["ad_id"] for r in rows} <= {a["id"] for a in deleted}
    unsupported = {
        **params,
        "filtering": '[{"field": "ad.spend", "operator": "GREATER_THAN", "value": 1}]',
    }
    assert client.get(f"/{VERSION}/{account}/insights", params=unsupported).status_code == 400
