"""Values without counts: some ad-days list a purchase value in ``action_values`` and no
purchase in ``actions``, as Meta does, deterministically from the seed."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

import httpx

from ads_platform.sandbox import Sandbox

from .conftest import TODAY
from .helpers import get_all, insights

SINCE = TODAY - dt.timedelta(days=9)
UNTIL = TODAY - dt.timedelta(days=1)
WINDOWS = ["1d_click", "7d_click", "28d_click", "1d_view"]
VALUE_TYPES = ("offsite_conversion.fb_pixel_purchase", "omni_purchase")
ValueOnly = dict[tuple[str, str, str], dict[str, Any]]


def _value_only(rows: list[dict[str, Any]]) -> ValueOnly:
    """(date, ad, action type) -> the action_values element, where actions has no element."""
    out: ValueOnly = {}
    for row in rows:
        counted = {a["action_type"] for a in row.get("actions", [])}
        for element in row.get("action_values", []):
            if element["action_type"] not in counted:
                out[(row["date_start"], row["ad_id"], element["action_type"])] = element
    return out


def _pull(sb: Sandbox, client: httpx.Client) -> dict[str, ValueOnly]:
    return {
        account: _value_only(insights(client, account, SINCE, UNTIL, windows=WINDOWS))
        for account in sb.account_ids
    }


def _days_and_values(pulled: dict[str, ValueOnly]) -> list[set[tuple[str, str]]]:
    """Per account, (day, value) of each value without counts: ids differ by seed anyway."""
    return [{(key[0], e["value"]) for key, e in found.items()} for found in pulled.values()]


def test_some_ad_days_serve_a_purchase_value_without_a_purchase_count(
    sb: Sandbox, client: httpx.Client
) -> None:
    n_rows = n_value_only = 0
    first_days = {SINCE.isoformat(), (SINCE + dt.timedelta(days=1)).isoformat()}
    for account in sb.account_ids:
        rows = insights(client, account, SINCE, UNTIL, windows=WINDOWS)
        n_rows += len(rows)
        found = _value_only(rows)
        n_value_only += len({(day, ad) for day, ad, _ in found})
        assert {t for _, _, t in found} <= set(VALUE_TYPES)
        truth = sb.truth(account, SINCE, UNTIL)
        expected = {
            (v["date"], v["ad_id"], v["action_type"]): v for v in truth["values_without_counts"]
        }
        assert found.keys() == expected.keys(), account
        decimals = 0 if truth["currency"] == "JPY" else 2
        money = re.compile(r"\d+" if decimals == 0 else r"\d+\.\d{2}")
        for key, element in found.items():
            # Meta's wire format: every figure a money string; the default value is
            # 7d_click + 1d_view, a window key absent means 0.
            assert all(isinstance(v, str) for v in element.values()), element
            for name in ("value", *WINDOWS):
                if name in element:
                    assert money.fullmatch(element[name]), element
            window = {w: Decimal(element.get(w, "0")) for w in WINDOWS}
            assert Decimal(element["value"]) > 0
            assert Decimal(element["value"]) == window["7d_click"] + window["1d_view"]
            assert window["1d_click"] <= window["7d_click"] <= window["28d_click"]
            for name in ("value", *WINDOWS):
                assert Decimal(element.get(name, "0")) == Decimal(str(expected[key][name])), key
        assert any(day in first_days for day, _, _ in found), account
    # A small fraction: about one ad-day in twenty.
    assert 0.02 * n_rows <= n_value_only <= 0.10 * n_rows, (n_value_only, n_rows)


def test_values_without_counts_are_the_seed_s_and_stay_countless_while_they_mature(
    sb: Sandbox, client: httpx.Client
) -> None:
    first = _pull(sb, client)
    assert first == _pull(sb, client)
    headers = client.headers
    with (
        Sandbox(seed=7, accounts=3, today=TODAY) as twin,
        httpx.Client(base_url=twin.base_url, headers=headers, trust_env=False) as twin_client,
    ):
        assert _pull(twin, twin_client) == first
    with (
        Sandbox(seed=8, accounts=3, today=TODAY) as other,
        httpx.Client(base_url=other.base_url, headers=headers, trust_env=False) as other_client,
    ):
        assert _days_and_values(_pull(other, other_client)) != _days_and_values(first)
    sb.set_today(TODAY + dt.timedelta(days=30))  # every day of the range is final
    later = _pull(sb, client)
    assert later.keys() == first.keys()
    for account, found in first.items():
        for key, element in found.items():
            assert Decimal(later[account][key]["value"]) >= Decimal(element["value"]), key


def test_breakdown_cells_keep_the_value_and_invent_no_count(
    sb: Sandbox, client: httpx.Client
) -> None:
    account = sb.account_ids[0]
    found = _pull(sb, client)[account]
    day, ad_id, action_type = min(found)
    rows = get_all(
        client,
        f"{account}/insights",
        {
            "level": "ad",
            "time_range": json.dumps({"since": day, "until": day}),
            "time_increment": 1,
            "breakdowns": "age,gender",
            "fields": "spend,actions,action_values",
            "action_attribution_windows": json.dumps(WINDOWS),
        },
    )
    cells = [r for r in rows if r["ad_id"] == ad_id]
    assert cells
    total = {w: Decimal(0) for w in ("value", *WINDOWS)}
    for cell in cells:
        assert action_type not in {a["action_type"] for a in cell.get("actions", [])}
        for element in cell.get("action_values", []):
            if element["action_type"] == action_type:
                for w in total:
                    total[w] += Decimal(element.get(w, "0"))
    assert total == {w: Decimal(found[(day, ad_id, action_type)].get(w, "0")) for w in total}
