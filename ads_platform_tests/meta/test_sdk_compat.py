"""Meta's own Python Business SDK, pointed at the sandbox, sees what our client sees.

This keeps the sandbox honest about Graph's wire format (the SDK pages with the
``after`` cursor instead of following ``paging.next``, sends the token as a query
parameter and JSON-encodes list parameters) and cross-checks our client's counts.
The insights reads go the way Airbyte and tap-facebook go (everything in
``params``, so ``fields`` travels as a JSON array; async jobs polled with
``api_get()`` and read with ``get_result()``) and must carry the spend the
sandbox's ground truth says, day by day.

The SDK builds URLs as ``session.GRAPH + "/" + api_version + "/" + path``
(``FacebookAdsApi.call``), so pointing it at the sandbox only needs the session's
``GRAPH`` attribute set on the instance.  ``crash_log=False`` matters: the SDK's
crash reporter would otherwise post tracebacks to Meta.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from ads_platform.meta import GraphClient

facebook_business = pytest.importorskip("facebook_business")
sandbox_module = pytest.importorskip("ads_platform.sandbox")

from facebook_business.adobjects.adaccount import AdAccount  # noqa: E402
from facebook_business.api import FacebookAdsApi  # noqa: E402

TOKEN = "EAAsdkcompatTOKEN" + "s" * 40
TODAY = dt.date(2026, 3, 15)
# Fast async runs (tens of milliseconds) that still start as "Job Not Started".
ASYNC_DELAY_SCALE = 0.01
INSIGHT_FIELDS = ["account_id", "campaign_id", "ad_id", "date_start", "date_stop", "spend"]


@pytest.fixture(scope="module")
def sb() -> Iterator[Any]:
    with sandbox_module.Sandbox(
        seed=11, accounts=2, latency_ms=0, async_delay_scale=ASYNC_DELAY_SCALE
    ) as sandbox:
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


def _spend_by_day(rows: list[dict[str, Any]]) -> dict[str, Decimal]:
    """Summed spend per day; a row without ``spend`` is a failure, not a zero."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        assert "spend" in row, f"insight row without spend: {row}"
        assert row["date_start"] == row["date_stop"]
        out[row["date_start"]] += Decimal(row["spend"])
    return {day: spend for day, spend in out.items() if spend}


def _truth_by_day(sb: Any, account_id: str, since: dt.date, until: dt.date) -> dict[str, Decimal]:
    truth = sb.truth(account_id, since, until)
    return {d["date"]: Decimal(str(d["spend"])) for d in truth["days"] if d["spend"]}


def _run_async(account: AdAccount, params: dict[str, Any]) -> list[dict[str, Any]]:
    """What tap-facebook and Airbyte do: start a job, poll ``api_get()``, ``get_result()``."""
    job = account.get_insights(params=params, is_async=True)
    statuses = []
    for _ in range(2000):  # bounded by polls, not by time
        job = job.api_get()
        statuses.append(job["async_status"])
        if job["async_status"] == "Job Completed":
            break
        assert job["async_status"] in ("Job Not Started", "Job Started", "Job Running")
        time.sleep(0.01)
    assert statuses[-1] == "Job Completed", statuses
    return [dict(row) for row in job.get_result(params={"limit": 100})]


def test_sdk_reads_insights_sync_and_async_with_the_spend_of_the_truth(
    sb: Any, sdk_api: FacebookAdsApi
) -> None:
    """Airbyte's request shape: ``time_range`` + ``time_increment=1``, lists as JSON."""
    account_id = sb.account_ids[1]
    since, until = TODAY - dt.timedelta(days=10), TODAY - dt.timedelta(days=1)
    account = AdAccount(account_id, api=sdk_api)
    params: dict[str, Any] = {
        "fields": INSIGHT_FIELDS,
        "level": "ad",
        "time_increment": 1,
        "time_range": {"since": since.isoformat(), "until": until.isoformat()},
        "action_breakdowns": ["action_type", "action_target_id", "action_destination"],
        "action_attribution_windows": ["1d_click", "7d_click", "28d_click", "1d_view"],
        "limit": 100,
    }
    truth = _truth_by_day(sb, account_id, since, until)
    assert sum(truth.values()) > 0

    sync_rows = [dict(row) for row in account.get_insights(params=params)]
    assert _spend_by_day(sync_rows) == truth

    async_rows = _run_async(account, params)
    assert _spend_by_day(async_rows) == truth
    key = lambda r: (r["date_start"], r["ad_id"])  # noqa: E731
    assert sorted(async_rows, key=key) == sorted(sync_rows, key=key)


