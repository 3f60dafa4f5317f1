"""Async report runs (timing, complete, failed, stuck) and the batch endpoint."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ads_platform.sandbox import Sandbox
from ads_platform.sandbox.clock import ClockView
from ads_platform.sandbox.insights import parse_query
from ads_platform.sandbox.reports import NORMAL, ReportBook, job_delay_seconds
from ads_platform.sandbox.world import World

from .conftest import TODAY, TOKEN
from .helpers import VERSION, assert_progresses, get_all, insights, ok, poll_until_done

SINCE, UNTIL = TODAY - dt.timedelta(days=5), TODAY - dt.timedelta(days=1)
PARAMS = {
    "level": "ad",
    "time_increment": "1",
    "time_range": json.dumps({"since": SINCE.isoformat(), "until": UNTIL.isoformat()}),
    "fields": "ad_id,spend,impressions,reach,actions",
    "action_attribution_windows": json.dumps(["7d_click", "1d_view"]),
}


@pytest.fixture(scope="module")
def realistic() -> Iterator[Sandbox]:
    """A sandbox with Meta-like async timing (the default scale), for "not done yet"."""
    with Sandbox(seed=7, accounts=3, today=TODAY) as slow:
        yield slow


#: Delays a tenth of Meta's (seconds, not minutes): long enough that the first poll
#: finds the run pending even on a loaded machine, short enough for a unit test.
TENTH = 0.1


@pytest.fixture(scope="module")
def tenth() -> Iterator[Sandbox]:
    """A sandbox whose async runs take a tenth of the realistic delay."""
    with Sandbox(seed=7, accounts=3, latency_ms=0, today=TODAY, async_delay_scale=TENTH) as sb:
        yield sb


def _client(sandbox: Sandbox) -> httpx.Client:
    return httpx.Client(
        base_url=sandbox.base_url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        trust_env=False,
        timeout=30.0,
    )


@pytest.fixture
def slow_client(realistic: Sandbox) -> Iterator[httpx.Client]:
    with _client(realistic) as c:
        yield c
    realistic.clear_faults()


@pytest.fixture
def tenth_client(tenth: Sandbox) -> Iterator[httpx.Client]:
    with _client(tenth) as c:
        yield c


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
        statuses = poll_until_done(client, run_id)
        assert_progresses(statuses)
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


def test_a_realistic_run_is_not_complete_right_after_creation(
    realistic: Sandbox, slow_client: httpx.Client
) -> None:
    run_id = _create(slow_client, realistic.account_ids[0])
    first = _poll(slow_client, run_id)
    assert first["async_status"] in ("Job Not Started", "Job Started", "Job Running")
    assert first["async_percent_completion"] < 100
    assert first["is_running"] is True
    early = slow_client.get(f"/{VERSION}/{run_id}/insights")
    assert early.status_code == 400
    assert early.json()["error"]["code"] == 100
    assert "not complete yet" in early.json()["error"]["message"]
    missing = slow_client.get(f"/{VERSION}/99999999999/insights")
    assert missing.status_code == 400
    assert missing.json()["error"]["error_subcode"] == 33


def test_a_run_completes_only_after_its_seeded_delay(
    tenth: Sandbox, tenth_client: httpx.Client
) -> None:
    account = tenth.account_ids[1]
    spec = World(7, 3, None).account(account)
    assert spec is not None
    delay = job_delay_seconds(7, parse_query(PARAMS, spec, ClockView(TODAY)), TENTH)
    assert delay > 0
    started = time.monotonic()
    run_id = _create(tenth_client, account)
    statuses = poll_until_done(tenth_client, run_id, pause_s=delay / 10)
    seen_done = time.monotonic()
    assert_progresses(statuses)
    assert len(statuses) > 1  # it was polled while still pending
    # The server declared it complete no earlier than ``delay`` after it was created,
    # which happened after ``started``; so the completing answer came after that.
    assert seen_done - started >= delay


def test_run_status_follows_elapsed_time_through_metas_states() -> None:
    now = [0.0]
    book = ReportBook(seed=7, now=lambda: now[0])
    query = parse_query(PARAMS, World(7, 3, None).accounts[0], ClockView(TODAY))
    run = book.create(query, {}, ClockView(TODAY), NORMAL, delay_s=16.0)
    seen = []
    for elapsed in (0.0, 1.0, 2.0, 3.0, 8.0, 14.0, 15.5):
        now[0] = elapsed
        seen.append(book.poll(run, None))
        assert not book.completed(run)
    now[0] = 16.0
    seen.append(book.poll(run, None))
    assert book.completed(run)
    assert [(s["async_status"], s["async_percent_completion"]) for s in seen] == [
        ("Job Not Started", 0),
        ("Job Not Started", 0),
        ("Job Started", 12),
        ("Job Started", 18),
        ("Job Running", 50),
        ("Job Running", 87),
        ("Job Running", 96),
        ("Job Completed", 100),
    ]
    assert [s["is_running"] for s in seen] == [True] * 7 + [False]


def test_job_delay_is_seeded_realistic_and_grows_with_account_days() -> None:
    world = World(7, 3, None)
    clock = ClockView(TODAY)

    def query(days: int, level: str, account: int = 0) -> Any:
        since = TODAY - dt.timedelta(days=days)
        rng = json.dumps(
            {"since": since.isoformat(), "until": (TODAY - dt.timedelta(1)).isoformat()}
        )
        params = {"level": level, "time_range": rng, "time_increment": "1"}
        return parse_query(params, world.accounts[account], clock)

    one_day = query(1, "account")
    assert job_delay_seconds(7, one_day, 1.0) == job_delay_seconds(7, one_day, 1.0)
    by_seed = {job_delay_seconds(seed, one_day, 1.0) for seed in range(1, 9)}
    assert len(by_seed) == 8  # the seed draws the jitter
    by_account = {job_delay_seconds(7, query(1, "account", a), 1.0) for a in range(3)}
    assert len(by_account) == 3
    delays = [job_delay_seconds(seed, q, 1.0) for seed in range(20) for q in (one_day,)]
    assert all(1.0 <= d <= 10.0 for d in delays)  # a day at account level: seconds
    month_of_ads = [job_delay_seconds(seed, query(30, "ad"), 1.0) for seed in range(20)]
    assert all(5.0 <= d <= 60.0 for d in month_of_ads)  # a month of ads: tens of seconds
    assert min(month_of_ads) > max(delays)
    year_of_ads = job_delay_seconds(7, query(365, "ad"), 1.0)
    assert max(month_of_ads) < year_of_ads <= 300.0
    assert job_delay_seconds(7, one_day, 0.01) == pytest.approx(
        job_delay_seconds(7, one_day, 1.0) / 100
    )
    assert job_delay_seconds(7, one_day, 0.0) == 0.0


def test_scale_zero_completes_runs_at_creation() -> None:
    with (
        Sandbox(seed=7, accounts=1, today=TODAY, async_delay_scale=0) as instant,
        httpx.Client(
            base_url=instant.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, trust_env=False
        ) as c,
    ):
        run_id = _create(c, instant.account_ids[0])
        assert _poll(c, run_id)["async_status"] == "Job Completed"
        assert get_all(c, f"{run_id}/insights", {"limit": 100})


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
    assert poll_until_done(client, fine)[-1]["async_status"] == "Job Completed"


def test_a_fault_added_while_a_run_is_in_flight_hits_its_next_poll(
    realistic: Sandbox, slow_client: httpx.Client
) -> None:
    account = realistic.account_ids[1]
    late = _create(slow_client, account)
    assert _poll(slow_client, late)["async_status"] != "Job Completed"
    realistic.add_fault("async_job_failed", account_id=account, count=1)
    assert _poll(slow_client, late)["async_status"] == "Job Failed"


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
    polled = json.loads(results[1]["body"])
    assert polled["id"] == run_id
    assert polled["async_status"] in (
        "Job Not Started",
        "Job Started",
        "Job Running",
        "Job Completed",
    )
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


def test_stats_tell_a_report_runs_creation_from_a_synchronous_read(
    sb: Sandbox, client: httpx.Client
) -> None:
    """Both are ``act_x/insights`` (POST and GET); ``by_op`` keeps them apart."""
    account = sb.account_ids[0]
    sb.reset_stats()
    run_id = _create(client, account)
    _poll(client, run_id)
    ok(client.get(f"/{VERSION}/{account}/insights"))
    stats = sb.stats()
    assert stats["by_path"] == {f"/{account}/insights": 2, f"/{run_id}": 1}
    assert stats["by_op"] == {"report_create": 1, "report": 1, "insights": 1}
