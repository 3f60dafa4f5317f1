"""The dbt marts against a small lake written with the platform's own writers.

One real ``dbt build`` per module (dbt starts in seconds, not milliseconds), then the
tests read the published marts.  The incremental tests come last and re-pull a day:
pytest runs a module's tests in file order, and the fixtures below make the order
explicit (``rebuilt`` depends on ``built``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ads_platform.datasets import FX
from ads_platform.lake import Lake
from ads_platform.sql import SqlError, run_query
from ads_platform.warehouse import (
    MartsNotFoundError,
    WarehouseError,
    open_marts_readonly,
    publish_marts,
)
from ads_platform_tests.duckdb_client import cli_query, cli_version, duckdb_cli
from ads_platform_tests.marts.lake_fixture import (
    ACCOUNTS,
    CONVERSION_TYPES,
    DAYS,
    TODAY,
    LakeBuilder,
    expected_totals,
    run_dbt,
)

MEASURES = ["spend", "impressions", "link_clicks", "conversions", "conversion_value"] + [
    f"{p}_{n}" for n in CONVERSION_TYPES for p in ("conversions", "conversion_value")
]


@dataclass
class Built:
    home: Path
    builder: LakeBuilder
    build_db: Path
    marts: Path
    log: str


def _build_and_publish(home: Path) -> str:
    result = run_dbt(home, "build")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    publish_marts(home / "warehouse" / "marts.duckdb", home / "marts.duckdb")
    return result.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    home = tmp_path_factory.mktemp("marts_home")
    builder = LakeBuilder(home)
    builder.write_accounts()
    for account_id in ACCOUNTS:
        builder.write_entities(account_id)
    # act_202's pull of today failed (expired token): no file for today.
    for day in DAYS:
        builder.write_day("act_101", day, builder.ad_rows("act_101", day))
    for day in DAYS[:2]:
        builder.write_day("act_202", day, builder.ad_rows("act_202", day))
    builder.write_entities("act_101", {"1001": "Spring sale (renamed)"})
    builder.write_attempts("act_101", [("ad_insights_daily", d, "success", None, "") for d in DAYS])
    builder.write_attempts(
        "act_202", [("ad_insights_daily", d, "success", None, "") for d in DAYS[:2]]
    )
    builder.write_attempts(
        "act_202",
        [("ad_insights_daily", DAYS[2], "failed", "auth", "Error validating access token")],
    )
    # Old data from before days that had not started were refused: a "success" for a day
    # after the local today (its partition was empty).  It must never count as good.
    future = DAYS[-1] + dt.timedelta(days=3)
    builder.write_attempts("act_101", [("ad_insights_daily", future, "success", None, "")])
    builder.write_token_check("act_101", valid=True, days_left=40)
    builder.write_token_check("act_202", valid=False, days_left=-1)
    builder.write_reach_month("act_101")
    _age_files(home / "lake", seconds=120)  # as if ingested a while before this build
    log = _build_and_publish(home)
    return Built(home, builder, home / "warehouse" / "marts.duckdb", home / "marts.duckdb", log)


def _age_files(root: Path, seconds: int) -> None:
    old = time.time() - seconds
    for path in root.rglob("*.parquet"):
        os.utime(path, (old, old))


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    assert cursor.description is not None
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture
def marts(built: Built) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_marts_readonly(built.marts)
    yield con
    con.close()


def _mart_totals(
    con: duckdb.DuckDBPyConnection, table: str
) -> dict[tuple[str, dt.date], dict[str, Any]]:
    sums = ", ".join(f"sum({m}) as {m}" for m in MEASURES)
    rows = _rows(con, f"select account_id, date_day, {sums} from {table} group by 1, 2")
    return {(r.pop("account_id"), r.pop("date_day")): r for r in rows}


def _assert_equal_to_lake(con: duckdb.DuckDBPyConnection, builder: LakeBuilder) -> None:
    expected = expected_totals(builder.state)
    for table in ("fct_ad_daily", "rpt_ad_daily", "rpt_campaign_daily", "rpt_account_daily"):
        actual = _mart_totals(con, table)
        assert set(actual) == set(expected), table
        for key, want in expected.items():
            for measure in MEASURES:
                got = actual[key][measure]
                assert Decimal(got) == Decimal(want[measure]), (table, key, measure, got, want)


# -- the first build -----------------------------------------------------------------------


def test_marts_equal_the_lake_per_account_and_day(
    built: Built, marts: duckdb.DuckDBPyConnection
) -> None:
    _assert_equal_to_lake(marts, built.builder)


def test_every_grain_is_unique(marts: duckdb.DuckDBPyConnection) -> None:
    grains = {
        "fct_ad_daily": "account_id, date_day, ad_id",
        "rpt_ad_daily": "account_id, date_day, ad_id",
        "rpt_ad_set_daily": "account_id, date_day, ad_set_id",
        "rpt_campaign_daily": "account_id, date_day, campaign_id",
        "rpt_account_daily": "account_id, date_day",
        "dim_campaigns": "campaign_id",
        "dim_campaigns_history": "campaign_id, valid_from",
        "dim_ads": "ad_id",
        "fct_reach": "level, period, period_start, account_id, campaign_id, ad_set_id",
        "data_freshness": "account_id",
        "token_health": "account_id",
    }
    for table, grain in grains.items():
        dupes = _rows(
            marts, f"select {grain}, count(*) from {table} group by all having count(*) > 1"
        )
        assert dupes == [], table
        assert _rows(marts, f"select count(*) as n from {table}")[0]["n"] > 0, table


def test_conversion_values_without_count_rows_are_kept(marts: duckdb.DuckDBPyConnection) -> None:
    # Ad 3002 reports purchase values but no purchase count row.
    rows = _rows(
        marts,
        "select conversions_purchase, conversion_value_purchase from fct_ad_daily "
        "where ad_id = '3002'",
    )
    assert rows
    for row in rows:
        assert row["conversions_purchase"] == 0
        assert row["conversion_value_purchase"] == Decimal("50.50")


def test_overlapping_action_types_are_not_added(marts: duckdb.DuckDBPyConnection) -> None:
    # omni_purchase repeats offsite_conversion.fb_pixel_purchase and is not configured.
    row = _rows(marts, "select * from fct_ad_daily where ad_id = '3001' order by date_day limit 1")[
        0
    ]
    assert row["conversions_purchase"] == 1  # n = 1 for ad 3001, not 2
    assert row["conversions_7d_click"] == 1
    assert row["conversions_1d_click"] == 0
    assert (
        row["conversions"]
        == row["conversions_purchase"]
        + row["conversions_lead"]
        + row["conversions_complete_registration"]
    )


def test_money_carries_currency_and_reports_use_current_names(
    marts: duckdb.DuckDBPyConnection,
) -> None:
    rows = _rows(
        marts, "select distinct account_id, currency, timezone_name from fct_ad_daily order by 1"
    )
    assert rows == [
        {"account_id": "act_101", "currency": "EUR", "timezone_name": "Europe/Berlin"},
        {"account_id": "act_202", "currency": "USD", "timezone_name": "America/New_York"},
    ]
    names = _rows(
        marts, "select distinct campaign_name from rpt_campaign_daily where campaign_id = '1001'"
    )
    assert names == [{"campaign_name": "Spring sale (renamed)"}]
    history = _rows(
        marts,
        "select campaign_name, is_current, valid_to is null as open from dim_campaigns_history "
        "where campaign_id = '1001' order by version_number",
    )
    assert history == [
        {"campaign_name": "Campaign 1001", "is_current": False, "open": False},
        {"campaign_name": "Spring sale (renamed)", "is_current": True, "open": True},
    ]


def test_ratios_are_ratios_of_sums_and_never_inf(marts: duckdb.DuckDBPyConnection) -> None:
    row = _rows(
        marts,
        "select sum(spend) as spend, sum(impressions) as impressions, sum(link_clicks) as clicks, "
        "sum(conversion_value) as value from fct_ad_daily where account_id = 'act_101' "
        f"and date_day = date '{DAYS[0]}'",
    )[0]
    report = _rows(
        marts,
        "select * from rpt_account_daily "
        f"where account_id = 'act_101' and date_day = date '{DAYS[0]}'",
    )[0]
    assert report["cpm"] == pytest.approx(float(row["spend"]) * 1000 / row["impressions"])
    assert report["cpc"] == pytest.approx(float(row["spend"]) / row["clicks"])
    assert report["roas"] == pytest.approx(float(row["value"]) / float(row["spend"]))
    assert report["reach"] is not None and report["frequency"] > 0
    bad = _rows(
        marts,
        "select count(*) as n from rpt_ad_daily where isinf(ctr) or isnan(ctr) or isinf(cpa) "
        "or isnan(cpa) or isinf(frequency) or isnan(frequency)",
    )
    assert bad[0]["n"] == 0
    # a missing reach stays NULL, and frequency with it
    assert _rows(marts, "select reach, frequency from rpt_ad_daily where ad_id = '3005' limit 1")[
        0
    ] == {
        "reach": None,
        "frequency": None,
    }


def test_reach_is_kept_at_the_grain_it_was_pulled(marts: duckdb.DuckDBPyConnection) -> None:
    levels = _rows(
        marts, "select level, period, count(*) as n from fct_reach group by 1, 2 order by 1, 2"
    )
    assert levels == [
        {"level": "account", "period": "day", "n": 5},
        {"level": "account", "period": "last_30d", "n": 1},
        {"level": "account", "period": "month", "n": 1},
        {"level": "ad_set", "period": "month", "n": 2},
        {"level": "campaign", "period": "month", "n": 1},
    ]
    # The window starting on the month's first day is not the month: the monthly report
    # keeps the month's own reach, once.
    monthly = _rows(
        marts,
        "select account_id, period_start, count(*) as n, max(reach) as reach "
        "from rpt_account_monthly group by 1, 2",
    )
    assert {r["n"] for r in monthly} == {1}
    assert [r["reach"] for r in monthly if r["reach"] is not None] == [5000]
    ad_sets = _rows(
        marts,
        "select campaign_id, ad_set_id, reach, frequency from fct_reach "
        "where level = 'ad_set' order by ad_set_id",
    )
    assert [(r["campaign_id"], r["ad_set_id"], r["reach"]) for r in ad_sets] == [
        ("1001", "2001", 2000),
        ("1001", "2002", 1500),
    ]  # as pulled: neither a share of the campaign's 3000 nor adding up to it
    assert ad_sets[0]["frequency"] == pytest.approx(20000 / 2000)
    columns = {r["column_name"] for r in _rows(marts, "describe rpt_campaign_daily")}
    assert "reach" not in columns and "frequency" not in columns


def test_data_freshness_says_which_account_is_stale_and_why(
    marts: duckdb.DuckDBPyConnection,
) -> None:
    rows = {r["account_id"]: r for r in _rows(marts, "select * from data_freshness")}
    ok, broken = rows["act_101"], rows["act_202"]
    assert ok["is_stale"] is False
    assert ok["last_good_day"] == DAYS[2] <= ok["account_today"]  # not the "future" success
    assert ok["days_behind"] >= 0
    assert ok["stale_cause"] is None and ok["stale_reason"] is None
    assert ok["status_message"].endswith("up to date")
    assert broken["is_stale"] is True
    assert broken["last_good_day"] == DAYS[1]
    assert broken["last_attempt_status"] == "failed"
    assert broken["last_attempt_error_kind"] == "auth"
    assert broken["stale_cause"] == "token"
    assert broken["stale_reason"] == "token expired — re-authorize"
    as_of = f"{DAYS[1]:%a} {DAYS[1].day} {DAYS[1]:%b}" + (
        f" {DAYS[1].year}" if DAYS[1].year != broken["account_today"].year else ""
    )
    assert broken["status_message"] == f"data as of {as_of}: token expired — re-authorize"
    assert broken["token_is_valid"] is False
    token = _rows(marts, "select * from token_health where account_id = 'act_202'")[0]
    assert token["is_valid"] is False and token["days_left"] < 0


def test_absent_datasets_are_empty_marts(marts: duckdb.DuckDBPyConnection) -> None:
    # Nobody wrote lake/alerts yet.
    assert _rows(marts, "select count(*) as n from alerts") == [{"n": 0}]


def test_every_mart_column_is_documented(built: Built, marts: duckdb.DuckDBPyConnection) -> None:
    manifest = json.loads((built.home / "dbt_target" / "manifest.json").read_text())
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["fqn"][1] != "marts":
            continue
        columns = [r["column_name"] for r in _rows(marts, f"describe {node['name']}")]
        documented = {name for name, col in node["columns"].items() if col.get("description")}
        missing = [c for c in columns if c not in documented]
        assert not missing, f"{node['name']}: undocumented columns {missing}"
        # And no documentation of a column the mart does not have: dbt warns about each
        # one in every healthy build ("specified in the schema but are not present").
        phantom = sorted(set(node["columns"]) - set(columns))
        assert not phantom, f"{node['name']}: documented but absent {phantom}"


# -- SQL access ----------------------------------------------------------------------------


def test_run_query_formats(built: Built, marts: duckdb.DuckDBPyConnection) -> None:
    sql = "select account_id, spend from rpt_account_daily order by account_id, date_day limit 2"
    table = run_query(built.marts, sql, "table")
    lines = table.splitlines()
    assert lines[0].split("|")[0].strip() == "account_id"
    assert lines[-1] == "(2 rows)"
    assert len({len(line) for line in lines[:-1]}) == 1  # aligned
    assert run_query(built.marts, sql, "csv").splitlines()[0] == "account_id,spend"
    records = json.loads(run_query(built.marts, sql, "json"), parse_float=Decimal)
    spend = _rows(marts, sql)[0]["spend"]
    assert isinstance(spend, Decimal)
    # Money is a JSON number with the marts' exact digits (issue 10), not a string.
    assert records[0]["account_id"] == "act_101" and records[0]["spend"] == spend
    assert f'"spend": {spend}\n' in run_query(built.marts, sql, "json")


def test_run_query_errors_are_one_line(built: Built, tmp_path: Path) -> None:
    with pytest.raises(SqlError) as bad:
        run_query(built.marts, "selec 1", "table")
    assert "syntax error" in str(bad.value) and "\n" not in str(bad.value)
    with pytest.raises(SqlError, match=r"read-only|read only"):
        run_query(built.marts, "create table x as select 1", "table")
    with pytest.raises(SqlError, match=r"no marts at .*ads-platform demo"):
        run_query(tmp_path / "marts.duckdb", "select 1", "table")
    with pytest.raises(MartsNotFoundError):
        open_marts_readonly(tmp_path / "marts.duckdb")


def test_publish_refuses_mismatched_names(built: Built, tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="same file name"):
        publish_marts(built.build_db, tmp_path / "other.duckdb")


def test_empty_conversion_list_is_a_compile_error(built: Built) -> None:
    empty = run_dbt(built.home, "parse", "--vars", '{"conversion_action_types": []}')
    assert empty.returncode != 0
    assert "conversion_action_types') is empty" in empty.stdout


def test_overlapping_conversion_types_are_refused(built: Built) -> None:
    # The same validation as the var, through run-operation (no re-parse needed).
    overlap = run_dbt(
        built.home,
        "run-operation",
        "check_conversion_action_types",
        "--args",
        '{"types": ["offsite_conversion.fb_pixel_purchase", "omni_purchase"]}',
    )
    assert overlap.returncode != 0
    assert "variants of the same event 'purchase'" in overlap.stdout


# -- weeks, months and the cross-platform contract -----------------------------------------

ROLLUP_SUMS = ["impressions", "link_clicks", "spend", "conversions", "conversion_value"]


def _week_start(day: dt.date, first_weekday: int = 0) -> dt.date:
    return day - dt.timedelta(days=(day.weekday() - first_weekday) % 7)


@pytest.mark.parametrize(
    ("table", "daily", "keys", "period_of"),
    [
        ("rpt_account_weekly", "rpt_account_daily", ["account_id"], _week_start),
        ("rpt_campaign_weekly", "rpt_campaign_daily", ["account_id", "campaign_id"], _week_start),
        ("rpt_account_monthly", "rpt_account_daily", ["account_id"], lambda d: d.replace(day=1)),
        (
            "rpt_campaign_monthly",
            "rpt_campaign_daily",
            ["account_id", "campaign_id"],
            lambda d: d.replace(day=1),
        ),
    ],
)
def test_week_and_month_reports_are_sums_of_the_days_and_ratios_of_those_sums(
    marts: duckdb.DuckDBPyConnection,
    table: str,
    daily: str,
    keys: list[str],
    period_of: Any,
) -> None:
    # Recomputed in Python from the daily report: weeks start on Monday by default.
    expected: dict[tuple[Any, ...], dict[str, Decimal]] = {}
    for row in _rows(marts, f"select * from {daily}"):
        key = (*(row[k] for k in keys), period_of(row["date_day"]))
        sums = expected.setdefault(key, dict.fromkeys(ROLLUP_SUMS, Decimal(0)))
        for m in ROLLUP_SUMS:
            sums[m] += Decimal(row[m])
    rolled = {
        (*(r[k] for k in keys), r["period_start"]): r
        for r in _rows(marts, f"select * from {table}")
    }
    assert set(rolled) == set(expected)
    for key, want in expected.items():
        got = rolled[key]
        for m in ROLLUP_SUMS:
            assert Decimal(got[m]) == want[m], (table, key, m)
        spend, conversions = float(want["spend"]), float(want["conversions"])
        assert got["cpa"] == (pytest.approx(spend / conversions) if conversions else None)
        assert got["days_in_period"] == (got["period_end"] - got["period_start"]).days + 1


def test_a_period_is_complete_only_when_over_and_covered_by_good_data(
    marts: duckdb.DuckDBPyConnection,
) -> None:
    freshness = {r["account_id"]: r for r in _rows(marts, "select * from data_freshness")}
    rows = _rows(
        marts,
        "select * from rpt_account_weekly union all by name select * from rpt_account_monthly",
    )
    assert rows
    for row in rows:
        fresh = freshness[row["account_id"]]
        over = row["period_end"] < fresh["account_today"]
        covered = row["period_end"] <= fresh["last_good_day"]
        assert row["is_complete"] is (over and covered), row
    # today is in every account's current week and month: never complete
    assert not any(r["is_complete"] for r in rows if r["period_end"] >= TODAY)


def test_monthly_reach_is_metas_reach_for_the_month_never_a_sum_of_days(
    marts: duckdb.DuckDBPyConnection,
) -> None:
    month = TODAY.replace(day=1)
    account = _rows(
        marts,
        "select reach, frequency, impressions, reach_is_complete from rpt_account_monthly "
        f"where account_id = 'act_101' and period_start = date '{month}'",
    )
    assert [(r["reach"], r["reach_is_complete"]) for r in account] == [(5000, False)]
    assert account[0]["frequency"] == pytest.approx(account[0]["impressions"] / 5000)
    daily_reach = _rows(
        marts,
        "select sum(reach) as s from fct_reach where level = 'account' and period = 'day' "
        f"and account_id = 'act_101' and period_start >= date '{month}'",
    )[0]["s"]
    assert daily_reach != 5000  # the sum of days would have been a different (wrong) number
    campaign = _rows(
        marts,
        "select campaign_id, reach from rpt_campaign_monthly "
        f"where account_id = 'act_101' and period_start = date '{month}'",
    )
    assert campaign == [{"campaign_id": "1001", "reach": 3000}]
    # act_202 had no monthly pull: its reach is unknown, not 0
    assert {
        r["reach"]
        for r in _rows(marts, "select reach from rpt_account_monthly where account_id = 'act_202'")
    } == {None}


def test_weeks_start_on_the_configured_day_and_a_wrong_day_is_refused(built: Built) -> None:
    sunday = dt.date(2026, 11, 29)  # a Sunday
    shown = run_dbt(
        built.home,
        "show",
        "--inline",
        "select {{ week_start(\"date '2026-11-25'\") }} as w",
        "--vars",
        '{"week_start_day": "sunday"}',
        "--output",
        "json",
    )
    assert shown.returncode == 0, shown.stdout[-3000:]
    assert '"w": "2026-11-22"' in shown.stdout  # the Sunday before Wednesday 25 Nov
    assert _week_start(dt.date(2026, 11, 25), first_weekday=6) == sunday - dt.timedelta(days=7)
    wrong = run_dbt(built.home, "parse", "--vars", '{"week_start_day": "funday"}')
    assert wrong.returncode != 0
    assert "week_start_day must be one of" in wrong.stdout


def test_dim_calendar_covers_every_reported_day_with_its_week_and_month(
    marts: duckdb.DuckDBPyConnection,
) -> None:
    days = _rows(marts, "select * from dim_calendar order by date_day")
    by_day = {r["date_day"]: r for r in days}
    for day in DAYS:
        row = by_day[day]
        assert row["week_start"] == _week_start(day)
        assert row["month_start"] == day.replace(day=1)
        assert row["week_end"] == row["week_start"] + dt.timedelta(days=6)
    assert days[-1]["date_day"] >= TODAY + dt.timedelta(days=1)  # UTC+14 accounts


AD_REPORTING_CONTRACT = {
    "ad_reporting__account_report": ["account_id", "account_name"],
    "ad_reporting__campaign_report": ["account_id", "account_name", "campaign_id", "campaign_name"],
    "ad_reporting__ad_group_report": [
        "account_id",
        "account_name",
        "campaign_id",
        "campaign_name",
        "ad_group_id",
        "ad_group_name",
    ],
    "ad_reporting__ad_report": [
        "account_id",
        "account_name",
        "campaign_id",
        "campaign_name",
        "ad_group_id",
        "ad_group_name",
        "ad_id",
        "ad_name",
    ],
}


@pytest.mark.parametrize("view", sorted(AD_REPORTING_CONTRACT))
def test_cross_platform_views_have_the_dbt_ad_reporting_contract_plus_currency(
    marts: duckdb.DuckDBPyConnection, view: str
) -> None:
    described = {r["column_name"]: r["column_type"] for r in _rows(marts, f"describe {view}")}
    expected = [
        "source_relation",
        "date_day",
        "platform",
        *AD_REPORTING_CONTRACT[view],
        "clicks",
        "impressions",
        "spend",
        "conversions",
        "conversions_value",
        "currency",
    ]
    assert list(described) == expected
    for column, kind in described.items():
        if column.endswith(("_id", "_name")) or column in ("platform", "source_relation"):
            assert kind == "VARCHAR", column
    assert described["clicks"] == described["impressions"] == "BIGINT"
    assert described["spend"] == described["conversions_value"] == "DOUBLE"
    rows = _rows(marts, f"select * from {view}")
    assert rows
    assert {r["platform"] for r in rows} == {"facebook_ads"}
    assert all(r["account_id"].isdigit() for r in rows)  # no act_ prefix, as Fivetran's


def test_cross_platform_totals_equal_the_reports_per_account_day_and_union_with_other_platforms(
    marts: duckdb.DuckDBPyConnection,
) -> None:
    ours = _rows(
        marts,
        "select account_id, date_day, link_clicks, impressions, spend, conversions, "
        "conversion_value, currency from rpt_account_daily",
    )
    for view in AD_REPORTING_CONTRACT:
        theirs = {
            (r["account_id"], r["date_day"]): r
            for r in _rows(
                marts,
                f"select account_id, date_day, sum(clicks) as clicks, "
                f"sum(impressions) as impressions, sum(spend) as spend, "
                f"sum(conversions) as conversions, sum(conversions_value) as conversions_value, "
                f"any_value(currency) as currency from {view} group by 1, 2",
            )
        }
        assert len(theirs) == len(ours), view
        for row in ours:
            got = theirs[(row["account_id"].removeprefix("act_"), row["date_day"])]
            assert got["clicks"] == row["link_clicks"], view
            assert got["impressions"] == row["impressions"], view
            assert got["spend"] == pytest.approx(float(row["spend"])), view
            assert got["conversions"] == pytest.approx(float(row["conversions"])), view
            assert got["conversions_value"] == pytest.approx(float(row["conversion_value"]))
            assert got["currency"] == row["currency"], view
    # How a team adds Meta to its union of platforms (here a stand-in Google Ads row).
    union = _rows(
        marts,
        "select platform, count(*) as n from ("
        "select * from ad_reporting__campaign_report union all by name "
        "select '' as source_relation, date '2026-11-01' as date_day, 'google_ads' as platform, "
        "'9' as account_id, 'G' as account_name, '8' as campaign_id, 'C' as campaign_name, "
        "3 as clicks, 40 as impressions, 1.5 as spend, 0.0 as conversions, "
        "0.0 as conversions_value) group by 1 order by 1",
    )
    assert [r["platform"] for r in union] == ["facebook_ads", "google_ads"]


# -- money in a reporting currency ---------------------------------------------------------


def test_without_a_reporting_currency_the_converted_columns_say_why_they_are_empty(
    marts: duckdb.DuckDBPyConnection,
) -> None:
    rows = _rows(
        marts,
        "select reporting_currency, spend_reporting, fx_missing_reason from rpt_account_daily",
    )
    assert rows
    assert {(r["reporting_currency"], r["spend_reporting"]) for r in rows} == {(None, None)}
    assert {r["fx_missing_reason"] for r in rows} == {
        "no reporting currency set (settings fx.reporting_currency)"
    }


def _write_fx_rates(home: Path, rates: dict[tuple[dt.date, str], Decimal | None]) -> None:
    """The lake file the fx_rates asset writes: one rate per (day, currency) into USD."""
    pulled_at = dt.datetime.now(dt.UTC)
    rows = [
        {
            "date_day": day,
            "currency": currency,
            "reporting_currency": "USD",
            "rate": rate,
            "rate_day": day if rate is not None else None,
            "missing_reason": None if rate is not None else "the FX rates end on 2026-01-01",
            "source": "test",
            "pulled_at": pulled_at,
        }
        for (day, currency), rate in rates.items()
    ]
    Lake(home / "lake").write(Lake(home / "lake").partition_path(FX.name), FX.table(rows))


@pytest.fixture(scope="module")
def in_usd(built: Built) -> Built:
    """The same marts with a reporting currency (USD); EUR has no rate on the last day."""
    rates: dict[tuple[dt.date, str], Decimal | None] = {}
    for day in DAYS:
        rates[(day, "USD")] = Decimal(1)
        rates[(day, "EUR")] = Decimal("1.1000000000") if day != DAYS[-1] else None
    _write_fx_rates(built.home, rates)
    result = run_dbt(built.home, "build", "--vars", '{"reporting_currency": "USD"}')
    assert result.returncode == 0, result.stdout[-4000:]
    publish_marts(built.build_db, built.marts)
    return built


def test_money_converts_at_the_days_rate_and_a_missing_rate_is_null_never_one(
    in_usd: Built,
) -> None:
    con = open_marts_readonly(in_usd.marts)
    try:
        for table in (
            "rpt_account_daily",
            "rpt_campaign_daily",
            "rpt_ad_set_daily",
            "rpt_ad_daily",
        ):
            rows = _rows(con, f"select * from {table}")
            assert rows, table
            for row in rows:
                assert row["reporting_currency"] == "USD", table
                if row["currency"] == "USD":
                    assert row["spend_reporting"] == row["spend"], table
                elif row["date_day"] == DAYS[-1]:
                    assert row["fx_rate"] is None and row["spend_reporting"] is None, table
                    assert row["fx_missing_reason"] == "the FX rates end on 2026-01-01", table
                else:
                    want = (Decimal(row["spend"]) * Decimal("1.1")).quantize(Decimal("0.01"))
                    assert row["spend_reporting"] == want, (table, row["date_day"])
                    assert row["fx_missing_reason"] is None
        weekly = _rows(
            con,
            "select account_id, days_without_fx_rate, spend_reporting from rpt_account_weekly "
            "where account_id = 'act_101'",
        )
        # a period with a day without a rate has no converted total, never a partial one
        last_week = [w for w in weekly if w["days_without_fx_rate"] > 0]
        assert last_week and all(w["spend_reporting"] is None for w in last_week)
    finally:
        con.close()


def test_a_new_rate_rebuilds_the_report_slices_it_changes(in_usd: Built) -> None:
    rates: dict[tuple[dt.date, str], Decimal | None] = {}
    for day in DAYS:
        rates[(day, "USD")] = Decimal(1)
        rates[(day, "EUR")] = Decimal("1.2000000000")  # revised, and the last day now has one
    _write_fx_rates(in_usd.home, rates)
    result = run_dbt(
        in_usd.home, "build", "-s", "stg_fx_rates+", "--vars", '{"reporting_currency": "USD"}'
    )
    assert result.returncode == 0, result.stdout[-4000:]
    publish_marts(in_usd.build_db, in_usd.marts)
    con = open_marts_readonly(in_usd.marts)
    try:
        rows = _rows(
            con,
            "select spend, fx_rate, spend_reporting from rpt_account_daily "
            "where account_id = 'act_101'",
        )
        assert len(rows) == len(DAYS)
        for row in rows:
            assert row["fx_rate"] == Decimal("1.2")
            assert row["spend_reporting"] == (Decimal(row["spend"]) * Decimal("1.2")).quantize(
                Decimal("0.01")
            )
    finally:
        con.close()


# -- re-pull a day: incremental rebuild, readers during publish ----------------------------


@pytest.fixture(scope="module")
def rebuilt(built: Built) -> dict[str, Any]:
    """Re-pull two days, then rebuild through the Dagster asset (incremental + publish)."""
    import dagster as dg

    from ads_platform.assets.marts import dbt_resource
    from ads_platform.resources import PlatformResource
    from ads_platform_tests.platform_defs import marts_dbt_assets

    builder = built.builder
    old_reader = open_marts_readonly(built.marts)
    before = _rows(old_reader, "select count(*) as n, sum(conversions) as c from fct_ad_daily")[0]
    # Re-pull act_101's middle day: conversions matured (boost) and ad 3003 vanished.
    day = DAYS[1]
    rows = [r for r in builder.ad_rows("act_101", day, boost=5) if r["ad_id"] != "3003"]
    builder.write_day("act_101", day, rows, run_id="run-2")
    # Re-pull act_202's first day as empty: Meta returns no rows for a day without delivery.
    builder.write_day("act_202", DAYS[0], [], run_id="run-2")
    config = built.home / "ads_platform.yaml"
    config.write_text(f"home: {built.home}\n")
    from dbt.adapters.factory import FACTORY, reset_adapters

    reset_adapters()
    result = dg.materialize(
        [marts_dbt_assets],
        resources={"dbt": dbt_resource(), "platform": PlatformResource(config_path=str(config))},
    )
    adapters = dict(FACTORY.adapters)  # what the run started in this process
    log = (built.home / "warehouse" / "dbt_target" / "dbt.log").read_text()
    return {
        "old_reader": old_reader,
        "before": before,
        "log": log,
        "day": day,
        "result": result,
        "adapters": adapters,
    }


def test_incremental_run_rebuilds_only_changed_slices(rebuilt: dict[str, Any]) -> None:
    # two files re-pulled (one of them now empty); the other six are not opened
    assert "fct_ad_daily: re-reading 2 lake file(s), dropping 0" in rebuilt["log"]


def test_replaced_partition_fully_replaces_old_rows(built: Built, rebuilt: dict[str, Any]) -> None:
    con = open_marts_readonly(built.marts)
    try:
        _assert_equal_to_lake(con, built.builder)
        gone = _rows(
            con,
            "select count(*) as n from fct_ad_daily "
            f"where ad_id = '3003' and date_day = date '{rebuilt['day']}'",
        )
        assert gone == [{"n": 0}]
        emptied = _rows(
            con,
            "select count(*) as n from fct_ad_daily "
            f"where account_id = 'act_202' and date_day = date '{DAYS[0]}'",
        )
        assert emptied == [{"n": 0}]
        bigger = _rows(
            con,
            "select sum(conversions_purchase) as p from fct_ad_daily where account_id = 'act_101' "
            f"and date_day = date '{rebuilt['day']}'",
        )[0]["p"]
        assert bigger == 1 + 5  # ad 3001 (n + boost); 3002 has no purchase count row
    finally:
        con.close()


def test_reader_opened_before_publish_keeps_answering(
    built: Built, rebuilt: dict[str, Any]
) -> None:
    old = rebuilt["old_reader"]
    try:
        still = _rows(old, "select count(*) as n, sum(conversions) as c from fct_ad_daily")[0]
        assert still == rebuilt["before"]  # the old file, unchanged and readable
    finally:
        old.close()
    new = open_marts_readonly(built.marts)
    try:
        now = _rows(new, "select count(*) as n, sum(conversions) as c from fct_ad_daily")[0]
        assert now != rebuilt["before"]
    finally:
        new.close()


# -- through Dagster -----------------------------------------------------------------------


def test_dagster_asset_builds_checks_and_publishes(built: Built, rebuilt: dict[str, Any]) -> None:
    """The @dbt_assets wiring: dbt tests become checks, materializations carry metadata."""
    from ads_platform.assets.marts import DUCKDB_POOL
    from ads_platform_tests.platform_defs import marts_dbt_assets

    result = rebuilt["result"]
    assert result.success
    by_key = {
        m.asset_key.to_user_string(): m
        for m in result.asset_materializations_for_node("marts_dbt_assets")
    }
    assert len(by_key) == len(marts_dbt_assets.keys)
    fct = by_key["marts/fct_ad_daily"]
    assert fct.metadata["published_path"].value == str(built.marts)
    con = open_marts_readonly(built.marts)
    try:
        published_rows = _rows(con, "select count(*) as n from fct_ad_daily")[0]["n"]
        published_columns = [
            r["column_name"]
            for r in _rows(
                con,
                "select column_name from information_schema.columns "
                "where table_name = 'fct_ad_daily' order by ordinal_position",
            )
        ]
    finally:
        con.close()
    assert fct.metadata["dagster/row_count"].value == published_rows > 0
    schema = fct.metadata["dagster/column_schema"].value
    assert [c.name for c in schema.columns] == published_columns
    # A view has its columns but no row count: counting it would run its query.
    view = by_key["marts/data_freshness"]
    assert view.metadata["dagster/column_schema"].value.columns
    assert "dagster/row_count" not in view.metadata
    checks = result.get_asset_check_evaluations()
    assert len(checks) == len(list(marts_dbt_assets.check_specs))
    assert all(c.passed for c in checks)
    spec = next(iter(marts_dbt_assets.specs))
    assert spec.group_name == "marts"
    assert spec.automation_condition is not None
    assert marts_dbt_assets.op.pool == DUCKDB_POOL


def test_a_marts_run_starts_no_dbt_adapter_in_the_run_worker(rebuilt: dict[str, Any]) -> None:
    """The metadata comes from DuckDB's catalog: dagster-dbt's in-process adapter (its
    profile load, its handle on the build database) is never started.  The override is
    of a private method: if dagster-dbt renamed it, the adapter would start again here."""
    from dagster_dbt import DbtCliResource

    assert rebuilt["result"].success
    assert hasattr(DbtCliResource, "_initialize_dbt_core_adapter")
    assert rebuilt["adapters"] == {}


def test_the_dbt_version_is_read_from_the_environment_not_by_starting_dbt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """dagster-dbt would run ``dbt --version`` (a whole dbt start-up) before every build."""
    import importlib.metadata

    import dagster_dbt.core.resource
    from packaging import version

    from ads_platform.assets.marts import dbt_resource

    def no_subprocess(*args: object, **kwargs: object) -> bytes:
        raise AssertionError(f"a subprocess was started: {args}")

    monkeypatch.setattr(dagster_dbt.core.resource, "check_output", no_subprocess)
    resource = dbt_resource()
    assert resource._cli_version == version.parse(importlib.metadata.version("dbt-core"))


def _readable_relations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The relations a marts reader can query (the lake's file views are closed to it)."""
    names = [
        f'"{schema}"."{name}"'
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database() order by all"
        ).fetchall()
    ]
    readable = []
    for name in names:
        try:
            con.execute(f"select count(*) from {name}").fetchall()
        except duckdb.PermissionException:
            continue
        readable.append(name)
    return readable


