"""Breakdowns: Meta's values on the wire, exact splits, reach deduplicated per value,
the 13-month rule for unique fields, refusals, async runs and the ground truth."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ads_platform.sandbox import Sandbox
from ads_platform.sandbox.breakdowns import unique_cutoff
from ads_platform.sandbox.clock import ClockView
from ads_platform.sandbox.insights import parse_query
from ads_platform.sandbox.reports import job_delay_seconds
from ads_platform.sandbox.world import AccountSpec, World

from .conftest import TODAY
from .helpers import VERSION, action_map, get_all, ok, poll_until_done

SINCE = TODAY - dt.timedelta(days=6)
UNTIL = TODAY - dt.timedelta(days=1)
FIELDS = "spend,impressions,reach,frequency,clicks,inline_link_clicks,actions,action_values"
ACCEPTED = (
    ("age",),
    ("gender",),
    ("age", "gender"),
    ("publisher_platform",),
    ("publisher_platform", "platform_position"),
    ("country",),
    ("region",),
)
AGES = {"18-24", "25-34", "35-44", "45-54", "55-64", "65+", "Unknown"}
GENDERS = {"female", "male", "unknown"}
POSITIONS = {
    "facebook": {
        "feed",
        "facebook_stories",
        "facebook_reels",
        "marketplace",
        "video_feeds",
        "right_hand_column",
        "instream_video",
        "search",
    },
    "instagram": {"feed", "instagram_stories", "instagram_reels", "instagram_explore"},
    "audience_network": {"an_classic", "rewarded_video"},
    "messenger": {"messenger_inbox", "messenger_stories"},
}
ID_OF = {"ad": "ad_id", "adset": "adset_id", "campaign": "campaign_id", "account": "account_id"}


def _pull(
    client: httpx.Client,
    account: str,
    breakdowns: tuple[str, ...] | None,
    *,
    level: str = "ad",
    since: dt.date = SINCE,
    until: dt.date = UNTIL,
    daily: bool = True,
    fields: str = FIELDS,
) -> list[dict[str, Any]]:
    params: dict[str, Any] = {
        "level": level,
        "fields": fields,
        "time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()}),
        "limit": 200,
    }
    if daily:
        params["time_increment"] = 1
    if breakdowns is not None:
        params["breakdowns"] = json.dumps(list(breakdowns))
    return get_all(client, f"{account}/insights", params)


def _additive(rows: list[dict[str, Any]], key: str) -> dict[tuple[str, str], dict[str, Decimal]]:
    """Spend, counts and every action count/value summed per (date, level id)."""
    out: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        acc = out[(row["date_start"], row[key])]
        for name in ("spend", "impressions", "clicks", "inline_link_clicks"):
            acc[name] += Decimal(row.get(name, "0"))
        for action_type, value in action_map(row).items():
            acc["a:" + action_type] += value
        for action_type, value in action_map(row, "action_values").items():
            acc["v:" + action_type] += value
    return {k: {n: v for n, v in acc.items() if v} for k, acc in out.items()}


def test_breakdown_rows_carry_metas_values_as_strings_and_only_the_keys_asked_for(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[0]
    home = {"age", "gender", "publisher_platform", "platform_position", "country", "region"}
    for breakdowns in ACCEPTED:
        rows = _pull(client, account, breakdowns)
        assert rows
        for row in rows:
            assert all(
                isinstance(v, str) for k, v in row.items() if k not in ("actions", "action_values")
            )
            assert set(breakdowns) <= set(row)
            assert not (home - set(breakdowns)) & set(row)
            impressions, reach = int(row["impressions"]), int(row.get("reach", "1"))
            assert impressions >= reach and (reach >= 1 or impressions == 0)
            assert int(row["clicks"]) >= int(row["inline_link_clicks"])
            if "age" in row:
                assert row["age"] in AGES
            if "gender" in row:
                assert row["gender"] in GENDERS
            if "publisher_platform" in row:
                assert row["publisher_platform"] in POSITIONS
            if "platform_position" in row:
                assert row["platform_position"] in POSITIONS[row["publisher_platform"]]
            if "country" in row:
                assert len(row["country"]) == 2 and row["country"].isupper()
        values = {tuple(r[d] for d in breakdowns) for r in rows}
        assert len(values) > 1, breakdowns
    countries = {r["country"] for r in _pull(client, account, ("country",))}
    assert "US" in countries and len(countries) > 1  # New York account: home and neighbours
    regions = {r["region"] for r in _pull(client, account, ("region",))}
    assert {"California", "Texas"} <= regions


@pytest.mark.parametrize("breakdowns", ACCEPTED, ids=",".join)
@pytest.mark.parametrize("level", ["ad", "adset", "campaign", "account"])
def test_breakdown_rows_sum_exactly_to_the_unbroken_rows_at_every_level(
    sb: Sandbox, client: httpx.Client, breakdowns: tuple[str, ...], level: str
) -> None:
    account = sb.account_ids[1]
    plain = _pull(client, account, None, level=level, since=TODAY - dt.timedelta(days=3))
    broken = _pull(client, account, breakdowns, level=level, since=TODAY - dt.timedelta(days=3))
    assert len(broken) > len(plain) > 0
    assert _additive(broken, ID_OF[level]) == _additive(plain, ID_OF[level])


def test_today_and_maturing_days_split_exactly_too(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[2]
    since = TODAY - dt.timedelta(days=2)
    for breakdowns in (("age", "gender"), ("publisher_platform",)):
        plain = _pull(client, account, None, level="campaign", since=since, until=TODAY)
        broken = _pull(client, account, breakdowns, level="campaign", since=since, until=TODAY)
        assert _additive(broken, "campaign_id") == _additive(plain, "campaign_id")
    assert any(r["date_start"] == TODAY.isoformat() for r in plain) or any(
        r["date_start"] == (TODAY - dt.timedelta(days=1)).isoformat() for r in plain
    )


def test_multi_day_breakdown_rows_sum_like_unbroken_rows(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[0]
    plain = _pull(client, account, None, level="adset", daily=False)
    broken = _pull(client, account, ("country",), level="adset", daily=False)
    assert _additive(broken, "adset_id") == _additive(plain, "adset_id")


def _reach(rows: list[dict[str, Any]], *keys: str) -> dict[tuple[str, ...], int]:
    return {tuple(r[k] for k in keys): int(r["reach"]) for r in rows if "reach" in r}


@pytest.mark.parametrize(
    "breakdowns", [("age",), ("publisher_platform",), ("region",)], ids=",".join
)
def test_reach_per_value_is_deduplicated_across_ads_never_summed(
    sb: Sandbox, client: httpx.Client, breakdowns: tuple[str, ...]
) -> None:
    account = sb.account_ids[1]
    dim = breakdowns[0]
    ad_rows = _pull(client, account, breakdowns, level="ad")
    account_rows = _pull(client, account, breakdowns, level="account")
    per_ad: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row in ad_rows:
        if "reach" in row:  # a few ad rows omit reach, as on Graph
            per_ad[(row["date_start"], row[dim])].append(int(row["reach"]))
    account_reach = _reach(account_rows, "date_start", dim)
    strictly_less = 0
    for key, reach in account_reach.items():
        ads = per_ad[key]
        if not ads:
            continue
        assert reach >= max(ads)
        if len(ads) > 1:
            strictly_less += reach < sum(ads)
    assert strictly_less > len(account_reach) // 2


@pytest.mark.parametrize(
    "breakdowns",
    [("age", "gender"), ("publisher_platform",), ("country",), ("region",)],
    ids=",".join,
)
def test_an_ad_days_reach_is_at_most_the_sum_over_breakdown_values(
    sb: Sandbox, client: httpx.Client, breakdowns: tuple[str, ...]
) -> None:
    account = sb.account_ids[2]
    plain = {
        (r["date_start"], r["ad_id"]): int(r["reach"])
        for r in _pull(client, account, None)
        if "reach" in r
    }
    summed: dict[tuple[str, str], int] = defaultdict(int)
    incomplete: set[tuple[str, str]] = set()  # a few ad rows omit reach, as on Graph
    for row in _pull(client, account, breakdowns):
        key = (row["date_start"], row["ad_id"])
        if "reach" in row:
            summed[key] += int(row["reach"])
        else:
            incomplete.add(key)
    assert plain
    overlapping = 0
    for key, reach in plain.items():
        if key in incomplete:
            continue
        assert reach <= summed[key]
        overlapping += reach < summed[key]
    if breakdowns == ("publisher_platform",):
        assert overlapping > 0  # people see an ad on several platforms


def test_multi_day_reach_per_value_is_not_the_sum_of_daily_reach(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[0]
    daily = _pull(client, account, ("gender",), level="account")
    whole = _reach(_pull(client, account, ("gender",), level="account", daily=False), "gender")
    for (gender,), reach in whole.items():
        days = [int(r["reach"]) for r in daily if r["gender"] == gender]
        assert max(days) <= reach < sum(days)


def test_breakdown_queries_starting_over_13_months_back_omit_reach_and_frequency(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[0]
    cutoff = unique_cutoff(TODAY)  # every sandbox account's today is TODAY here (12:00 UTC)
    assert cutoff == dt.date(2025, 2, 15)
    old = _pull(client, account, ("age",), level="account", since=cutoff - dt.timedelta(days=1),
                until=cutoff + dt.timedelta(days=2))  # fmt: skip
    recent = _pull(client, account, ("age",), level="account", since=cutoff,
                   until=cutoff + dt.timedelta(days=2))  # fmt: skip
    plain_old = _pull(client, account, None, level="account", since=cutoff - dt.timedelta(days=1),
                      until=cutoff + dt.timedelta(days=2))  # fmt: skip
    assert old and recent and plain_old
    assert all("reach" not in r and "frequency" not in r for r in old)
    assert all("impressions" in r and "spend" in r for r in old)
    assert all("reach" in r and "frequency" in r for r in recent)
    assert all("reach" in r for r in plain_old)  # the rule is for breakdown queries only


@pytest.mark.parametrize(
    ("breakdowns", "columns"),
    [
        ("age,country", "(action_type, age, country)"),
        ("platform_position", "(action_type, platform_position)"),
        ('["gender","publisher_platform"]', "(action_type, gender, publisher_platform)"),
        ("country,region", "(action_type, country, region)"),
    ],
)
def test_combinations_meta_refuses_answer_code_100_naming_the_columns(
    sb: Sandbox, client: httpx.Client, breakdowns: str, columns: str
) -> None:
    account = sb.account_ids[0]
    params = {"level": "ad", "fields": "spend", "breakdowns": breakdowns}
    for resp in (
        client.get(f"/{VERSION}/{account}/insights", params=params),
        client.post(f"/{VERSION}/{account}/insights", data=params),
    ):
        assert resp.status_code == 400
        error = resp.json()["error"]
        assert error["code"] == 100
        assert error["type"] == "OAuthException"
        assert error["fbtrace_id"]
        assert error["message"] == (
            f"(#100) Current combination of data breakdown columns {columns} is invalid "
        )


def test_async_report_runs_accept_breakdowns_and_answer_the_sync_rows(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[1]
    params = {
        "level": "ad",
        "fields": FIELDS,
        "time_range": json.dumps({"since": SINCE.isoformat(), "until": UNTIL.isoformat()}),
        "time_increment": "1",
        "breakdowns": "publisher_platform,platform_position",
    }
    run_id = ok(client.post(f"/{VERSION}/{account}/insights", data=params))["report_run_id"]
    assert poll_until_done(client, run_id)[-1]["async_status"] == "Job Completed"
    rows = get_all(client, f"{run_id}/insights", {"limit": 50})
    assert rows == _pull(client, account, ("publisher_platform", "platform_position"))
    refused = client.post(
        f"/{VERSION}/{account}/insights", data={**params, "breakdowns": "age,region"}
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == 100


def test_batch_items_take_breakdowns_like_direct_requests(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[2]
    query = (
        f"{account}/insights?level=account&time_increment=1&breakdowns=gender&fields=spend"
        f"&time_range={json.dumps({'since': SINCE.isoformat(), 'until': UNTIL.isoformat()})}"
    )
    results = ok(
        client.post(
            f"/{VERSION}/", data={"batch": json.dumps([{"method": "GET", "relative_url": query}])}
        )
    )
    body = json.loads(results[0]["body"])
    direct = _pull(client, account, ("gender",), level="account", fields="spend")
    assert body["data"] == direct[: len(body["data"])]


@pytest.mark.parametrize("breakdowns", ACCEPTED, ids=",".join)
def test_breakdown_truth_matches_the_api_and_its_totals(
    sb: Sandbox, client: httpx.Client, breakdowns: tuple[str, ...]
) -> None:
    account = sb.account_ids[0]
    truth = sb.breakdown_truth(account, SINCE, UNTIL, breakdowns)
    plain_truth = sb.truth(account, SINCE, UNTIL)
    api = _pull(client, account, breakdowns, level="account")
    assert truth["breakdowns"] == list(breakdowns)
    assert truth["unique_fields_since"] == unique_cutoff(TODAY).isoformat()
    by_key = {(r["date_start"], *(r[d] for d in breakdowns)): r for r in api}
    n = 0
    for day, plain_day in zip(truth["days"], plain_truth["days"], strict=True):
        total = {k: v for k, v in day["total"].items()}
        assert total == {k: v for k, v in plain_day.items() if k != "date"}
        assert sum(r["spend_minor"] for r in day["rows"]) == total["spend_minor"]
        assert sum(r["impressions"] for r in day["rows"]) == total["impressions"]
        for row in day["rows"]:
            served = by_key[(day["date"], *(row[d] for d in breakdowns))]
            assert Decimal(served["spend"]) == Decimal(str(row["spend"]))
            assert int(served["impressions"]) == row["impressions"]
            assert int(served["clicks"]) == row["clicks"]
            assert int(served["reach"]) == row["reach"]
            assert {k: int(v) for k, v in action_map(served).items()} == row["conversions"]
            n += 1
    assert n == len(api)


def test_same_seed_gives_the_same_breakdown_rows(client: httpx.Client, sb: Sandbox) -> None:
    with (
        Sandbox(seed=7, accounts=3, today=TODAY, async_delay_scale=0) as other,
        httpx.Client(
            base_url=other.base_url, headers={"Authorization": "Bearer t"}, trust_env=False
        ) as c2,
    ):
        account = sb.account_ids[2]
        assert _pull(c2, account, ("age", "gender")) == _pull(client, account, ("age", "gender"))


def test_drift_option_makes_breakdowns_differ_slightly_and_the_truth_says_so() -> None:
    with (
        Sandbox(
            seed=7, accounts=2, today=TODAY, async_delay_scale=0, breakdown_drift_per_mille=20
        ) as sb,
        httpx.Client(
            base_url=sb.base_url, headers={"Authorization": "Bearer t"}, trust_env=False
        ) as client,
    ):
        account = sb.account_ids[0]
        truth = sb.breakdown_truth(account, SINCE, UNTIL, ["country"])
        assert truth["drift_per_mille"] == 20
        differing = 0
        for day in truth["days"]:
            total = day["total"]["impressions"]
            summed = sum(r["impressions"] for r in day["rows"])
            assert abs(summed - total) <= total * 0.02 + 1
            differing += summed != total
        assert differing > 0
        api = _pull(client, account, ("country",), level="account")
        assert sum(int(r["impressions"]) for r in api) == sum(
            r["impressions"] for d in truth["days"] for r in d["rows"]
        )
        for row in _pull(client, account, ("age", "gender")):
            assert int(row["impressions"]) >= int(row.get("reach", "0"))
            assert int(row["clicks"]) >= int(row["inline_link_clicks"])
        # The CLI carries the option: a child process serves the same drifted world.
        with Sandbox(
            seed=7,
            accounts=2,
            today=TODAY,
            subprocess=True,
            async_delay_scale=0,
            breakdown_drift_per_mille=20,
        ) as child:
            assert child.breakdown_truth(account, SINCE, UNTIL, ["country"]) == truth
            assert child.creative_truth(account) == sb.creative_truth(account)


def test_breakdown_truth_refuses_what_the_api_refuses(sb: Sandbox) -> None:
    with pytest.raises(Exception, match="breakdown columns"):
        sb.breakdown_truth(sb.account_ids[0], SINCE, UNTIL, ["age", "country"])


def test_breakdowns_count_toward_the_sync_size_rule_and_async_takes_them(
    sb: Sandbox, client: httpx.Client
) -> None:
    """Days x ads x breakdown values above 50,000 is too much for a sync request."""
    info = max(sb.accounts, key=lambda a: int(a["ads"]))
    account = info["id"]
    days = 90
    assert days * info["ads"] <= 50_000 < days * info["ads"] * 21  # 7 ages x 3 genders
    params = {
        "level": "ad",
        "fields": "spend",
        "time_range": json.dumps(
            {"since": (UNTIL - dt.timedelta(days=days - 1)).isoformat(), "until": UNTIL.isoformat()}
        ),
        "time_increment": "1",
        "limit": "5",
    }
    assert client.get(f"/{VERSION}/{account}/insights", params=params).status_code == 200
    assert (
        client.get(
            f"/{VERSION}/{account}/insights", params={**params, "breakdowns": "gender"}
        ).status_code
        == 200
    )  # 3 values: still under the limit
    refused = client.get(
        f"/{VERSION}/{account}/insights", params={**params, "breakdowns": "age,gender"}
    )
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["code"], error["error_subcode"]) == (100, 1504018)
    created = client.post(
        f"/{VERSION}/{account}/insights", data={**params, "breakdowns": "age,gender"}
    )
    assert created.status_code == 200 and created.json()["report_run_id"].isdigit()


def _specs(sb: Sandbox) -> tuple[AccountSpec, ...]:
    return World(seed=7, accounts=len(sb.account_ids), ads_per_account=None).accounts


def test_async_runs_with_breakdowns_take_longer_than_without(sb: Sandbox) -> None:
    spec = next(s for s in _specs(sb) if s.id == sb.account_ids[0])
    base = {
        "level": "ad",
        "time_range": json.dumps({"since": SINCE.isoformat(), "until": UNTIL.isoformat()}),
    }
    plain = parse_query(base, spec, ClockView(TODAY))
    broken = parse_query({**base, "breakdowns": "country"}, spec, ClockView(TODAY))
    assert job_delay_seconds(7, broken, 1.0) > job_delay_seconds(7, plain, 1.0)
