"""Accounts and entities: wire format, paging, versions, status and updated_time filters."""

from __future__ import annotations

import datetime as dt
import json
import re

import httpx

from ads_platform.sandbox import Sandbox

from .conftest import TODAY, TOKEN
from .helpers import VERSION, get_all, ok

META_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$")
ALL_STATUSES = json.dumps(
    ["ACTIVE", "PAUSED", "CAMPAIGN_PAUSED", "ADSET_PAUSED", "ARCHIVED", "DELETED"]
)


def test_determinism_same_seed_same_data(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[0]
    params: dict[str, str | int] = {
        "fields": "id,name,status,effective_status,updated_time",
        "limit": 500,
    }
    first = ok(client.get(f"/{VERSION}/{account}/ads", params=params))
    with Sandbox(seed=7, accounts=3, today=TODAY) as twin, Sandbox(seed=8, accounts=3) as other:
        assert twin.account_ids == sb.account_ids
        assert all(re.fullmatch(r"act_\d{16}", a) for a in twin.account_ids)
        assert set(other.account_ids).isdisjoint(sb.account_ids)
        with httpx.Client(base_url=twin.base_url, trust_env=False) as c2:
            again = ok(
                c2.get(f"/{VERSION}/{account}/ads", params={**params, "access_token": TOKEN})
            )
    assert again["data"] == first["data"]


def test_account_node_and_version_prefixes(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[2]
    bodies = [ok(client.get(f"{prefix}/{account}")) for prefix in ("/v25.0", "/v19.0", "/v3", "")]
    assert all(b == bodies[0] for b in bodies)
    body = bodies[0]
    assert body["id"] == account
    assert body["account_id"] == account.removeprefix("act_")
    assert (body["currency"], body["timezone_name"], body["account_status"]) == (
        "JPY",
        "Asia/Tokyo",
        1,
    )
    only = ok(client.get(f"/v21.0/{account}", params={"fields": "currency,bogus"}))
    assert only == {"id": account, "currency": "JPY"}


def test_me_adaccounts_pages_all_accounts(sb: Sandbox, client: httpx.Client) -> None:
    rows = get_all(client, "me/adaccounts", {"limit": 2})
    assert [r["id"] for r in rows] == sb.account_ids
    assert {"id", "account_id", "name", "currency", "timezone_name", "account_status"} <= set(
        rows[0]
    )


def test_paging_short_pages_absolute_next_without_token(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[0]
    whole = ok(client.get(f"/{VERSION}/{account}/ads", params={"limit": 500}))
    assert "next" not in whole.get("paging", {})
    body = ok(client.get(f"/{VERSION}/{account}/ads", params={"limit": 4, "fields": "id,name"}))
    seen = list(body["data"])
    while "next" in body["paging"]:
        nxt = body["paging"]["next"]
        assert nxt.startswith(f"{sb.base_url}/{VERSION}/{account}/ads?")
        assert "access_token" not in nxt
        assert "fields=id%2Cname" in nxt
        assert len(body["data"]) == 4
        body = ok(client.get(nxt))
        seen.extend(body["data"])
        assert set(body["paging"]["cursors"]) == {"before", "after"}
    assert [r["id"] for r in seen] == [r["id"] for r in whole["data"]]
    assert len({r["id"] for r in seen}) == len(seen)


def test_entity_fields_look_like_meta(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[1]
    fields = (
        "id,account_id,name,status,effective_status,objective,daily_budget,lifetime_budget,"
        "start_time,stop_time,created_time,updated_time"
    )
    campaigns = get_all(
        client, f"{account}/campaigns", {"fields": fields, "effective_status": ALL_STATUSES}
    )
    assert campaigns
    for c in campaigns:
        assert c["account_id"] == account.removeprefix("act_")
        assert c["objective"].startswith("OUTCOME_")
        for key in ("created_time", "updated_time", "start_time"):
            assert META_TIME.match(c[key]), c[key]
        for key in ("daily_budget", "lifetime_budget"):
            assert key not in c or c[key].isdigit()
        assert c["updated_time"] >= c["created_time"]
    ads = get_all(
        client,
        f"{account}/ads",
        {
            "fields": "id,campaign_id,adset_id,creative,status,effective_status",
            "effective_status": ALL_STATUSES,
        },
    )
    adsets = {
        a["id"]: a
        for a in get_all(
            client,
            f"{account}/adsets",
            {
                "fields": "id,campaign_id,optimization_goal,billing_event",
                "effective_status": ALL_STATUSES,
            },
        )
    }
    for ad in ads:
        assert adsets[ad["adset_id"]]["campaign_id"] == ad["campaign_id"]
        assert set(ad["creative"]) == {"id"}
    assert {"ACTIVE", "PAUSED", "ARCHIVED", "DELETED"} <= {a["status"] for a in ads}


def test_effective_status_default_hides_deleted_and_archived(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[0]
    fields = {"fields": "id,effective_status"}
    default = get_all(client, f"{account}/ads", fields)
    everything = get_all(client, f"{account}/ads", {**fields, "effective_status": ALL_STATUSES})
    deleted = get_all(client, f"{account}/ads", {**fields, "effective_status": '["DELETED"]'})
    archived = get_all(client, f"{account}/ads", {**fields, "effective_status": "ARCHIVED"})
    assert deleted and archived
    assert {a["effective_status"] for a in default}.isdisjoint({"DELETED", "ARCHIVED"})
    assert {a["effective_status"] for a in deleted} == {"DELETED"}
    assert {a["effective_status"] for a in archived} == {"ARCHIVED"}
    assert len(default) + len(deleted) + len(archived) == len(everything)


def test_filtering_on_updated_time(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[0]
    base = {"fields": "id,updated_time", "effective_status": ALL_STATUSES}
    everything = get_all(client, f"{account}/ads", base)
    stamps = sorted(
        int(dt.datetime.strptime(a["updated_time"], "%Y-%m-%dT%H:%M:%S%z").timestamp())
        for a in everything
    )
    cut = stamps[len(stamps) // 2]
    for field in ("updated_time", "ad.updated_time"):
        newer = get_all(
            client,
            f"{account}/ads",
            {
                **base,
                "filtering": json.dumps(
                    [{"field": field, "operator": "GREATER_THAN", "value": cut}]
                ),
            },
        )
        older = get_all(
            client,
            f"{account}/ads",
            {
                **base,
                "filtering": json.dumps(
                    [{"field": field, "operator": "LESS_THAN", "value": cut + 1}]
                ),
            },
        )
        assert len(newer) + len(older) == len(everything)
        assert all(s > cut for s in stamps[len(stamps) - len(newer) :])
    campaigns = get_all(
        client,
        f"{account}/campaigns",
        {
            **base,
            "filtering": json.dumps(
                [
                    {
                        "field": "campaign.updated_time",
                        "operator": "GREATER_THAN",
                        "value": 4102444800,
                    }
                ]
            ),
        },
    )
    assert campaigns == []
    bad = client.get(
        f"/{VERSION}/{account}/ads",
        params={"filtering": json.dumps([{"field": "ad.colour", "operator": "EQUAL", "value": 1}])},
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == 100


def test_renames_follow_the_clock(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[0]
    params = {"fields": "id,name,updated_time", "effective_status": ALL_STATUSES}
    before = {c["id"]: c for c in get_all(client, f"{account}/campaigns", params)}
    sb.set_today(TODAY + dt.timedelta(days=61))
    after = {c["id"]: c for c in get_all(client, f"{account}/campaigns", params)}
    renamed = [cid for cid in before if before[cid]["name"] != after[cid]["name"]]
    assert renamed
    for cid in renamed:
        assert after[cid]["updated_time"] > before[cid]["updated_time"]
        assert after[cid]["updated_time"] > TODAY.isoformat()


def test_unknown_account_and_edge(sb: Sandbox, client: httpx.Client) -> None:
    missing = client.get(f"/{VERSION}/act_123")
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == 100
    assert missing.json()["error"]["error_subcode"] == 33
    edge = client.get(f"/{VERSION}/{sb.account_ids[0]}/nonsense")
    assert edge.status_code == 400
    assert edge.json()["error"]["code"] == 100
