"""Async report runs (meta/reports.py) over real loopback HTTP against a scripted server.

The sandbox's async faults are in test_client_sandbox.py; these pin down the poll loop,
the give-up rules and the range splitting precisely, with fake time.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from typing import Any

import pytest

from ads_platform.meta import AsyncJobError, MalformedResponseError, TooMuchDataError

from .helpers import FakeTime, Recorded, Reply, ScriptedServer, scripted
from .test_client_http import make_client, page


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


def test_a_range_refused_as_too_large_is_asked_in_halves_and_a_refused_half_goes_async(
    clock: FakeTime,
) -> None:
    too_much = {"error": {"code": 100, "error_subcode": 1504018, "message": "too much data"}}
    whole = '{"since":"2026-01-01","until":"2026-01-04"}'

    def route(req: Recorded, srv: ScriptedServer) -> Reply:
        if req.method == "GET" and req.path.endswith("act_1/insights"):
            if req.query["time_range"] == whole or "01-03" in req.query["time_range"]:
                return Reply(400, too_much)  # the range, and its second half, refused
            return page([{"date_start": "2026-01-01"}, {"date_start": "2026-01-02"}])
        if req.method == "POST":
            return Reply(body={"report_run_id": "555"})
        if req.path.endswith("/555"):
            return Reply(
                body={"id": "555", "async_status": "Job Completed", "async_percent_completion": 100}
            )
        return page([{"date_start": "2026-01-03"}, {"date_start": "2026-01-04"}])

    with scripted(route) as srv, make_client(srv, clock) as client:
        rows = list(client.iter_insights("act_1", dt.date(2026, 1, 1), dt.date(2026, 1, 4)))
        assert [r["date_start"] for r in rows] == [
            "2026-01-01",
            "2026-01-02",
            "2026-01-03",
            "2026-01-04",
        ]
        asked = [
            (
                r.method,
                r.query.get("time_range") or dict(urllib.parse.parse_qsl(r.body))["time_range"],
            )
            for r in srv.requests
            if r.method == "POST" or r.path.endswith("act_1/insights")
        ]
        assert asked == [
            ("GET", whole),
            ("GET", '{"since":"2026-01-01","until":"2026-01-02"}'),  # the first half: sync
            ("GET", '{"since":"2026-01-03","until":"2026-01-04"}'),  # refused again
            ("POST", '{"since":"2026-01-03","until":"2026-01-04"}'),  # so: a report run
        ]
        with pytest.raises(TooMuchDataError):
            list(
                client.iter_insights("act_1", dt.date(2026, 1, 1), dt.date(2026, 1, 4), mode="sync")
            )


def test_a_query_refused_at_every_size_costs_three_refusals_and_two_report_runs(
    clock: FakeTime,
) -> None:
    too_much = {"error": {"code": 100, "error_subcode": 1504018, "message": "too much data"}}

    def route(req: Recorded, srv: ScriptedServer) -> Reply:
        if req.method == "GET" and req.path.endswith("act_1/insights"):
            return Reply(400, too_much)
        if req.method == "POST":
            return Reply(body={"report_run_id": "555"})
        if req.path.endswith("/555"):
            return Reply(
                body={"id": "555", "async_status": "Job Completed", "async_percent_completion": 100}
            )
        return page([{"date_start": "2026-01-01"}])

    with scripted(route) as srv, make_client(srv, clock) as client:
        rows = list(client.iter_insights("act_1", dt.date(2026, 1, 1), dt.date(2026, 1, 30)))
        assert len(rows) == 2  # one page from each half's report run
        refused = [
            r for r in srv.requests if r.method == "GET" and r.path.endswith("act_1/insights")
        ]
        assert len(refused) == 3
        assert [r.method for r in srv.requests].count("POST") == 2


def test_async_stuck_job_is_bounded_and_split(clock: FakeTime) -> None:
    runs: dict[str, tuple[str, str]] = {}

    def route(req: Recorded, srv: ScriptedServer) -> Reply:
        if req.method == "POST":
            form = dict(urllib.parse.parse_qsl(req.body))
            rng = json.loads(form["time_range"])
            run_id = str(100 + len(runs))
            runs[run_id] = (rng["since"], rng["until"])
            return Reply(body={"report_run_id": run_id})
        run_id = req.path.split("/")[2]
        since, until = runs[run_id]
        if req.path.endswith("/insights"):
            day = dt.date.fromisoformat(since)
            rows = []
            while day <= dt.date.fromisoformat(until):
                rows.append({"date_start": day.isoformat()})
                day += dt.timedelta(days=1)
            return page(rows)
        # Ranges longer than 2 days never leave "Job Not Started".
        days = (dt.date.fromisoformat(until) - dt.date.fromisoformat(since)).days + 1
        status = "Job Not Started" if days > 2 else "Job Completed"
        return Reply(body={"id": run_id, "async_status": status, "async_percent_completion": 0})

    with (
        scripted(route) as srv,
        make_client(srv, clock, async_poll_timeout=60, async_poll_interval=1) as client,
    ):
        rows = list(
            client.iter_insights("act_1", dt.date(2026, 1, 1), dt.date(2026, 1, 8), mode="async")
        )
        dates = [r["date_start"] for r in rows]
        assert dates == [f"2026-01-0{d}" for d in range(1, 9)]  # each day exactly once
        assert len(runs) == 7  # 1-8 → 1-4, 5-8 → 1-2, 3-4, 5-6, 7-8
        # Polling was bounded per job: fake time only advanced by poll sleeps.
        assert clock.slept <= 3 * 60


def _report_server(statuses: list[dict[str, Any]], run_id: Any = "777") -> Any:
    """A server whose report run answers the polls with ``statuses`` in turn."""
    polls = iter(statuses)

    def route(req: Recorded, srv: ScriptedServer) -> Reply:
        if req.method == "POST":
            return Reply(body={"report_run_id": run_id})
        return Reply(body={"id": str(run_id), **next(polls)})

    return scripted(route)


def test_a_report_run_is_polled_with_a_growing_interval_until_it_completes(
    clock: FakeTime,
) -> None:
    statuses = [
        {"async_status": "Job Not Started", "async_percent_completion": 0},
        {"async_status": "Job Running", "async_percent_completion": 40},
        {"async_status": "Job Running", "async_percent_completion": 80},
        {"async_status": "Job Completed", "async_percent_completion": 100},
    ]
    with (
        _report_server(statuses, run_id=777) as srv,
        make_client(srv, clock, async_poll_interval=2, async_poll_max_interval=3) as client,
    ):
        params = {"level": "ad", "fields": ["spend"]}
        run_id = client.reports.run("1", dt.date(2026, 1, 1), dt.date(2026, 1, 2), params)
        assert run_id == "777"  # a numeric id is read as the id it is
        assert clock.slept == pytest.approx(2 + 3 + 3)  # 2, then ×1.5 capped at 3
        post = dict(urllib.parse.parse_qsl(srv.requests[0].body))
        assert json.loads(post["time_range"]) == {"since": "2026-01-01", "until": "2026-01-02"}
        assert srv.requests[0].path.endswith("/act_1/insights")
        assert [r.method for r in srv.requests] == ["POST", "GET", "GET", "GET", "GET"]


@pytest.mark.parametrize(
    ("statuses", "reason"),
    [
        ([{"async_status": "Job Failed", "async_percent_completion": 10}], "failed"),
        ([{"async_status": "Job Skipped"}], "skipped"),
        ([{"async_status": "Job Not Started", "async_percent_completion": 0}] * 50, "stuck"),
        (
            [{"async_status": "Job Running", "async_percent_completion": p} for p in range(1, 51)],
            "timed_out",
        ),
    ],
)
def test_a_report_run_that_fails_is_skipped_or_hangs_raises_with_its_reason(
    clock: FakeTime, statuses: list[dict[str, Any]], reason: str
) -> None:
    with (
        _report_server(statuses) as srv,
        make_client(srv, clock, async_poll_timeout=10, async_poll_interval=1) as client,
        pytest.raises(AsyncJobError) as raised,
    ):
        client.reports.run("act_1", dt.date(2026, 1, 1), dt.date(2026, 1, 1), {})
    assert raised.value.reason == reason
    assert clock.slept <= 10


def test_a_poll_answer_without_a_status_is_malformed_not_still_running(clock: FakeTime) -> None:
    with (
        _report_server([{"async_percent_completion": 50}]) as srv,
        make_client(srv, clock) as client,
        pytest.raises(MalformedResponseError),
    ):
        client.reports.run("act_1", dt.date(2026, 1, 1), dt.date(2026, 1, 1), {})
    assert clock.slept == 0


def test_a_report_run_id_that_is_not_an_id_is_malformed(clock: FakeTime) -> None:
    with (
        _report_server([], run_id=["x"]) as srv,
        make_client(srv, clock) as client,
        pytest.raises(MalformedResponseError, match="report_run_id"),
    ):
        client.reports.run("act_1", dt.date(2026, 1, 1), dt.date(2026, 1, 1), {})