def test_a_duckdb_1_4_command_line_reads_the_marts_published_after_an_incremental_build(
    built: Built, rebuilt: dict[str, Any], marts: duckdb.DuckDBPyConnection
) -> None:
    # After an incremental build: dbt replaces the lake views there, which leaves the
    # views reading them without column types, and DuckDB 1.x refuses such views.
    assert rebuilt["result"].success
    cli = duckdb_cli()
    assert cli_version(cli).startswith("v1.4."), cli_version(cli)
    relations = _readable_relations(marts)
    assert {'"main"."fct_ad_daily"', '"main"."data_freshness"', '"main"."rpt_ad_daily"'} <= set(
        relations
    )
    counts = " union all ".join(
        f"select '{name}' as relation, count(*) as n from {name}" for name in relations
    )
    read_by_1_4 = {row["relation"]: row["n"] for row in cli_query(cli, built.marts, counts)}
    read_by_us = {row["relation"]: row["n"] for row in _rows(marts, counts)}
    assert read_by_1_4 == read_by_us
    assert read_by_us['"main"."fct_ad_daily"'] > 0
    # Every view the build left, the lake's file views too, binds in the older client.
    views = _rows(
        marts,
        "select schema_name, view_name from duckdb_views() "
        "where database_name = current_database() and not internal",
    )
    assert len(views) > 10
    described = " union all ".join(
        f"select '{v['schema_name']}.{v['view_name']}' as v, count(*) as n "
        f'from (describe "{v["schema_name"]}"."{v["view_name"]}")'
        for v in views
    )
    assert len(cli_query(cli, built.marts, described)) == len(views)
    # Money keeps its type and its exact digits in the older client.
    spend = cli_query(
        cli,
        built.marts,
        "select any_value(typeof(spend)) as t, sum(spend)::varchar as s from fct_ad_daily",
    )
    ours = marts.execute("select sum(spend)::varchar from fct_ad_daily").fetchone()
    assert ours is not None
    assert spend == [{"t": "DECIMAL(18,2)", "s": ours[0]}]


def test_the_build_database_itself_is_beyond_a_duckdb_1_4_client(built: Built) -> None:
    # What makes the test above attack something: dbt writes DuckDB 2.0's own format.
    cli = duckdb_cli()
    done = subprocess.run(
        [str(cli), "-readonly", str(built.build_db), "-c", "select 1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "version" in done.stderr
