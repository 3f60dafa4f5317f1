"""GraphClient edge cases over real loopback HTTP against a scripted server.

The sandbox covers the realistic fault matrix (see test_client_sandbox.py); these tests
pin down the paging, auth and retry-budget corner cases precisely, with fake time.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from ads_platform.meta import (
    GraphClient,
    MalformedResponseError,
    PermissionDeniedError,
    ThrottledError,
    TokenInvalidError,
    TransientError,
    appsecret_proof,
)
from ads_platform.meta.client import encode_params, normalize_account_id, normalize_endpoint

from .helpers import FakeTime, Recorded, Reply, ScriptedServer, scripted, sequence

TOKEN = "EAAtestTOKEN" + "k" * 48
SECRET = "app-secret-for-tests"


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


def make_client(server: ScriptedServer, clock: FakeTime, **kwargs: Any) -> GraphClient:
    kwargs.setdefault("access_token", TOKEN)
    return GraphClient(
        base_url=server.base_url,
        sleep=clock.sleep,
        clock=clock.monotonic,
        read_timeout=5,
        **kwargs,
    )


def page(rows: list[dict[str, Any]], next_url: str | None = None, after: str = "c") -> Reply:
    body: dict[str, Any] = {"data": rows, "paging": {"cursors": {"before": "b", "after": after}}}
    if next_url:
        body["paging"]["next"] = next_url
    return Reply(body=body)


def test_helpers() -> None:
    assert normalize_account_id("123") == "act_123"
    assert normalize_account_id(123) == "act_123"
    assert normalize_account_id("act_9") == "act_9"
    with pytest.raises(ValueError):
        normalize_account_id("abc")
    assert normalize_endpoint("act_1/insights") == "act/insights"
    assert normalize_endpoint("/v25.0/act_1") == "account"
    assert normalize_endpoint("http://h/v25.0/act_1/campaigns?after=x") == "act/campaigns"
    assert normalize_endpoint("123456/insights") == "object/insights"
    assert normalize_endpoint("me/adaccounts") == "me/adaccounts"
    assert encode_params(
        {"fields": ["a", "b"], "x": None, "f": [{"k": 1}], "b": True, "d": dt.date(2026, 1, 2)}
    ) == {"fields": "a,b", "f": '[{"k":1}]', "b": "true", "d": "2026-01-02"}


def test_paging_follows_next_through_empty_and_short_pages(clock: FakeTime) -> None:
    def route(req: Recorded, srv: ScriptedServer) -> Reply:
        after = req.query.get("after")
        base = f"{srv.base_url}{req.path}"
        if after is None:
            return page([{"id": "1"}, {"id": "2"}], f"{base}?limit=2&after=p2", "p2")
        if after == "p2":
            return page([], f"{base}?limit=2&after=p3", "p3")  # empty page, more remain
        if after == "p3":
            return page([{"id": "3"}], f"{base}?limit=2&after=p4", "p4")  # short page
        return page([{"id": "4"}])  # no next: done

    with scripted(route) as srv, make_client(srv, clock, page_limit=2) as client:
        pages = list(client.iter_pages("act_7/campaigns", {"fields": ["id"]}))
        assert [len(p) for p in pages] == [2, 0, 1, 1]
        assert [r["id"] for r in client.iter_rows("act_7/campaigns")] == ["1", "2", "3", "4"]
        for req in srv.requests:
            assert req.headers["authorization"] == f"Bearer {TOKEN}"
            assert "access_token" not in req.query
        assert srv.requests[0].query == {"fields": "id", "limit": "2"}
        stats = client.stats.for_account("act_7")["by_endpoint"]["act/campaigns"]
        assert stats["calls"] == 8
        assert stats["pages"] == 8
        assert stats["rows"] == 8


def test_next_url_token_is_replaced_not_forwarded(clock: FakeTime) -> None:
    def route(req: Recorded, srv: ScriptedServer) -> Reply:
        if "after" not in req.query:
            return page(
                [{"id": "1"}], f"{srv.base_url}{req.path}?access_token=STALE1234567&after=x"
            )
        return page([{"id": "2"}])

    with scripted(route) as srv, make_client(srv, clock) as client:
        assert len(list(client.iter_rows("act_1/ads"))) == 2
        assert "access_token" not in srv.requests[1].query
    with scripted(route) as srv, make_client(srv, clock, token_in_query=True) as client:
        assert len(list(client.iter_rows("act_1/ads"))) == 2
        assert srv.requests[1].query["access_token"] == TOKEN
        assert "authorization" not in srv.requests[1].headers


@pytest.mark.parametrize("loop", ["same_url", "cursor_cycle", "back_to_first"])
def test_looping_next_is_detected(clock: FakeTime, loop: str) -> None:
    def route(req: Recorded, srv: ScriptedServer) -> Reply:
        base = f"{srv.base_url}{req.path}"
        after = req.query.get("after")
        if loop == "same_url":
            return page([{"id": "1"}], f"{base}?limit=500&after=A", "A")
        if loop == "back_to_first":
            return page([{"id": "1"}], f"{base}?limit=500")
        nxt = {"A": "B", "B": "A", None: "A"}[after]
        return page([{"id": "1"}], f"{base}?limit=500&after={nxt}&t={len(srv.requests)}", nxt)

    with scripted(route) as srv, make_client(srv, clock) as client:
        with pytest.raises(MalformedResponseError) as info:
            list(client.iter_pages("act_1/campaigns"))
        assert info.value.reason == "looping_next"
        assert len(srv.requests) <= 4


def test_foreign_next_host_is_refused_and_gets_no_token(clock: FakeTime) -> None:
    with scripted(lambda req, srv: Reply()) as other:
        foreign = f"{other.base_url.replace('127.0.0.1', 'localhost')}/v25.0/act_1/ads?after=x"
        with (
            scripted(sequence(page([{"id": "1"}], foreign))) as srv,
            make_client(srv, clock) as client,
        ):
            with pytest.raises(MalformedResponseError) as info:
                list(client.iter_rows("act_1/ads"))
            assert info.value.reason == "foreign_next"
        assert other.requests == []


def test_page_safety_limit(clock: FakeTime) -> None:
    def route(req: Recorded, srv: ScriptedServer) -> Reply:
        n = len(srv.requests)
        return page([{"id": str(n)}], f"{srv.base_url}{req.path}?after=c{n}", f"c{n}")

    with scripted(route) as srv, make_client(srv, clock, max_pages=5) as client:
        with pytest.raises(MalformedResponseError) as info:
            list(client.iter_pages("act_1/ads"))
        assert info.value.reason == "too_many_pages"
        assert len(srv.requests) == 5


@pytest.mark.parametrize(
    "body",
    [{"data": {"id": 1}}, {"nodata": []}, {"data": [1, 2]}, [1, 2], {"data": [], "paging": 5}],
)
def test_unexpected_shapes_are_errors_not_empty_data(clock: FakeTime, body: Any) -> None:
    with (
        scripted(sequence(Reply(body=body))) as srv,
        make_client(srv, clock) as client,
        pytest.raises(MalformedResponseError),
    ):
        list(client.iter_rows("act_1/ads"))


def test_appsecret_proof_and_token_in_query(clock: FakeTime) -> None:
    with (
        scripted(sequence(Reply(body={"id": "act_1"}))) as srv,
        make_client(srv, clock, app_secret=SECRET, token_in_query=True) as client,
    ):
        client.get_account("1")
        req = srv.requests[0]
        assert req.path == "/v25.0/act_1"
        assert req.query["access_token"] == TOKEN
        assert req.query["appsecret_proof"] == appsecret_proof(TOKEN, SECRET)
        assert req.query["fields"].startswith("id,account_id,name")
    with (
        scripted(sequence(Reply(body={"id": "act_1"}))) as srv,
        make_client(srv, clock, app_secret=SECRET) as client,
    ):
        client.get("act_1")
        assert srv.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
        assert srv.requests[0].query["appsecret_proof"] == appsecret_proof(TOKEN, SECRET)


def test_http_200_with_error_object_is_raised(clock: FakeTime) -> None:
    error = {"error": {"code": 190, "error_subcode": 460, "message": "revoked"}}
    with scripted(sequence(Reply(200, error))) as srv, make_client(srv, clock) as client:
        with pytest.raises(TokenInvalidError) as info:
            client.get("act_5/campaigns")
        assert info.value.account_id == "act_5"
        assert "password changed" in str(info.value)
        assert info.value.retries == 0
        assert len(srv.requests) == 1


def test_malformed_retried_a_few_times_then_raised(clock: FakeTime) -> None:
    with (
        scripted(sequence(Reply(200, "Service Unavailable", {"Content-Type": "text/html"}))) as srv,
        make_client(srv, clock) as client,
    ):
        with pytest.raises(MalformedResponseError) as info:
            list(client.iter_rows("act_1/ads"))
        assert info.value.reason == "non_json"
        assert len(srv.requests) == 3  # 1 + max_malformed_retries (2)
        assert client.stats.for_account("act_1")["totals"]["retries"] == 2


def test_malformed_then_success(clock: FakeTime) -> None:
    route = sequence(Reply(200, '{"data": [{"id": "1"}, {"i'), page([{"id": "1"}]))
    with scripted(route) as srv, make_client(srv, clock) as client:
        assert [r["id"] for r in client.iter_rows("act_1/ads")] == ["1"]
        assert len(srv.requests) == 2


def test_transient_retries_are_bounded(clock: FakeTime) -> None:
    err = {"error": {"code": 2, "is_transient": True, "message": "Service temporarily unavailable"}}
    with (
        scripted(sequence(Reply(500, err))) as srv,
        make_client(srv, clock, max_retries=3, backoff_base=1, backoff_max=4) as client,
    ):
        with pytest.raises(TransientError) as info:
            client.get("act_1")
        assert len(srv.requests) == 4
        assert info.value.retries == 3
        assert len(clock.sleeps) == 3
        for n, slept in enumerate(clock.sleeps, start=1):
            ceiling = min(4, 2 ** (n - 1))
            assert ceiling / 2 <= slept <= ceiling  # exponential with jitter


def test_transient_respects_budget(clock: FakeTime) -> None:
    with (
        scripted(sequence(Reply(503, "busy"))) as srv,
        make_client(srv, clock, max_retries=50, backoff_base=10, retry_budget_seconds=30) as client,
    ):
        with pytest.raises(TransientError):
            client.get("act_1")
        assert clock.slept <= 30


def test_permission_denied_is_not_retried(clock: FakeTime) -> None:
    err = {"error": {"code": 200, "message": "Permissions error"}}
    with scripted(sequence(Reply(403, err))) as srv, make_client(srv, clock) as client:
        with pytest.raises(PermissionDeniedError):
            client.get("act_1/insights")
        assert len(srv.requests) == 1
        assert clock.sleeps == []


def buc_header(pct: float, regain_minutes: float) -> dict[str, str]:
    entry = {
        "type": "ads_insights",
        "call_count": pct,
        "total_cputime": 1,
        "total_time": 1,
        "estimated_time_to_regain_access": regain_minutes,
    }
    return {"X-Business-Use-Case-Usage": json.dumps({"1": [entry]})}


THROTTLE = {"error": {"code": 80000, "error_subcode": 2446079, "message": "too many calls"}}


def test_throttle_waits_regain_estimate_then_succeeds(clock: FakeTime) -> None:
    route = sequence(Reply(400, THROTTLE, buc_header(100, 2)), Reply(body={"id": "act_1"}))
    with scripted(route) as srv, make_client(srv, clock) as client:
        assert client.get("act_1") == {"id": "act_1"}
        assert clock.sleeps == [120]
        totals = client.stats.for_account("act_1")["totals"]
        assert totals["calls"] == 2
        assert totals["retries"] == 1
        assert totals["throttle_waits"] == 1
        assert totals["throttle_seconds"] == 120


def test_throttle_beyond_budget_raises_with_wait(clock: FakeTime) -> None:
    route = sequence(Reply(400, THROTTLE, buc_header(100, 30)))
    with scripted(route) as srv, make_client(srv, clock, retry_budget_seconds=300) as client:
        with pytest.raises(ThrottledError) as info:
            client.get("act_1")
        assert info.value.wait_seconds == 1800
        assert len(srv.requests) == 1
        assert clock.sleeps == []
        # The next call for the account does not hammer Meta either.
        with pytest.raises(ThrottledError):
            client.get("act_1/campaigns")
        assert len(srv.requests) == 1


def test_throttle_without_estimate_backs_off(clock: FakeTime) -> None:
    err = {"error": {"code": 17, "message": "User request limit reached"}}
    route = sequence(Reply(400, err), Reply(400, err), Reply(body={"ok": True}))
    with scripted(route) as srv, make_client(srv, clock) as client:
        assert client.get("act_1") == {"ok": True}
        assert len(clock.sleeps) == 2
        assert 2.5 <= clock.sleeps[0] <= 5
        assert 5 <= clock.sleeps[1] <= 10


def test_blocked_368_waits_capped_by_budget(clock: FakeTime) -> None:
    err = {"error": {"code": 368, "message": "temporarily blocked"}}
    route = sequence(Reply(400, err), Reply(body={"ok": True}))
    with scripted(route) as srv, make_client(srv, clock, retry_budget_seconds=100) as client:
        assert client.get("act_1") == {"ok": True}
        assert clock.sleeps == [100]


def test_pacing_slows_down_before_throttle(clock: FakeTime) -> None:
    usage = {"X-Ad-Account-Usage": json.dumps({"acc_id_util_pct": 80})}
    route = sequence(Reply(body={"id": "1"}, headers=usage))
    with scripted(route) as srv, make_client(srv, clock) as client:
        client.get("act_1")
        client.get("act_1")
        client.get("act_2")  # other account: no wait
        assert clock.sleeps == [2.0]
        assert client.pacer.totals() == {"throttle_waits": 1, "throttle_seconds": 2.0}


def test_too_much_data_per_page_halves_limit(clock: FakeTime) -> None:
    reduce = {"error": {"code": 1, "message": "Please reduce the amount of data you're asking for"}}

    def route(req: Recorded, srv: ScriptedServer) -> Reply:
        if int(req.query.get("limit", "0")) > 100:
            return Reply(500, reduce)
        return page([{"id": "1"}])

    with scripted(route) as srv, make_client(srv, clock, page_limit=500) as client:
        assert len(list(client.iter_rows("act_1/ads"))) == 1
        assert [r.query["limit"] for r in srv.requests] == ["500", "250", "125", "62"]


def test_debug_and_exchange_token(clock: FakeTime) -> None:
    def route(req: Recorded, srv: ScriptedServer) -> Reply:
        if req.path.endswith("/debug_token"):
            return Reply(body={"data": {"is_valid": True, "scopes": ["ads_read"]}})
        return Reply(body={"access_token": "EAAnewlonglived" + "n" * 40, "expires_in": 5184000})

    app_token = "1234567890|appsecretpart1234567"
    with scripted(route) as srv, make_client(srv, clock) as client:
        assert client.debug_token(app_token=app_token)["is_valid"] is True
        assert srv.requests[0].query["input_token"] == TOKEN
        assert srv.requests[0].headers["authorization"] == f"Bearer {app_token}"
        result = client.exchange_token("123", SECRET, TOKEN)
        assert result["expires_in"] == 5184000
        req = srv.requests[1]
        assert req.path == "/v25.0/oauth/access_token"
        assert req.query["grant_type"] == "fb_exchange_token"
        assert req.query["fb_exchange_token"] == TOKEN
        assert "authorization" not in req.headers
        snap = client.stats.snapshot()["by_account"]["_none"]["by_endpoint"]
        assert set(snap) == {"debug_token", "oauth/access_token"}


def test_clients_share_one_tls_context_instead_of_loading_the_ca_bundle_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run makes a client per account and attempt; each used to load the CA bundle."""
    import ssl

    from ads_platform.meta.client import tls_context

    loads: list[object] = []
    real = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(args or kwargs)
        real(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    tls_context.cache_clear()
    clients = [GraphClient(base_url="https://graph.example", access_token=TOKEN) for _ in range(3)]
    for client in clients:
        client.close()
    assert len(loads) == 1
    assert tls_context().verify_mode == ssl.CERT_REQUIRED and tls_context().check_hostname
