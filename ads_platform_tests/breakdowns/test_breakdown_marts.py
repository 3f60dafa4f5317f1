"""Sandbox → breakdown pulls in the insights' range run → dbt → published marts = truth."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ads_platform.dashboard import queries
from ads_platform.dashboard.reader import MartsReader
from ads_platform.datasets import BREAKDOWNS
from ads_platform.demo import insights_selection, materialize, materialize_marts
from ads_platform.partitions import key_for, range_tags
from ads_platform.warehouse import open_marts_readonly
from ads_platform_tests.conftest import SANDBOX_TODAY, Platform
from ads_platform_tests.e2e.helpers import VIDEO_TRUTH_KEYS, setup_accounts
from ads_platform_tests.platform_defs import defs

pytestmark = pytest.mark.slow

UNTIL = SANDBOX_TODAY - dt.timedelta(days=1)
SINCE = UNTIL - dt.timedelta(days=2)
CONVERSION_TYPES = {
    "offsite_conversion.fb_pixel_purchase",
    "offsite_conversion.fb_pixel_lead",
    "complete_registration",
}

#: The report's video columns → the truth's video key (the average is checked apart).
VIDEO = {**VIDEO_TRUTH_KEYS, "video_avg_time_watched_seconds": ""}


def _video(truth: dict[str, int]) -> tuple[float | None, ...]:
    """The report's video columns for one truth row: NULL (not 0) where no ad had plays,
    the average recomputed from the summed seconds and plays."""
    if not truth["plays"]:
        return (None,) * len(VIDEO)
    counts = tuple(truth[k] for k in VIDEO.values() if k)
    return (*counts, truth["watch_seconds"] / truth["plays"])


def test_each_breakdown_mart_equals_the_sandbox_truth_per_account_day_and_value(
    platform: Platform,
) -> None:
    setup_accounts(platform)
    accounts = platform.accounts[:2]
    for account_id in accounts:
        tags = range_tags(str(key_for(account_id, SINCE)), str(key_for(account_id, UNTIL)))
        assert materialize(defs, platform.instance, insights_selection(defs), tags=tags).success
    assert materialize_marts(defs, platform.instance).success
    con = open_marts_readonly(platform.home / "marts.duckdb")
    try:
        for breakdown in BREAKDOWNS.values():
            dims = ", ".join(breakdown.dims)
            rpt = f"rpt_account_{breakdown.key}_daily"
            fct = f"fct_ad_{breakdown.key}_daily"
            got = {
                (r[0], r[1], *r[2 : 2 + len(breakdown.dims)]): r[2 + len(breakdown.dims) :]
                for r in con.execute(
                    f"""select account_id, date_day::varchar, {dims}, spend, impressions,
                               link_clicks, conversions, currency, {", ".join(VIDEO)}
                        from {rpt}"""
                ).fetchall()
            }
            expected = {}
            for account_id in accounts:
                truth = platform.sandbox.breakdown_truth(
                    account_id, SINCE, UNTIL, list(breakdown.dims)
                )
                for day in truth["days"]:
                    for row in day["rows"]:
                        key = (account_id, day["date"], *(str(row[d]) for d in breakdown.dims))
                        expected[key] = (
                            Decimal(str(row["spend"])).quantize(Decimal("0.01")),
                            int(row["impressions"]),
                            int(row["link_clicks"]),
                            sum(
                                (
                                    Decimal(str(v))
                                    for k, v in row["conversions"].items()
                                    if k in CONVERSION_TYPES
                                ),
                                Decimal(0),
                            ),
                            truth["currency"],
                            *_video(row["video"]),
                        )
            assert expected and got == expected, breakdown.key
            assert any(v[5] for v in got.values()), f"{breakdown.key}: no video plays compared"
            # Currency and time zone on every fact row; reach never summed into the report.
            assert con.execute(
                f"select count(*) from {fct} where currency is null or timezone_name is null"
            ).fetchone() == (0,)
            columns = {r[0] for r in con.execute(f"describe {rpt}").fetchall()}
            assert "reach" not in columns and {"account_id", "date_day", "spend"} <= columns
    finally:
        con.close()
    # The dashboard's account page finds each report and sums its values over the days.
    reader = MartsReader(platform.home / "marts.duckdb")
    cat = queries.catalog(reader)
    assert queries.breakdown_marts(cat) == {
        "Placement": "rpt_account_placement_daily",
        "Age and gender": "rpt_account_age_gender_daily",
        "Country": "rpt_account_country_daily",
        "Region": "rpt_account_region_daily",
    }
    frame = queries.breakdown(reader, cat, "rpt_account_country_daily", accounts[0], SINCE, UNTIL)
    truth = platform.sandbox.breakdown_truth(accounts[0], SINCE, UNTIL, ["country"])
    by_country: dict[str, Decimal] = {}
    for day in truth["days"]:
        for row in day["rows"]:
            by_country[row["country"]] = by_country.get(row["country"], Decimal(0)) + Decimal(
                str(row["spend"])
            ).quantize(Decimal("0.01"))
    assert {
        str(c): Decimal(str(v)).quantize(Decimal("0.01"))
        for c, v in zip(frame["country"], frame["spend"], strict=True)
    } == by_country
