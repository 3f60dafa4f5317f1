"""Small helpers shared by the sandbox tests (paging, insights, sums)."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import defaultdict
from decimal import Decimal
from typing import Any

import httpx

VERSION = "v25.0"


def ok(resp: httpx.Response) -> Any:
    assert resp.status_code == 200, resp.text
    return resp.json()


def get_all(client: httpx.Client, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Follow ``paging.next`` (absolute URLs) until it is absent."""
    body = ok(client.get(f"/{VERSION}/{path}", params=params))
    rows: list[dict[str, Any]] = list(body["data"])
    pages = 1
    while "next" in body.get("paging", {}):
        body = ok(client.get(body["paging"]["next"]))
        rows.extend(body["data"])
        pages += 1
        assert pages < 10_000
    return rows


def insights(
    client: httpx.Client,
    account: str,
    since: dt.date,
    until: dt.date,
    *,
    level: str = "ad",
    daily: bool = True,
    fields: str = "spend,impressions,reach,clicks,inline_link_clicks,actions,action_values",
    windows: list[str] | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    params: dict[str, Any] = {
        "level": level,
        "time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()}),
        "fields": fields,
        "limit": limit,
    }
    if daily:
        params["time_increment"] = 1
    if windows is not None:
        params["action_attribution_windows"] = json.dumps(windows)
    return get_all(client, f"{account}/insights", params)


def action_map(
    row: dict[str, Any], key: str = "actions", window: str = "value"
) -> dict[str, Decimal]:
    return {a["action_type"]: Decimal(a.get(window, "0")) for a in row.get(key, [])}


def sum_by(rows: list[dict[str, Any]], group: str) -> dict[str, dict[str, Decimal]]:
    """Additive metrics of ``rows`` summed per ``row[group]`` (actions per type too)."""
    out: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        acc = out[row[group]]
        for name in ("spend", "impressions", "clicks", "inline_link_clicks"):
            acc[name] += Decimal(row[name])
        for action_type, value in action_map(row).items():
            acc["a:" + action_type] += value
        for action_type, value in action_map(row, "action_values").items():
            acc["v:" + action_type] += value
    return {k: {n: v for n, v in acc.items() if v} for k, acc in out.items()}


ASYNC_ORDER = ("Job Not Started", "Job Started", "Job Running", "Job Completed")


def poll_until_done(
    client: httpx.Client, run_id: str, *, pause_s: float = 0.01, max_polls: int = 3000
) -> list[dict[str, Any]]:
    """Every status a run reported, polling until it left the pending states.

    Bounded by a number of polls (not a duration): a run that never finishes fails
    the test instead of hanging it.
    """
    seen: list[dict[str, Any]] = []
    for _ in range(max_polls):
        status: dict[str, Any] = ok(client.get(f"/{VERSION}/{run_id}"))
        seen.append(status)
        if status["async_status"] not in ASYNC_ORDER[:3]:
            return seen
        time.sleep(pause_s)
    raise AssertionError(f"report run {run_id} still {seen[-1]['async_status']!r}")


def assert_progresses(statuses: list[dict[str, Any]]) -> None:
    """Statuses only move forward in Meta's order and the percentage never drops."""
    ranks = [ASYNC_ORDER.index(s["async_status"]) for s in statuses]
    assert ranks == sorted(ranks), [s["async_status"] for s in statuses]
    percents = [s["async_percent_completion"] for s in statuses]
    assert percents == sorted(percents), percents
    assert (statuses[-1]["async_status"], percents[-1]) == ("Job Completed", 100)