def test_sdk_reads_tap_facebook_style_single_day_jobs_with_the_spend_of_the_truth(
    sb: Any, sdk_api: FacebookAdsApi
) -> None:
    """tap-facebook's request shape: one async job per day via ``time_ranges``."""
    account_id = sb.account_ids[0]
    since, until = TODAY - dt.timedelta(days=3), TODAY - dt.timedelta(days=1)
    account = AdAccount(account_id, api=sdk_api)
    rows: list[dict[str, Any]] = []
    day = since
    while day <= until:
        rows += _run_async(
            account,
            {
                "level": "ad",
                "action_breakdowns": ["action_type", "action_target_id", "action_destination"],
                "breakdowns": [],
                "limit": 100,
                "fields": [*INSIGHT_FIELDS, "impressions", "clicks", "actions"],
                "time_increment": 1,
                "action_attribution_windows": ["1d_click", "7d_click", "28d_click", "1d_view"],
                "time_ranges": [{"since": day.isoformat(), "until": day.isoformat()}],
            },
        )
        day += dt.timedelta(days=1)
    assert _spend_by_day(rows) == _truth_by_day(sb, account_id, since, until)
    assert all("impressions" in r and "clicks" in r for r in rows)


def test_sdk_reads_breakdowns_sync_and_async_with_the_figures_of_the_breakdown_truth(
    sb: Any, sdk_api: FacebookAdsApi
) -> None:
    """A placement pull the way the SDK sends it (``breakdowns`` as a JSON list)."""
    account_id = sb.account_ids[0]
    since, until = TODAY - dt.timedelta(days=4), TODAY - dt.timedelta(days=1)
    breakdowns = ["publisher_platform", "platform_position"]
    account = AdAccount(account_id, api=sdk_api)
    params: dict[str, Any] = {
        "fields": ["account_id", "date_start", "date_stop", "spend", "impressions", "reach"],
        "level": "account",
        "time_increment": 1,
        "time_range": {"since": since.isoformat(), "until": until.isoformat()},
        "breakdowns": breakdowns,
        "limit": 10,
    }
    truth = sb.breakdown_truth(account_id, since, until, breakdowns)
    expected = {
        (day["date"], row["publisher_platform"], row["platform_position"]): (
            Decimal(str(row["spend"])),
            row["impressions"],
            row["reach"],
        )
        for day in truth["days"]
        for row in day["rows"]
    }
    assert expected
    for rows in (
        [dict(r) for r in account.get_insights(params=params)],
        _run_async(account, params),
    ):
        served = {
            (r["date_start"], r["publisher_platform"], r["platform_position"]): (
                Decimal(r["spend"]),
                int(r["impressions"]),
                int(r["reach"]),
            )
            for r in rows
        }
        assert served == expected


def test_sdk_pages_ad_creatives_with_the_url_tags_of_the_creative_truth(
    sb: Any, sdk_api: FacebookAdsApi
) -> None:
    account_id = sb.account_ids[1]
    account = AdAccount(account_id, api=sdk_api)
    fields = ["id", "name", "link_url", "url_tags", "object_story_spec"]
    sdk = [dict(c) for c in account.get_ad_creatives(fields=fields, params={"limit": 5})]
    truth = sb.creative_truth(account_id)["creatives"]
    assert len(sdk) == len(truth) > 5  # several pages
    assert [c["id"] for c in sdk] == [c["id"] for c in truth]
    for got, expected in zip(sdk, truth, strict=True):
        assert got.get("url_tags") == expected.get("url_tags")
        assert got["link_url"] == expected["link_url"]
