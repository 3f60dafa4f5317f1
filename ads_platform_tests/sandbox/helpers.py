"""Small helpers shared by the sandbox tests (paging, insights, sums)."""

from __future__ import annotations

import datetime as dt
import json
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
