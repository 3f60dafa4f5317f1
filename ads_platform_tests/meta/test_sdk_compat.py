"""Meta's own Python Business SDK, pointed at the sandbox, sees what our client sees.

This keeps the sandbox honest about Graph's wire format (the SDK pages with the
``after`` cursor instead of following ``paging.next``, sends the token as a query
parameter and JSON-encodes list parameters) and cross-checks our client's counts.

The SDK builds URLs as ``session.GRAPH + "/" + api_version + "/" + path``
(``FacebookAdsApi.call``), so pointing it at the sandbox only needs the session's
``GRAPH`` attribute set on the instance.  ``crash_log=False`` matters: the SDK's
crash reporter would otherwise post tracebacks to Meta.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from ads_platform.meta import GraphClient

facebook_business = pytest.importorskip("facebook_business")
sandbox_module = pytest.importorskip("ads_platform.sandbox")

from facebook_business.adobjects.adaccount import AdAccount  # noqa: E402
from facebook_business.api import FacebookAdsApi  # noqa: E402

TOKEN = "EAAsdkcompatTOKEN" + "s" * 40
TODAY = dt.date(2026, 3, 15)


@pytest.fixture(scope="module")
def sb() -> Iterator[Any]:
    with sandbox_module.Sandbox(seed=11, accounts=2, latency_ms=0) as sandbox:
        sandbox.set_today(TODAY)
        yield sandbox


@pytest.fixture
def sdk_api(sb: Any) -> Iterator[FacebookAdsApi]:
    previous = FacebookAdsApi.get_default_api()
    api = FacebookAdsApi.init(access_token=TOKEN, api_version="v25.0", crash_log=False)
    api._session.GRAPH = sb.base_url  # instance attribute; the class default stays Meta's
    yield api
    FacebookAdsApi.set_default_api(previous)


def test_sdk_pages_campaigns_and_insights_like_our_client(sb: Any, sdk_api: FacebookAdsApi) -> None:
    account_id = sb.account_ids[0]
    since, until = TODAY - dt.timedelta(days=20), TODAY - dt.timedelta(days=1)
    account = AdAccount(account_id, api=sdk_api)
    sb.reset_stats()

    sdk_campaigns = [
        c["id"]
        for c in account.get_campaigns(
            fields=["id", "name", "effective_status"], params={"limit": 3}
        )
    ]
    sdk_insights = [
        dict(row)
        for row in account.get_insights(
            fields=["ad_id", "date_start", "date_stop", "spend", "impressions"],
            params={
                "time_range": {"since": since.isoformat(), "until": until.isoformat()},
                "time_increment": 1,
                "level": "ad",
                "limit": 25,
            },
        )
    ]

    sdk_requests = sb.stats()["by_path"]
    # Several pages each, so the SDK's cursor paging was exercised, not just page one.
    assert sdk_requests[f"/{account_id}/campaigns"] > 1
    assert sdk_requests[f"/{account_id}/insights"] > 1

    with GraphClient(base_url=sb.base_url, access_token=TOKEN) as client:
        ours_campaigns = [c["id"] for c in client.iter_entities(account_id, "campaigns", ["id"])]
        ours_insights = list(
            client.iter_insights(
                account_id,
                since,
                until,
                fields=["ad_id", "date_start", "date_stop", "spend", "impressions"],
            )
        )

    assert sdk_campaigns
    assert sorted(sdk_campaigns) == sorted(ours_campaigns)
    assert len(sdk_campaigns) == len(set(sdk_campaigns))
    assert sdk_insights
    assert len(sdk_insights) == len(ours_insights)
    key = lambda r: (r["date_start"], r["ad_id"])  # noqa: E731
    assert sorted(map(key, sdk_insights)) == sorted(map(key, ours_insights))
    assert sum(int(r["impressions"]) for r in sdk_insights) == sum(
        int(r["impressions"]) for r in ours_insights
    )
