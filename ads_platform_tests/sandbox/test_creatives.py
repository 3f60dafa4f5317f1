"""Creatives: the adcreatives edge (content, url_tags with macros, paging), the ad's
``creative{id}``, object nodes by id, edits over time, and the creative truth."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import parse_qsl

import httpx

from ads_platform.sandbox import Sandbox
from ads_platform.sandbox.world import EFFECTIVE_STATUSES

from .conftest import TODAY
from .helpers import VERSION, get_all, ok

CONTENT = (
    "id,account_id,name,title,body,call_to_action_type,object_type,object_story_spec,link_url,"
    "url_tags,image_hash,video_id,thumbnail_url,effective_object_story_id"
)
ALL_STATUSES = json.dumps(list(EFFECTIVE_STATUSES))


def _creatives(client: httpx.Client, account: str, limit: int = 100) -> list[dict[str, Any]]:
    return get_all(client, f"{account}/adcreatives", {"fields": CONTENT, "limit": limit})


def _ads(client: httpx.Client, account: str) -> list[dict[str, Any]]:
    return get_all(
        client,
        f"{account}/ads",
        {
            "fields": "id,name,creative,updated_time",
            "effective_status": ALL_STATUSES,
            "limit": 100,
        },
    )


def test_creatives_carry_content_links_and_media_ids_as_meta_renders_them(
    sb: Sandbox, client: httpx.Client
) -> None:
    tags_seen: list[str | None] = []
    for account in sb.account_ids:
        digits = account.removeprefix("act_")
        names = {a["creative"]["id"]: a["name"] for a in _ads(client, account)}
        creatives = _creatives(client, account)
        assert creatives
        for c in creatives:
            assert c["account_id"] == digits
            assert c["id"].isdigit() and len(c["id"]) == 18
            assert c["name"] and c["title"] and c["body"] and c["call_to_action_type"]
            assert c["link_url"].startswith("https://www.")
            assert c["thumbnail_url"].startswith("https://")
            page, _, post = c["effective_object_story_id"].partition("_")
            spec = c["object_story_spec"]
            assert spec["page_id"] == page and post.isdigit()
            if c["object_type"] == "VIDEO":
                assert "image_hash" not in c and c["video_id"].isdigit()
                data = spec["video_data"]
                assert data["video_id"] == c["video_id"]
                assert data["call_to_action"]["value"]["link"] == c["link_url"]
            else:
                assert "video_id" not in c and len(c["image_hash"]) == 32
                data = spec["link_data"]
                assert (data["link"], data["image_hash"]) == (c["link_url"], c["image_hash"])
            if c["id"] in names:  # an ad's current creative matches the ad's format
                video_ad = names[c["id"]].startswith(("Video", "Reel"))
                assert (c["object_type"] == "VIDEO") == video_ad
            tags_seen.append(c.get("url_tags"))
    present = [t for t in tags_seen if t is not None]
    assert len(present) < len(tags_seen)  # some creatives have no url_tags
    for tags in present:
        params = dict(parse_qsl(tags, keep_blank_values=True))
        assert {"utm_source", "utm_medium", "utm_campaign"} <= set(params)
    assert any("{{campaign.name}}" in t for t in present)
    assert any("{{ad.id}}" in t for t in present)
    assert any("{{" not in t for t in present)


def test_adcreatives_pages_like_other_edges_and_defaults_to_ids(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[1]
    whole = _creatives(client, account, limit=500)
    paged = _creatives(client, account, limit=4)
    assert paged == whole and len(whole) > 8
    assert len({c["id"] for c in whole}) == len(whole)
    first = ok(client.get(f"/{VERSION}/{account}/adcreatives", params={"limit": 4}))
    assert all(set(c) == {"id"} for c in first["data"])
    # Cursor paging the way the SDK does it (``after``, not ``next``).
    after = first["paging"]["cursors"]["after"]
    second = ok(
        client.get(f"/{VERSION}/{account}/adcreatives", params={"limit": 4, "after": after})
    )
    assert [c["id"] for c in first["data"] + second["data"]] == [c["id"] for c in whole[:8]]
    refused = client.get(
        f"/{VERSION}/{account}/adcreatives",
        params={"filtering": json.dumps([{"field": "id", "operator": "IN", "value": ["1"]}])},
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == 100


def test_ads_point_at_their_current_creative_and_nodes_answer_by_id(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[0]
    truth = sb.creative_truth(account)
    listed = {c["id"]: c for c in _creatives(client, account)}
    assert set(listed) == {c["id"] for c in truth["creatives"]}
    ads = _ads(client, account)
    assert {a["id"]: a["creative"]["id"] for a in ads} == truth["ads"]
    for ad in ads[:5]:
        node = ok(client.get(f"/{VERSION}/{ad['id']}", params={"fields": "creative,name"}))
        assert node == {"id": ad["id"], "creative": ad["creative"], "name": ad["name"]}
        creative_id = ad["creative"]["id"]
        assert (
            ok(client.get(f"/{VERSION}/{creative_id}", params={"fields": CONTENT}))
            == (listed[creative_id])
        )
    missing = client.get(f"/{VERSION}/120499999999999999")
    assert missing.status_code == 400
    assert (missing.json()["error"]["code"], missing.json()["error"]["error_subcode"]) == (100, 33)
    bad_field = client.get(f"/{VERSION}/{ads[0]['creative']['id']}", params={"fields": "colour"})
    assert bad_field.status_code == 400 and bad_field.json()["error"]["code"] == 100


def _parse(moment: str) -> dt.datetime:
    return dt.datetime.strptime(moment, "%Y-%m-%dT%H:%M:%S%z")


def test_an_edit_gives_the_ad_a_new_creative_from_its_instant_on_and_keeps_the_old_one(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[2]
    sb.set_today(dt.date(2027, 12, 31))
    everything = sb.creative_truth(account)["creatives"]
    edits = sorted(
        (c for c in everything if c["version"] > 0 and c["valid_from"] < TODAY.isoformat()),
        key=lambda c: c["valid_from"],
    )
    assert edits, "no creative edit before the test day"
    edit = edits[-1]
    edited_at = _parse(edit["valid_from"])
    before_day = edited_at.date() - dt.timedelta(days=1)
    after_day = edited_at.date() + dt.timedelta(days=1)
    old = next(
        c for c in everything if c["ad_id"] == edit["ad_id"] and c["version"] == edit["version"] - 1
    )

    sb.set_today(before_day)
    ad = ok(client.get(f"/{VERSION}/{edit['ad_id']}", params={"fields": "creative,updated_time"}))
    assert ad["creative"]["id"] == old["id"]
    assert _parse(ad["updated_time"]) < edited_at
    assert edit["id"] not in {c["id"] for c in _creatives(client, account)}
    assert client.get(f"/{VERSION}/{edit['id']}").status_code == 400  # not created yet

    sb.set_today(after_day)
    ad = ok(client.get(f"/{VERSION}/{edit['ad_id']}", params={"fields": "creative,updated_time"}))
    assert ad["creative"]["id"] == edit["id"]
    assert _parse(ad["updated_time"]) >= edited_at
    listed = {c["id"] for c in _creatives(client, account)}
    assert {edit["id"], old["id"]} <= listed
    truth = {c["id"]: c for c in sb.creative_truth(account)["creatives"]}
    assert truth[old["id"]]["valid_to"] == edit["valid_from"]
    assert truth[edit["id"]]["ad_id"] == old["ad_id"] == edit["ad_id"]
    # An incremental pull by updated_time finds the edited ad.
    since = int((edited_at - dt.timedelta(seconds=1)).timestamp())
    changed = get_all(
        client,
        f"{account}/ads",
        {
            "fields": "id,creative",
            "effective_status": ALL_STATUSES,
            "filtering": json.dumps(
                [{"field": "ad.updated_time", "operator": "GREATER_THAN", "value": since}]
            ),
        },
    )
    assert {"id": edit["ad_id"], "creative": {"id": edit["id"]}} in changed


def test_creatives_are_the_same_for_the_same_seed(sb: Sandbox, client: httpx.Client) -> None:
    with Sandbox(seed=7, accounts=3, today=TODAY, async_delay_scale=0) as other:
        assert other.creative_truth(sb.account_ids[1]) == sb.creative_truth(sb.account_ids[1])
    with Sandbox(seed=8, accounts=1, today=TODAY, async_delay_scale=0) as different:
        ids = {c["id"] for c in different.creative_truth(different.account_ids[0])["creatives"]}
        assert not ids & {c["id"] for c in _creatives(client, sb.account_ids[0])}
