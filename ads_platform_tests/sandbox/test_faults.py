"""Every fault produces its documented response; count-limited faults expire."""

from __future__ import annotations

import datetime as dt
import json
import socket

import httpx
import pytest

from ads_platform.sandbox import FAULT_NAMES, Sandbox

from .conftest import TODAY, TOKEN
from .helpers import VERSION, insights, ok


def _error(resp: httpx.Response, status: int) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    error: dict[str, object] = resp.json()["error"]
    assert {"message", "type", "code", "fbtrace_id", "is_transient"} <= set(error)
    return error


def _usage(resp: httpx.Response) -> tuple[float, dict[str, object]]:
    acc = json.loads(resp.headers["X-Ad-Account-Usage"])
    buc = json.loads(resp.headers["X-Business-Use-Case-Usage"])
    (entries,) = buc.values()
    return float(acc["acc_id_util_pct"]), entries[0]


def test_fault_names_are_the_documented_ones() -> None:
    assert set(FAULT_NAMES) == {
        "token_expired",
        "token_revoked",
        "permission_denied",
        "throttled",
        "server_error",
        "timeout",
        "connection_reset",
        "malformed_json",
        "truncated_page",
        "looping_next",
        "async_job_failed",
        "async_job_stuck",
        "zeros",
        "drop_field",
    }


def test_token_faults(sb: Sandbox, client: httpx.Client) -> None:
    account, other = sb.account_ids[0], sb.account_ids[1]
    sb.add_fault("token_expired", account_id=account)
    error = _error(client.get(f"/{VERSION}/{account}"), 400)
    assert (error["code"], error["error_subcode"], error["type"]) == (190, 463, "OAuthException")
    assert "Session has expired" in str(error["message"])
    assert ok(client.get(f"/{VERSION}/{other}"))["id"] == other  # scoped to the account
    debug = ok(client.get(f"/{VERSION}/debug_token", params={"input_token": TOKEN}))["data"]
    assert debug["is_valid"] is False
    assert debug["expires_at"] < dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC).timestamp()
    sb.clear_faults()
    sb.add_fault("token_revoked", account_id=account)
    error = _error(client.get(f"/{VERSION}/{account}/campaigns"), 400)
    assert (error["code"], error["error_subcode"]) == (190, 460)
    assert "password" in str(error["message"])


def test_permission_denied(sb: Sandbox, client: httpx.Client) -> None:
    sb.add_fault("permission_denied", account_id=sb.account_ids[1])
    error = _error(client.get(f"/{VERSION}/{sb.account_ids[1]}/ads"), 403)
    assert error["code"] == 200
    assert "NOT grant" in str(error["message"])


def test_throttled_cycles_meta_codes_and_maxes_only_that_accounts_usage(
    sb: Sandbox, client: httpx.Client
) -> None:
    account, other = sb.account_ids[1], sb.account_ids[2]
    sb.add_fault("throttled", account_id=account, count=4)
    seen = []
    for _ in range(4):
        resp = client.get(f"/{VERSION}/{account}/insights")
        error = _error(resp, 400)
        seen.append(error["code"])
        assert error["error_subcode"] == 2446079
        assert error["is_transient"] is True
        pct, entry = _usage(resp)
        assert pct == 100
        assert entry["call_count"] == 100
        assert entry["estimated_time_to_regain_access"] == 0
        # Keyed by the ad account id, as Meta keys Business Use Case usage.
        assert list(json.loads(resp.headers["X-Business-Use-Case-Usage"])) == [
            account.removeprefix("act_")
        ]
        throttle = json.loads(resp.headers["X-FB-Ads-Insights-Throttle"])
        assert throttle["acc_id_util_pct"] == 100
        # One account's throttle is not app-wide load.
        assert throttle["app_id_util_pct"] < 100
        assert json.loads(resp.headers["X-App-Usage"])["call_count"] < 100
    assert seen == [17, 80000, 613, 17]
    sb.add_fault("throttled", account_id=account)
    healthy = client.get(f"/{VERSION}/{other}")
    assert _usage(healthy)[0] < 100
    assert json.loads(healthy.headers["X-App-Usage"])["call_count"] < 100
    sb.clear_faults()
    after = client.get(f"/{VERSION}/{account}/insights")
    assert after.status_code == 200
    assert _usage(after)[0] < 75
    sb.add_fault("throttled", account_id=account, regain_seconds=90)
    assert _usage(client.get(f"/{VERSION}/{account}"))[1]["estimated_time_to_regain_access"] == 1.5


