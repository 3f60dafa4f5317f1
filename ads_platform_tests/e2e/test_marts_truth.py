"""Sandbox → ingestion → dbt → published marts: the marts equal what the API served.

And when a later pull is blocked by the zero guard, the last good marts stay and
`data_freshness` says which account is stale and why.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ads_platform.demo import materialize_marts
from ads_platform.warehouse import open_marts_readonly
from ads_platform_tests.conftest import SANDBOX_TODAY, Platform
from ads_platform_tests.e2e.helpers import ingest, setup_accounts
from ads_platform_tests.platform_defs import defs

pytestmark = pytest.mark.slow

UNTIL = SANDBOX_TODAY - dt.timedelta(days=1)
SINCE = UNTIL - dt.timedelta(days=4)
CONVERSION_TYPES = {
    "offsite_conversion.fb_pixel_purchase",
    "offsite_conversion.fb_pixel_lead",
    "complete_registration",
}


def test_marts_equal_the_sandbox_truth_and_keep_last_good_data(platform: Platform) -> None:
    setup_accounts(platform)
    for account_id in platform.accounts:
        assert ingest(platform, account_id, SINCE, UNTIL).success
    assert materialize_marts(defs, platform.instance).success
    marts = platform.home / "marts.duckdb"

    def mart_days() -> dict[tuple[str, str], tuple[Decimal, int, int, Decimal]]:
        con = open_marts_readonly(marts)
        try:
            rows = con.execute(
                """select account_id, date_day::varchar, sum(spend), sum(impressions)::bigint,
                          sum(coalesce(link_clicks, 0))::bigint, sum(coalesce(conversions, 0))
                   from fct_ad_daily group by 1, 2"""
            ).fetchall()
        finally:
            con.close()
        return {(a, d): (Decimal(s), int(i), int(c), Decimal(v)) for a, d, s, i, c, v in rows}

    got = mart_days()
    for account_id in platform.accounts:
        truth = platform.sandbox.truth(account_id, SINCE, UNTIL)
        for day in truth["days"]:
            expected_conversions = sum(
                Decimal(str(v)) for k, v in day["conversions"].items() if k in CONVERSION_TYPES
            )
            key = (account_id, day["date"])
            if not day["impressions"]:
                assert key not in got
                continue
            spend, impressions, clicks, conversions = got[key]
            assert spend == Decimal(str(day["spend"])).quantize(Decimal("0.01")), key
            assert impressions == day["impressions"], key
            assert clicks == day["link_clicks"], key
            assert conversions == expected_conversions, key

    # As-of names: every ad-day (all pulled in a backfill, days before the entities' first
    # pull) finds the campaign, ad set and ad versions valid during its account-local day.
    con = open_marts_readonly(marts)
    try:
        unmatched = {
            level: con.execute(
                f"""select count(*) from fct_ad_daily as f
                    where not exists (
                        select 1 from dim_{level}s_history as h
                        where h.{level}_id = f.{level}_id
                          and h.valid_from < timezone(f.timezone_name, (f.date_day + 1)::timestamp)
                          and coalesce(h.valid_to, 'infinity'::timestamptz)
                              > timezone(f.timezone_name, f.date_day::timestamp))"""
            ).fetchone()[0]  # type: ignore[index]
            for level in ("campaign", "ad_set", "ad")
        }
    finally:
        con.close()
    assert unmatched == {"campaign": 0, "ad_set": 0, "ad": 0}

    # A later pull returns "errors as zeros": blocked, the marts keep the last good day.
    bad = platform.accounts[0]
    platform.sandbox.add_fault("zeros", account_id=bad)
    assert not ingest(platform, bad, UNTIL, UNTIL).success
    platform.sandbox.clear_faults()
    assert materialize_marts(defs, platform.instance).success
    assert mart_days() == got
    con = open_marts_readonly(marts)
    try:
        freshness = {
            row[0]: row[1:]
            for row in con.execute(
                "select account_id, is_stale, stale_reason, status_message, stale_cause "
                "from data_freshness"
            ).fetchall()
        }
    finally:
        con.close()
    is_stale, reason, message, cause = freshness[bad]
    assert is_stale is True
    assert "blocked" in reason
    assert cause == "zero_guard"
    assert message.endswith(f": {reason}")
    # The others are judged by the real clock (the sandbox's is fixed in the past), so
    # they may be "behind", but never blocked.
    for account_id in platform.accounts[1:]:
        assert "blocked" not in str(freshness[account_id][1])
