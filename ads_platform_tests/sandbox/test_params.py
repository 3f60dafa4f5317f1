"""Every parameter encoding Meta accepts means the same thing; what Meta refuses is refused.

Meta's SDK (so Airbyte and tap-facebook) JSON-encodes every list and map it sends:
``fields=["ad_id","spend"]``, ``time_ranges=[{"since":..,"until":..}]``. Hand-written
URLs and our own client send ``fields=ad_id,spend``. Both must give the same rows,
with metrics, on every route (query string, form body, JSON body, batch item,
async report run).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest

from ads_platform.sandbox import Sandbox
from ads_platform.sandbox.insights import _preset_range
from ads_platform.sandbox.vocabulary import DATE_PRESETS

from .conftest import TODAY
from .helpers import VERSION, get_all, ok, poll_until_done

SINCE, UNTIL = TODAY - dt.timedelta(days=4), TODAY - dt.timedelta(days=1)
FIELDS = ["account_id", "campaign_id", "ad_id", "spend", "impressions", "clicks", "actions"]
RANGE = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}
BASE: dict[str, Any] = {
    "level": "ad",
    "time_increment": "1",
    "time_range": json.dumps(RANGE),
    "limit": 500,
}


def _rows(client: httpx.Client, account: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return get_all(client, f"{account}/insights", params)


def _error(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == 400, resp.text
    error: dict[str, Any] = resp.json()["error"]
    return error


def _days(since: dt.date, until: dt.date) -> list[dt.date]:
    return [since + dt.timedelta(days=i) for i in range((until - since).days + 1)]


def test_fields_as_a_comma_list_or_a_json_array_give_identical_rows_with_metrics(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[0]
    comma = _rows(client, account, {**BASE, "fields": ",".join(FIELDS)})
    as_json = _rows(client, account, {**BASE, "fields": json.dumps(FIELDS)})
    single_quoted = _rows(client, account, {**BASE, "fields": str(FIELDS)})  # Python repr
    assert comma
    assert as_json == comma
    assert single_quoted == comma
    for row in as_json:
        assert {"spend", "impressions", "clicks", "ad_id", "date_start"} <= set(row)
    assert sum(float(r["spend"]) for r in as_json) > 0


def test_every_route_reads_json_lists_the_same_way(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[1]
    windows = ["7d_click", "1d_view"]
    expected = _rows(
        client,
        account,
        {**BASE, "fields": ",".join(FIELDS), "action_attribution_windows": ",".join(windows)},
    )
    sdk_style = {
        **BASE,
        "fields": json.dumps(FIELDS),
        "action_attribution_windows": json.dumps(windows),
        "action_breakdowns": json.dumps(["action_type", "action_target_id", "action_destination"]),
        "breakdowns": "[]",
    }
    assert _rows(client, account, sdk_style) == expected

    def report_rows(created: httpx.Response) -> list[dict[str, Any]]:
        run_id = ok(created)["report_run_id"]
        poll_until_done(client, run_id)
        return get_all(client, f"{run_id}/insights", {"limit": 500})

    form = client.post(f"/{VERSION}/{account}/insights", data=sdk_style)
    assert report_rows(form) == expected
    body = {
        **BASE,
        "time_range": RANGE,
        "fields": FIELDS,
        "action_attribution_windows": windows,
        "breakdowns": [],
    }
    assert report_rows(client.post(f"/{VERSION}/{account}/insights", json=body)) == expected

    batch = [
        {
            "method": "GET",
            "relative_url": f"{account}/insights?"
            + str(httpx.QueryParams({k: str(v) for k, v in sdk_style.items()})),
        },
        {"method": "POST", "relative_url": f"{account}/insights", "body": body},
    ]
    results = ok(client.post(f"/{VERSION}/", data={"batch": json.dumps(batch)}))
    assert [r["code"] for r in results] == [200, 200]
    assert json.loads(results[0]["body"])["data"] == expected
    run_id = json.loads(results[1]["body"])["report_run_id"]
    poll_until_done(client, run_id)
    assert get_all(client, f"{run_id}/insights", {"limit": 500}) == expected


def test_time_range_time_ranges_and_since_until_select_the_same_days(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[2]
    fields = {"fields": json.dumps(FIELDS)}
    daily = _rows(client, account, {**BASE, **fields})
    assert daily
    top_level = {k: v for k, v in BASE.items() if k != "time_range"}
    by_since_until = _rows(client, account, {**top_level, **fields, "since": SINCE, "until": UNTIL})
    assert by_since_until == daily
    # tap-facebook: one single-day range per job, with time_increment=1.
    one_range_per_day = [
        row
        for day in _days(SINCE, UNTIL)
        for row in _rows(
            client,
            account,
            {
                **top_level,
                **fields,
                "time_ranges": json.dumps([{"since": str(day), "until": str(day)}]),
            },
        )
    ]
    assert one_range_per_day == daily
    # Several ranges in one request: rows come range by range, each carrying its range.
    ranges = [{"since": str(day), "until": str(day)} for day in _days(SINCE, UNTIL)]
    assert _rows(client, account, {**top_level, **fields, "time_ranges": json.dumps(ranges)}) == (
        daily
    )
    whole = _rows(
        client,
        account,
        {"level": "account", "limit": 500, **fields, "time_range": json.dumps(RANGE)},
    )
    two = [RANGE, {"since": str(UNTIL), "until": str(UNTIL)}]
    per_range = _rows(
        client,
        account,
        {**top_level, "level": "account", **fields, "time_ranges": json.dumps(two)},
    )
    assert [(r["date_start"], r["date_stop"]) for r in per_range] == [
        (str(SINCE), str(UNTIL)),
        (str(UNTIL), str(UNTIL)),
    ]  # time_increment=1 is ignored with time_ranges: one row period per range
    last_day = _rows(
        client,
        account,
        {
            **top_level,
            "level": "account",
            **fields,
            "time_range": json.dumps({"since": str(UNTIL), "until": str(UNTIL)}),
        },
    )
    assert per_range == [*whole, *last_day]


def test_an_unknown_insight_field_is_refused_with_code_100_naming_it(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[0]
    for encoded in ("spend,spendd,impressions", json.dumps(["spend", "spendd", "impressions"])):
        error = _error(
            client.get(f"/{VERSION}/{account}/insights", params={**BASE, "fields": encoded})
        )
        assert (error["code"], error["type"]) == (100, "OAuthException")
        assert error["message"].startswith("(#100) spendd is not valid for fields param.")
        created = client.post(f"/{VERSION}/{account}/insights", data={**BASE, "fields": encoded})
        assert _error(created)["message"] == error["message"]
    several = _error(
        client.get(
            f"/{VERSION}/{account}/insights",
            params={**BASE, "fields": json.dumps(["id", "age", "spend"])},
        )
    )
    assert several["message"].startswith("(#100) id, age are not valid for fields param.")
    # Valid for Meta but not modelled by the sandbox: accepted, the field is just absent.
    rows = _rows(client, account, {**BASE, "fields": "spend,video_30_sec_watched_actions"})
    assert rows and all("spend" in r and "video_30_sec_watched_actions" not in r for r in rows)


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"time_range": '{"since": "2026-03-01", "until": '}, "time_range"),
        ({"fields": '["spend", "impressions"'}, "fields"),
        ({"time_ranges": '[{"since": "2026-03-01"}]'}, "time_ranges[0]"),
        ({"time_ranges": "[]"}, "time_ranges"),
        ({"time_ranges": '{"since": "2026-03-01", "until": "2026-03-02"}'}, "time_ranges"),
        ({"time_range": '{"since": "2026/03/01", "until": "2026-03-02"}'}, "time_range.since"),
        ({"time_range": '{"since": "2026-03-09", "until": "2026-03-02"}'}, "since"),
        ({"since": "2026-03-01"}, "until"),
        ({"filtering": '[{"field": "ad.id", "operator": "IN"'}, "filtering"),
        ({"action_attribution_windows": '["7d_click", "2d_click"]'}, "action_attribution_windows"),
        ({"breakdowns": '["agee"]'}, "breakdowns[0]"),
        ({"breakdowns": '["impression_device"]'}, "breakdowns (impression_device)"),
        ({"breakdowns": "age,country"}, "breakdown columns (action_type, age, country)"),
        ({"action_breakdowns": "action_type,action_colour"}, "action_breakdowns[1]"),
        ({"date_preset": "last_31d"}, "date_preset"),
        ({"level": "country"}, "level"),
        ({"use_unified_attribution_setting": "maybe"}, "use_unified_attribution_setting"),
    ],
)
def test_malformed_or_unknown_params_are_refused_naming_them_never_ignored(
    sb: Sandbox, client: httpx.Client, params: dict[str, str], named: str
) -> None:
    account = sb.account_ids[0]
    base = {"level": "ad", "fields": "spend"}
    for resp in (
        client.get(f"/{VERSION}/{account}/insights", params={**base, **params}),
        client.post(f"/{VERSION}/{account}/insights", data={**base, **params}),
    ):
        error = _error(resp)
        assert error["code"] == 100
        assert named in error["message"]


def test_ranges_beyond_retention_keep_the_retention_error(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[0]
    old = {"since": "2022-01-01", "until": "2022-01-02"}
    for params in (
        {"time_range": json.dumps(old)},
        {"time_ranges": json.dumps([RANGE, old])},
        {"since": old["since"], "until": old["until"]},
    ):
        error = _error(client.get(f"/{VERSION}/{account}/insights", params=params))
        assert error["code"] == 3018


def test_effective_status_as_a_comma_list_or_a_json_array(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[0]
    base = {"fields": "id,effective_status", "limit": 500}
    comma = get_all(client, f"{account}/ads", {**base, "effective_status": "ACTIVE,DELETED"})
    as_json = get_all(
        client, f"{account}/ads", {**base, "effective_status": '["ACTIVE","DELETED"]'}
    )
    assert comma == as_json
    assert {a["effective_status"] for a in comma} == {"ACTIVE", "DELETED"}
    fields_json = get_all(client, f"{account}/ads", {**base, "fields": '["id","effective_status"]'})
    fields_comma = get_all(client, f"{account}/ads", base)
    assert fields_json == fields_comma
    assert all(set(a) == {"id", "effective_status"} for a in fields_json)
    error = _error(
        client.get(f"/{VERSION}/{account}/ads", params={"effective_status": '["ACTIVE","LIVE"]'})
    )
    assert error["code"] == 100
    assert "effective_status[1]" in error["message"]


def test_a_malformed_json_body_is_refused(sb: Sandbox, client: httpx.Client) -> None:
    resp = client.post(
        f"/{VERSION}/{sb.account_ids[0]}/insights",
        content=b'{"level": "ad", "fields": ["spend"',
        headers={"Content-Type": "application/json"},
    )
    assert _error(resp)["code"] == 100


@pytest.mark.parametrize("preset", sorted(DATE_PRESETS))
def test_every_date_preset_meta_lists_is_a_range_ending_by_today(preset: str) -> None:
    for today in (dt.date(2026, 3, 15), dt.date(2026, 1, 1), dt.date(2025, 12, 31)):
        since, until = _preset_range(preset, today)
        assert since <= until <= today, (preset, today)
        if preset.startswith("last_") and preset.endswith("d"):
            assert (until - since).days + 1 == int(preset[5:-1])
            assert until == today - dt.timedelta(days=1)
        if "_week_" in preset:
            first = 0 if "_mon_" in preset else 6  # Monday / Sunday
            assert since.weekday() == first
            if preset.startswith("last_week"):
                assert (until - since).days == 6 and until < today
        if preset.endswith("quarter"):
            assert since.day == 1 and since.month in (1, 4, 7, 10)
        if preset == "last_year":
            assert (since, until) == (
                dt.date(today.year - 1, 1, 1),
                dt.date(today.year - 1, 12, 31),
            )
