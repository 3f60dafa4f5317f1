"""Async report runs (complete, failed, stuck) and the batch endpoint."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx

from ads_platform.sandbox import Sandbox

from .conftest import TODAY
from .helpers import VERSION, get_all, insights, ok

SINCE, UNTIL = TODAY - dt.timedelta(days=5), TODAY - dt.timedelta(days=1)
PARAMS = {
    "level": "ad",
    "time_increment": "1",
    "time_range": json.dumps({"since": SINCE.isoformat(), "until": UNTIL.isoformat()}),
    "fields": "ad_id,spend,impressions,reach,actions",
    "action_attribution_windows": json.dumps(["7d_click", "1d_view"]),
}


def _create(client: httpx.Client, account: str, *, form: bool = False) -> str:
    if form:
        resp = client.post(f"/{VERSION}/{account}/insights", data=PARAMS)
    else:
        resp = client.post(f"/{VERSION}/{account}/insights", params=PARAMS)
    run_id: str = ok(resp)["report_run_id"]
    assert run_id.isdigit()
    return run_id


def _poll(client: httpx.Client, run_id: str) -> dict[str, Any]:
    body: dict[str, Any] = ok(client.get(f"/{VERSION}/{run_id}"))
    return body


def test_async_report_completes_and_pages_like_sync(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[2]
    for form in (False, True):
        run_id = _create(client, account, form=form)
        statuses = [_poll(client, run_id) for _ in range(4)]
        assert [(s["async_status"], s["async_percent_completion"]) for s in statuses] == [
            ("Job Not Started", 0),
            ("Job Running", 50),
            ("Job Completed", 100),
            ("Job Completed", 100),
        ]
        done = statuses[-1]
        assert done["id"] == run_id
        assert done["account_id"] == account.removeprefix("act_")
        assert (done["date_start"], done["date_stop"]) == (SINCE.isoformat(), UNTIL.isoformat())
        rows = get_all(client, f"{run_id}/insights", {"limit": 7})
        sync = insights(
            client, account, SINCE, UNTIL, fields=PARAMS["fields"], windows=["7d_click", "1d_view"]
        )
        assert rows == sync
    stats = sb.stats()["by_path"]
    assert stats[f"/{run_id}/insights"] >= 2


def test_results_before_completion_are_refused(sb: Sandbox, client: httpx.Client) -> None:
    run_id = _create(client, sb.account_ids[0])
    early = client.get(f"/{VERSION}/{run_id}/insights")
    assert early.status_code == 400
    assert early.json()["error"]["code"] == 100
    missing = client.get(f"/{VERSION}/99999999999/insights")
    assert missing.status_code == 400
    assert missing.json()["error"]["error_subcode"] == 33


def test_async_job_failed_and_stuck(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[1]
    sb.add_fault("async_job_failed", account_id=account, count=1)
    failed = _create(client, account)
    assert [_poll(client, failed)["async_status"] for _ in range(3)] == ["Job Failed"] * 3
    err = client.get(f"/{VERSION}/{failed}/insights")
    assert err.status_code == 400
    assert "Report Failed" in err.json()["error"]["message"]
    sb.add_fault("async_job_stuck", account_id=account, count=1)
    stuck = _create(client, account)
    states = [_poll(client, stuck) for _ in range(10)]
    assert {(s["async_status"], s["async_percent_completion"]) for s in states[1:]} == {
        ("Job Running", 42)
    }
    fine = _create(client, account)  # the count-limited faults are used up
    assert [_poll(client, fine)["async_status"] for _ in range(3)][-1] == "Job Completed"
    # A fault added while a run is in flight hits its next poll.
    late = _create(client, account)
    _poll(client, late)
    sb.add_fault("async_job_failed", account_id=account, count=1)
    assert _poll(client, late)["async_status"] == "Job Failed"


def test_batch(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[0]
    run_id = _create(client, account)
    batch = [
        {"method": "GET", "relative_url": f"{account}?fields=name,currency"},
        {"method": "GET", "relative_url": f"v25.0/{run_id}"},
        {"method": "GET", "relative_url": f"{account}/ads?limit=2"},
        {"method": "GET", "relative_url": "act_42"},
        {
            "method": "POST",
            "relative_url": f"{account}/insights",
            "body": "level=account&date_preset=yesterday",
        },
    ]
    resp = client.post(f"/{VERSION}/", data={"batch": json.dumps(batch)})
    results = ok(resp)
    assert [r["code"] for r in results] == [200, 200, 200, 400, 200]
    assert json.loads(results[0]["body"])["currency"] == "USD"
    assert json.loads(results[1]["body"])["async_status"] == "Job Not Started"
    page = json.loads(results[2]["body"])
    assert page["paging"]["next"].startswith(f"{sb.base_url}/{VERSION}/{account}/ads?")
    assert json.loads(results[3]["body"])["error"]["code"] == 100
    assert json.loads(results[4]["body"])["report_run_id"].isdigit()
    names = {h["name"] for h in results[0]["headers"]}
    assert {"Content-Type", "X-App-Usage", "X-Business-Use-Case-Usage"} <= names
    too_many = client.post(f"/{VERSION}/", data={"batch": json.dumps([batch[0]] * 51)})
    assert too_many.status_code == 400
    assert too_many.json()["error"]["code"] == 100
    stats = sb.stats()
    assert stats["batch_items"] >= 5
    assert stats["by_path"]["/"] >= 2


def test_faults_inside_batch_items(sb: Sandbox, client: httpx.Client) -> None:
    account, other = sb.account_ids[0], sb.account_ids[1]
    sb.add_fault("throttled", account_id=account, count=1)
    batch = [{"method": "GET", "relative_url": account}, {"method": "GET", "relative_url": other}]
    results = ok(client.post(f"/{VERSION}/", data={"batch": json.dumps(batch)}))
    assert [r["code"] for r in results] == [400, 200]
    assert json.loads(results[0]["body"])["error"]["code"] == 17
