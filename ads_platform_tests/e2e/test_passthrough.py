"""Passthrough settings → the same insights calls → typed lake columns → fct_ad_daily.

Real Dagster materializations against the sandbox over HTTP: a settings list of two
extra fields and one action type, no code change, and fct_ad_daily carries them equal
to what the sandbox served; a day pulled before the fields were listed reads NULL.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import yaml

from ads_platform.demo import materialize_marts
from ads_platform_tests.conftest import SANDBOX_TODAY, Platform
from ads_platform_tests.e2e.helpers import ingest, lake, marts_rows, setup_accounts
from ads_platform_tests.platform_defs import defs

pytestmark = pytest.mark.slow

FIRST = SANDBOX_TODAY - dt.timedelta(days=3)
SINCE = SANDBOX_TODAY - dt.timedelta(days=2)
UNTIL = SANDBOX_TODAY - dt.timedelta(days=1)
FIELDS = ["cpp", "unique_clicks"]
ACTION_TYPE = "link_click"


def _list_passthrough(platform: Platform) -> None:
    settings = yaml.safe_load(platform.config_path.read_text())
    settings["insights"] = {
        "passthrough_fields": FIELDS,
        "passthrough_action_types": [ACTION_TYPE],
    }
    platform.config_path.write_text(yaml.safe_dump(settings))


def test_passthrough_fields_reach_fct_ad_daily_equal_to_what_the_api_served(
    platform: Platform,
) -> None:
    setup_accounts(platform, entities=False)
    account = platform.accounts[0]
    # A day pulled before the fields were listed: its lake file has no such columns.
    assert ingest(platform, account, FIRST, FIRST).success
    _list_passthrough(platform)
    platform.sandbox.reset_stats()
    assert ingest(platform, account, SINCE, UNTIL).success
    # The fields ride in the same calls: one ad-level and one account-level request.
    insights_calls = platform.sandbox.stats()
    assert materialize_marts(defs, platform.instance).success

    stored = lake(platform).read(lake(platform).partition_path("ad_insights_daily", account, UNTIL))
    assert stored is not None
    assert str(stored["unique_clicks"].dtype) in ("Int64", "int64")
    assert str(stored["cpp"].dtype) == "float64"

    rows = marts_rows(
        platform,
        f"""select date_day::varchar as day, ad_id, cpp, unique_clicks, clicks_all,
                   actions_{ACTION_TYPE} as n, action_values_{ACTION_TYPE} as value
            from fct_ad_daily where account_id = '{account}'""",
    )
    got = {(r["day"], r["ad_id"]): r for r in rows}
    truth = platform.sandbox.passthrough_truth(account, SINCE, UNTIL, FIELDS)
    served = platform.sandbox.truth(account, SINCE, UNTIL)
    compared = 0
    for day in truth["days"]:
        for ad_id, values in day["ads"].items():
            row = got[(day["date"], ad_id)]
            assert row["unique_clicks"] == values["unique_clicks"], (day["date"], ad_id)
            assert row["cpp"] == values.get("cpp"), (day["date"], ad_id)  # None: reach omitted
            compared += 1
    assert compared == sum(1 for r in rows if r["day"] >= SINCE.isoformat())
    for day in served["days"]:
        link_clicks = sum((r["n"] for r in rows if r["day"] == day["date"]), start=Decimal(0))
        assert link_clicks == day["conversions"].get(ACTION_TYPE, 0), day["date"]
        assert all(r["value"] == 0 for r in rows if r["day"] == day["date"])
    # Pulled before the list: NULL fields (not zero), action counts from the stored lists.
    before = [r for r in rows if r["day"] == FIRST.isoformat()]
    assert before and all(r["cpp"] is None and r["unique_clicks"] is None for r in before)
    assert sum(r["n"] for r in before) > 0
    assert insights_calls["by_path"][f"/{account}/insights"] == 2
