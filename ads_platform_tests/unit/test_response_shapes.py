"""Every parser of a Graph API answer names the endpoint and the field it missed.

Each case takes a complete, valid answer, removes one field the platform relies on
(and, separately, sets it to null) and checks that the failure is a
``MalformedResponseError`` whose message names both the endpoint and the field: never
a bare ``KeyError``/``TypeError`` and never a silent null or default.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from ads_platform import frames
from ads_platform.ingestion import accounts, reach
from ads_platform.ingestion.failures import describe
from ads_platform.meta import GraphClient, MalformedResponseError
from ads_platform_tests.meta.helpers import FakeTime, Recorded, Reply, ScriptedServer, scripted

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
ACCOUNT = "act_123"
INSIGHT_ROW = {
    "account_id": "123",
    "account_currency": "USD",
    "campaign_id": "1",
    "adset_id": "2",
    "ad_id": "3",
    "date_start": "2026-11-10",
    "date_stop": "2026-11-10",
    "impressions": "1000",
    "spend": "12.34",
}
ACCOUNT_NODE = {
    "id": ACCOUNT,
    "name": "Shop",
    "currency": "EUR",
    "timezone_name": "Europe/Berlin",
    "account_status": 1,
}
ENTITY = {"id": "11", "account_id": "123", "campaign_id": "1", "adset_id": "2", "name": "x"}

Parser = Callable[[Mapping[str, Any]], object]


def _ad_rows(row: Mapping[str, Any]) -> object:
    return frames.insights_frame(
        [row], account_id=ACCOUNT, currency="USD", fetched_at=NOW, run_id="r"
    )


def _account_rows(row: Mapping[str, Any]) -> object:
    return frames.account_insights_frame(
        [row], account_id=ACCOUNT, currency="USD", fetched_at=NOW, run_id="r"
    )


PARSERS: list[tuple[str, str, Parser, Mapping[str, Any], tuple[str, ...]]] = [
    (
        "ad insights",
        "act/insights",
        _ad_rows,
        INSIGHT_ROW,
        ("date_start", "campaign_id", "adset_id", "ad_id"),
    ),
    ("account insights", "act/insights", _account_rows, INSIGHT_ROW, ("date_start",)),
    (
        "campaign reach",
        "act/insights",
        lambda row: reach.reach_values(row, "campaign", ACCOUNT),
        INSIGHT_ROW,
        ("campaign_id",),
    ),
    (
        "ad set reach",
        "act/insights",
        lambda row: reach.reach_values(row, "ad_set", ACCOUNT),
        INSIGHT_ROW,
        ("campaign_id", "adset_id"),
    ),
    (
        "campaigns",
        "act/campaigns",
        lambda row: frames.CAMPAIGNS.parse(row, ACCOUNT),
        ENTITY,
        ("id",),
    ),
    ("ad sets", "act/adsets", lambda row: frames.AD_SETS.parse(row, ACCOUNT), ENTITY, ("id",)),
    ("ads", "act/ads", lambda row: frames.ADS.parse(row, ACCOUNT), ENTITY, ("id",)),
    (
        "account node",
        "account",
        lambda node: accounts.row_from_node(node, "settings"),
        ACCOUNT_NODE,
        ("id", "currency", "timezone_name"),
    ),
    (
        "discovered account",
        "me/adaccounts",
        lambda node: accounts.row_from_node(node, "discovered"),
        ACCOUNT_NODE,
        ("id", "currency", "timezone_name"),
    ),
]

CASES = [
    pytest.param(parse, endpoint, complete, field, how, id=f"{name}-{field}-{how}")
    for name, endpoint, parse, complete, fields in PARSERS
    for field in fields
    for how in ("removed", "null")
]


@pytest.mark.parametrize(("parse", "endpoint", "complete", "field", "how"), CASES)
def test_a_row_without_a_required_field_names_the_endpoint_and_the_field(
    parse: Parser, endpoint: str, complete: Mapping[str, Any], field: str, how: str
) -> None:
    parse(complete)  # the complete answer parses: only the missing field can fail it
    broken = dict(complete)
    if how == "removed":
        del broken[field]
    else:
        broken[field] = None
    with pytest.raises(MalformedResponseError) as info:
        parse(broken)
    message = str(info.value)
    assert endpoint in message and repr(field) in message, message
    assert info.value.field == field
    kind, described = describe(info.value, account_id=ACCOUNT, token_env=None)
    assert kind == "malformed"
    assert endpoint in described and repr(field) in described


def test_a_row_parse_error_is_still_a_value_error_naming_the_endpoint() -> None:
    with pytest.raises(ValueError, match=r"impressions: expected a count.*endpoint=act/insights"):
        _ad_rows({**INSIGHT_ROW, "impressions": "many"})


# --------------------------------------------------------------------------- client answers


def _client(server: ScriptedServer, clock: FakeTime) -> GraphClient:
    return GraphClient(
        access_token="EAAshapeTOKEN" + "s" * 40,
        base_url=server.base_url,
        sleep=clock.sleep,
        clock=clock.monotonic,
        async_poll_timeout=30,
    )


Call = Callable[[GraphClient], object]

CLIENT_CASES = [
    pytest.param(
        "act/campaigns",
        "data",
        {"paging": {"cursors": {}}},
        lambda c: list(c.iter_entities(ACCOUNT, "campaigns")),
        id="page-data",
    ),
    pytest.param(
        "act/insights",
        "report_run_id",
        {"id": "42"},
        lambda c: c.reports.run(ACCOUNT, dt.date(2026, 1, 1), dt.date(2026, 1, 2), {}),
        id="async-report_run_id",
    ),
    pytest.param(
        "report_run",
        "async_status",
        {"id": "42", "async_percent_completion": 50},
        lambda c: c.reports.run(ACCOUNT, dt.date(2026, 1, 1), dt.date(2026, 1, 2), {}),
        id="async-async_status",
    ),
    pytest.param(
        "debug_token",
        "data",
        {"error_description": "none"},
        lambda c: c.debug_token(),
        id="debug_token-data",
    ),
    pytest.param(
        "debug_token",
        "is_valid",
        {"data": {"app_id": "1", "scopes": ["ads_read"]}},
        lambda c: c.debug_token(),
        id="debug_token-is_valid",
    ),
    pytest.param(
        "oauth/access_token",
        "access_token",
        {"token_type": "bearer", "expires_in": 5184000},
        lambda c: c.exchange_token("1", "app-secret-shapes", "EAAold" + "o" * 30),
        id="exchange-access_token",
    ),
    pytest.param(
        "oauth/access_token",
        "expires_in",
        {"access_token": "EAAnew" + "w" * 30, "expires_in": "soon"},
        lambda c: c.exchange_token("1", "app-secret-shapes", "EAAold" + "o" * 30),
        id="exchange-expires_in",
    ),
]


@pytest.mark.parametrize(("endpoint", "field", "broken", "call"), CLIENT_CASES)
def test_a_client_answer_without_a_required_field_names_the_endpoint_and_the_field(
    endpoint: str, field: str, broken: dict[str, Any], call: Call
) -> None:
    def route(req: Recorded, _: ScriptedServer) -> Reply:
        if endpoint == "report_run" and req.method == "POST":
            return Reply(body={"report_run_id": "42"})
        return Reply(body=broken)

    with (
        scripted(route) as server,
        _client(server, FakeTime()) as client,
        pytest.raises(MalformedResponseError) as info,
    ):
        call(client)
    message = str(info.value)
    assert f"endpoint={endpoint}" in message and field in message, message
    assert info.value.field == field
    assert "EAAnew" not in message and "EAAshape" not in message


def test_an_insight_row_without_date_start_names_the_endpoint_not_a_stray_day() -> None:
    from ads_platform.ingestion.insights import bucket_by_day

    rows = [{"date_start": "2026-11-01", "ad_id": "1"}, {"ad_id": "2"}]
    with pytest.raises(MalformedResponseError) as caught:
        bucket_by_day(rows, "act_1")
    message = str(caught.value)
    assert "date_start" in message
    assert frames.INSIGHTS_ENDPOINT in message
    assert describe(caught.value, account_id="act_1", token_env=None)[0] == "malformed"
