"""Conversions keep maturing for 28 days; the ground truth equals the served ad rows."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import httpx

from ads_platform.sandbox import Sandbox

from .conftest import TODAY
from .helpers import action_map, insights

CONVERSIONS = (
    "offsite_conversion.fb_pixel_purchase",
    "omni_purchase",
    "lead",
    "complete_registration",
)


def _account_day(client: httpx.Client, account: str, day: dt.date) -> dict[str, Decimal]:
    rows = insights(
        client, account, day, day, level="account", windows=["7d_click", "1d_view", "28d_click"]
    )
    if not rows:
        return {}
    row = rows[0]
    out = {k: Decimal(row[k]) for k in ("spend", "impressions", "clicks", "inline_link_clicks")}
    for window in ("value", "7d_click", "1d_view", "28d_click"):
        for action_type, v in action_map(row, window=window).items():
            out[f"{action_type}:{window}"] = v
        for action_type, v in action_map(row, "action_values", window).items():
            out[f"$ {action_type}:{window}"] = v
    return out


def test_conversions_mature_then_freeze(sb: Sandbox, client: httpx.Client) -> None:
    young = [TODAY - dt.timedelta(days=k) for k in (0, 1, 3, 10)]
    old = TODAY - dt.timedelta(days=29)
    clocks = [TODAY + dt.timedelta(days=k) for k in (0, 1, 5, 15, 30, 45)]
    grew = 0
    for account in sb.account_ids:
        history: dict[dt.date, list[dict[str, Decimal]]] = {d: [] for d in [*young, old]}
        for clock in clocks:
            sb.set_today(clock)
            for day in history:
                history[day].append(_account_day(client, account, day))
        sb.set_today(TODAY)
        assert len({tuple(sorted(s.items())) for s in history[old]}) == 1  # older than 28: frozen
        for day in young:
            series = history[day]
            for before, after in itertools.pairwise(series):
                for key, value in before.items():
                    if ":" in key:
                        assert after.get(key, Decimal(0)) >= value, (account, day, key)
            closed = series[1:] if day == TODAY else series
            for snapshot in closed:  # delivery numbers never change once the day is over
                assert {k: snapshot[k] for k in ("spend", "impressions", "clicks")} == {
                    k: closed[0][k] for k in ("spend", "impressions", "clicks")
                }
            assert series[-1] == series[-2]  # final once 28 days old
            first = sum(
                v
                for k, v in series[0].items()
                if k.endswith(":value") and k.split(":")[0] in CONVERSIONS
            )
            last = sum(
                v
                for k, v in series[-1].items()
                if k.endswith(":value") and k.split(":")[0] in CONVERSIONS
            )
            grew += last > first
    assert grew >= 3


def test_truth_equals_summed_ad_rows(sb: Sandbox, client: httpx.Client) -> None:
    since, until = TODAY - dt.timedelta(days=9), TODAY + dt.timedelta(days=1)
    for account in sb.account_ids:
        truth = sb.truth(account, since, until)
        rows = insights(client, account, since, until)
        account_rows = {
            r["date_start"]: r
            for r in insights(client, account, since, until, level="account", fields="reach")
        }
        assert [d["date"] for d in truth["days"]] == [
            (since + dt.timedelta(days=k)).isoformat() for k in range(len(truth["days"]))
        ]
        assert truth["days"][-1]["date"] == truth["account_today"]
        for day in truth["days"]:
            day_rows = [r for r in rows if r["date_start"] == day["date"]]
            assert Decimal(str(day["spend"])) == sum(
                (Decimal(r["spend"]) for r in day_rows), Decimal(0)
            )
            assert day["impressions"] == sum(int(r["impressions"]) for r in day_rows)
            assert day["clicks"] == sum(int(r["clicks"]) for r in day_rows)
            assert day["link_clicks"] == sum(int(r["inline_link_clicks"]) for r in day_rows)
            conversions: dict[str, int] = {}
            values: dict[str, Decimal] = {}
            for r in day_rows:
                for k, v in action_map(r).items():
                    conversions[k] = conversions.get(k, 0) + int(v)
                for k, v in action_map(r, "action_values").items():
                    values[k] = values.get(k, Decimal(0)) + v
            assert day["conversions"] == {k: v for k, v in conversions.items() if v}
            assert {k: Decimal(str(v)) for k, v in day["conversion_values"].items()} == {
                k: v for k, v in values.items() if v
            }
            if day_rows:
                assert day["reach"] == int(account_rows[day["date"]]["reach"])
            else:
                assert day["reach"] == 0 and day["spend"] == 0
        assert truth["totals"]["impressions"] == sum(int(r["impressions"]) for r in rows)
