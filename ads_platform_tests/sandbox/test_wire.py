"""The sandbox's JSON encoder: orjson's bytes are the standard encoder's bytes."""

from __future__ import annotations

import json

import httpx
import pytest

from ads_platform.sandbox import Sandbox, wire

from .helpers import VERSION

FIELDS = (
    "account_id,campaign_id,adset_id,ad_id,impressions,reach,clicks,spend,actions,"
    "video_play_actions"
)
WINDOWS = '["1d_click","7d_click","1d_view"]'


def test_every_answer_is_byte_for_byte_what_the_standard_encoder_writes(
    sb: Sandbox, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Insights in every breakdown family, entities, nodes and errors: each body the
    sandbox encodes is compared before it is sent (the fast encoder must not change
    the ground truth's wire format)."""
    compared: list[int] = []
    encode = wire.dumps

    def both(obj: object) -> bytes:
        fast = encode(obj)
        assert fast == wire._standard_dumps(obj)
        compared.append(len(fast))
        return fast

    monkeypatch.setattr(wire, "dumps", both)
    account = sb.account_ids[0]
    time_range = json.dumps({"since": "2026-03-01", "until": "2026-03-14"})
    for breakdowns in (
        "",
        "age,gender",
        "country",
        "region",
        "publisher_platform,platform_position",
    ):
        params = {
            "level": "ad",
            "fields": FIELDS,
            "time_increment": "1",
            "time_range": time_range,
            "action_attribution_windows": WINDOWS,
            "limit": "500",
        }
        if breakdowns:
            params["breakdowns"] = breakdowns
        assert client.get(f"/{VERSION}/{account}/insights", params=params).status_code == 200
    for edge in ("campaigns", "adsets", "ads", "adcreatives"):
        assert client.get(f"/{VERSION}/{account}/{edge}", params={"limit": "50"}).status_code == 200
    assert (
        client.get(f"/{VERSION}/{account}", params={"fields": "name,currency"}).status_code == 200
    )
    bad = client.get(f"/{VERSION}/{account}/insights", params={"level": "galaxy"})
    assert bad.status_code == 400 and "error" in bad.json()
    assert len(compared) >= 11 and sum(compared) > 1_000_000  # pages of real size went through


def test_what_orjson_refuses_is_still_encoded() -> None:
    """An integer past 64 bits (orjson's limit) falls back to the standard encoder."""
    assert wire.dumps({"id": 2**70}) == b'{"id":1180591620717411303424}'