def test_drop_field_removes_the_field_from_the_object_and_its_data(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[0]
    sb.add_fault("drop_field", account_id=account, count=2, field="name")
    node = ok(client.get(f"/{VERSION}/{account}", params={"fields": "id,currency,name"}))
    assert "name" not in node and node["id"] == account and node["currency"]
    rows = ok(client.get(f"/{VERSION}/{account}/campaigns", params={"fields": "id,name"}))["data"]
    assert rows and all("name" not in r and r["id"] for r in rows)
    assert ok(client.get(f"/{VERSION}/{account}", params={"fields": "name"}))["name"]  # count used
    sb.add_fault("drop_field", account_id=account, count=1, field="campaign_id")
    page = ok(
        client.get(
            f"/{VERSION}/{account}/insights",
            params={"level": "campaign", "fields": "campaign_id,spend", "date_preset": "last_7d"},
        )
    )
    assert page["data"] and all("campaign_id" not in r and "spend" in r for r in page["data"])
    with pytest.raises(httpx.HTTPStatusError):
        client.post(
            "/__sandbox/faults", json={"fault": "drop_field", "account_id": account}
        ).raise_for_status()


def test_server_error_burst_then_success(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[0]
    sb.add_fault("server_error", account_id=account, count=2)
    first = client.get(f"/{VERSION}/{account}")
    error = _error(first, 500)
    assert (error["code"], error["is_transient"]) == (2, True)
    second = client.get(f"/{VERSION}/{account}")
    assert second.status_code == 503
    assert second.text == "Service Unavailable"
    assert "X-App-Usage" in second.headers
    assert client.get(f"/{VERSION}/{account}").status_code == 200
    assert sb.faults() == []


def test_timeout_sleeps_then_answers_or_drops(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[0]
    sb.add_fault("timeout", account_id=account, count=1, seconds=0.6)
    with pytest.raises(httpx.ReadTimeout):
        client.get(f"/{VERSION}/{account}", timeout=0.2)
    assert client.get(f"/{VERSION}/{account}").status_code == 200
    sb.add_fault("timeout", account_id=account, count=1, seconds=0.05, drop=True)
    with pytest.raises(httpx.TransportError):
        client.get(f"/{VERSION}/{account}")
    assert client.get(f"/{VERSION}/{account}").status_code == 200


def test_connection_reset_cuts_the_connection_with_a_tcp_reset(
    sb: Sandbox, client: httpx.Client
) -> None:
    account, other = sb.account_ids[0], sb.account_ids[1]
    sb.add_fault("connection_reset", account_id=account, count=1)
    assert client.get(f"/{VERSION}/{other}").status_code == 200  # scoped to the account
    with pytest.raises(httpx.ReadError) as raised:
        client.get(f"/{VERSION}/{account}")
    reset = raised.value.__context__ or raised.value.__cause__
    while reset is not None and not isinstance(reset, ConnectionResetError):
        reset = reset.__context__ or reset.__cause__
    assert isinstance(reset, ConnectionResetError), repr(raised.value)  # RST, not a clean FIN
    assert client.get(f"/{VERSION}/{account}").status_code == 200  # a new connection works
    assert sb.faults() == []


def test_a_raw_socket_reads_econnreset_not_an_empty_answer(sb: Sandbox) -> None:
    account = sb.account_ids[0]
    sb.add_fault("connection_reset", account_id=account, count=1)
    host, port = sb.base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(
            f"GET /{VERSION}/{account} HTTP/1.1\r\nHost: sandbox\r\n"
            f"Authorization: Bearer {TOKEN}\r\n\r\n".encode()
        )
        with pytest.raises(ConnectionResetError):
            _read_to_the_end(conn)


def _read_to_the_end(conn: socket.socket) -> None:
    while conn.recv(4096):
        pass


def test_after_lets_the_first_requests_through_then_the_fault_applies(
    sb: Sandbox, client: httpx.Client
) -> None:
    account, other = sb.account_ids[0], sb.account_ids[1]
    sb.add_fault("token_expired", account_id=account, after=2)
    debug = ok(client.get(f"/{VERSION}/debug_token", params={"input_token": TOKEN}))["data"]
    assert debug["is_valid"] is True  # not in force yet: invisible
    assert ok(client.get(f"/{VERSION}/{other}"))["id"] == other  # other accounts do not count
    assert ok(client.get(f"/{VERSION}/{account}"))["id"] == account
    assert sb.faults()[0]["after"] == 1
    assert ok(client.get(f"/{VERSION}/{account}/campaigns"))["data"]
    for _ in range(2):  # in force from the third request on, until cleared
        assert _error(client.get(f"/{VERSION}/{account}"), 400)["code"] == 190
    (fault,) = sb.faults()
    assert (fault["after"], fault["hits"]) == (0, 2)


def test_after_counts_only_the_requests_the_fault_applies_to(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[0]
    whole = client.get(f"/{VERSION}/{account}/ads").content
    sb.add_fault("truncated_page", account_id=account, count=1, after=1)
    assert client.get(f"/{VERSION}/{account}").status_code == 200  # not a page: not counted
    assert client.get(f"/{VERSION}/{account}/ads").content == whole  # the page let through
    cut = client.get(f"/{VERSION}/{account}/ads").content
    assert whole.startswith(cut) and len(cut) < len(whole)
    assert client.get(f"/{VERSION}/{account}/ads").content == whole  # count used up
    assert sb.faults() == []


def test_a_fault_waiting_its_turn_does_not_hide_a_younger_one(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[0]
    sb.add_fault("permission_denied", account_id=account, after=1)
    sb.add_fault("server_error", account_id=account, count=1)
    assert client.get(f"/{VERSION}/{account}").status_code == 500  # the younger one applies
    assert _error(client.get(f"/{VERSION}/{account}"), 403)["code"] == 200
    with pytest.raises(ValueError, match="after must be >= 0"):
        sb.add_fault("zeros", account_id=account, after=-1)


def test_malformed_json(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[0]
    sb.add_fault("malformed_json", account_id=account, count=2)
    for _ in range(2):
        resp = client.get(f"/{VERSION}/{account}/campaigns")
        assert resp.status_code == 200
        assert "Service Unavailable" in resp.text
        with pytest.raises(ValueError):
            resp.json()
    assert ok(client.get(f"/{VERSION}/{account}/campaigns"))["data"]


def test_truncated_page_only_hits_lists(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[0]
    whole = client.get(f"/{VERSION}/{account}/ads").content
    sb.add_fault("truncated_page", account_id=account, count=1)
    assert client.get(f"/{VERSION}/{account}").status_code == 200  # not a page: unaffected
    cut = client.get(f"/{VERSION}/{account}/ads")
    assert cut.status_code == 200
    assert whole.startswith(cut.content) and len(cut.content) < len(whole)
    with pytest.raises(ValueError):
        cut.json()
    assert client.get(f"/{VERSION}/{account}/ads").content == whole


def test_looping_next_points_back_at_itself(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[0]
    sb.add_fault("looping_next", account_id=account)
    body = ok(client.get(f"/{VERSION}/{account}/ads", params={"limit": 500}))
    first_next = body["paging"]["next"]  # present although everything fit on one page
    again = ok(client.get(first_next))
    assert again["paging"]["next"] == first_next
    page = ok(client.get(f"/{VERSION}/{account}/ads", params={"limit": 3}))
    loop = ok(client.get(page["paging"]["next"]))
    assert loop["paging"]["next"] == page["paging"]["next"]


def test_zeros_keep_rows_but_zero_every_metric(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[1]
    day = TODAY - dt.timedelta(days=2)
    real = insights(client, account, day, day)
    sb.add_fault("zeros", account_id=account)
    assert client.get(f"/{VERSION}/{account}/ads").status_code == 200
    zeroed = insights(client, account, day, day)
    assert [r["ad_id"] for r in zeroed] == [r["ad_id"] for r in real]
    for row in zeroed:
        assert row["spend"] == "0.00" or row["spend"] == "0"
        assert (
            row["impressions"] == row["clicks"] == row["inline_link_clicks"] == row["reach"] == "0"
        )
        assert "actions" not in row and "action_values" not in row
    truth_day = sb.truth(account, day, day)["days"][0]
    assert truth_day["impressions"] == sum(
        int(r["impressions"]) for r in real
    )  # truth ignores faults


def test_global_faults_and_control_paths(sb: Sandbox, client: httpx.Client) -> None:
    sb.add_fault("server_error")
    for account in sb.account_ids:
        assert client.get(f"/{VERSION}/{account}").status_code in (500, 503)
    assert client.get(f"/{VERSION}/me/adaccounts").status_code in (500, 503)
    assert client.get("/__sandbox/health").json() == {"status": "ok"}
    listed = sb.faults()
    assert listed[0]["fault"] == "server_error" and listed[0]["account_id"] is None
    assert listed[0]["hits"] == 4
    sb.clear_faults()
    assert client.get(f"/{VERSION}/me/adaccounts").status_code == 200


def test_unknown_fault_is_rejected(sb: Sandbox) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        sb.add_fault("gremlins")
    with pytest.raises(ValueError, match="unknown account"):
        sb.add_fault("zeros", account_id="act_1")
