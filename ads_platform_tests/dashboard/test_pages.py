"""The three pages, rendered by Streamlit's AppTest over the session's marts file.

Each page is opened the way a link opens it: a fresh session with the filters in the
URL.  Figures are read off the page as a person reads them and compared with the marts
(SQL) and with the sandbox's ground truth for the same account-local days.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from ads_platform.dashboard.model import MISSING
from ads_platform.warehouse import open_marts_readonly
from ads_platform_tests.dashboard.conftest import EURO_RATES, DashboardWorld
from ads_platform_tests.dashboard.helpers import (
    marts_totals,
    matches,
    metrics,
    no_exception,
    run_page,
    shown,
    table,
    texts,
    truth_totals,
)

pytestmark = pytest.mark.slow

LABELS = {
    "spend": "Spend",
    "impressions": "Impressions",
    "link_clicks": "Link clicks",
    "conversions": "Conversions",
    "conversion_value": "Conversion value",
}


def _custom(world: DashboardWorld, first: int, last: int) -> dict[str, str]:
    """A custom period from ``first`` to ``last`` days before the sandbox's today."""
    return {
        "period": "custom",
        "since": (world.today - dt.timedelta(days=first)).isoformat(),
        "until": (world.today - dt.timedelta(days=last)).isoformat(),
    }


def _ratio_close(text: str, expected: Decimal) -> bool:
    value = shown(text)
    return value is not None and abs(value - expected) <= Decimal("0.0051") * max(1, expected)


def test_overview_figures_equal_the_marts_and_the_sandbox_truth(
    dashboard_world: DashboardWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = dashboard_world
    params = _custom(world, 8, 2)
    since, until = dt.date.fromisoformat(params["since"]), dt.date.fromisoformat(params["until"])
    at = run_page(monkeypatch, world.marts, "overview", **params)
    no_exception(at)
    rows = table(at, "Account").set_index("Account id")
    assert set(rows.index) == {world.normal, world.stale, world.quiet}
    row = rows.loc[world.normal]
    truth = truth_totals(world, world.normal, since, until)
    assert truth["spend"] > 0  # a real account that delivered
    assert truth == marts_totals(world.marts, world.normal, since, until)
    for metric, label in LABELS.items():
        assert matches(row[label], truth[metric]), (metric, row[label], truth[metric])
    assert _ratio_close(row["ROAS"], truth["conversion_value"] / truth["spend"])
    assert _ratio_close(row["CPA"], truth["spend"] / truth["conversions"])
    # In its own currency, never summed with the others.
    currency = world.truth(world.normal, since, until)["currency"]
    assert row["Currency"] == currency and row["Spend"].endswith(currency)
    totals = table(at, "Currency").set_index("Currency")
    assert len(totals) == len({r for r in rows["Currency"]})
    assert row["Data"].startswith("data as of ") and row["Data"].endswith("up to date")


def test_a_stale_account_shows_its_reason_and_no_zeros(
    dashboard_world: DashboardWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = dashboard_world
    # From 7 to 2 days ago: the stale account has data up to 4 days ago, then nothing.
    params = _custom(world, 7, 2)
    overview = run_page(monkeypatch, world.marts, "overview", **params)
    no_exception(overview)
    row = table(overview, "Account").set_index("Account id").loc[world.stale]
    last_good = world.stale_last_good_day
    assert row["Data"] == (
        f"data as of {last_good:%a} {last_good.day} {last_good:%b}: token expired — re-authorize"
    )
    assert row["Note"].startswith("4 of 6 days")
    # Its totals are the covered days only, equal to the truth of those days.
    truth = truth_totals(world, world.stale, world.today - dt.timedelta(days=7), last_good)
    assert matches(row["Spend"], truth["spend"])
    assert row["Spend vs prev."] == ""  # no comparison over missing days
    assert any("token expired — re-authorize" in t for t in texts(overview))

    account = run_page(monkeypatch, world.marts, "account", account=world.stale, **params)
    no_exception(account)
    assert any("token expired — re-authorize" in e.value for e in account.error)
    daily = table(account, "Day").set_index("Day")
    for days_ago in (3, 2):
        day = (world.today - dt.timedelta(days=days_ago)).isoformat()
        assert daily.loc[day, "Data"] == "no data: token expired — re-authorize"
        assert daily.loc[day, "Spend"] == MISSING
        assert daily.loc[day, "Impressions"] == MISSING
    assert daily.loc[last_good.isoformat(), "Data"] == "data"

    # A period with no good day at all: every KPI is unknown, none is 0.
    gone = run_page(
        monkeypatch, world.marts, "account", account=world.stale, **_custom(world, 3, 2)
    )
    no_exception(gone)
    assert set(metrics(gone).values()) == {MISSING}
    assert any(e.value.startswith("No good data for this period") for e in gone.error)


def test_a_quiet_account_shows_zeros_with_no_delivery(
    dashboard_world: DashboardWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = dashboard_world
    overview = run_page(monkeypatch, world.marts, "overview")  # the default: last 7 days
    no_exception(overview)
    row = table(overview, "Account").set_index("Account id").loc[world.quiet]
    assert row["Note"] == "no delivery"
    assert shown(row["Spend"]) == 0 and shown(row["Impressions"]) == 0
    assert row["CPA"] == MISSING and row["ROAS"] == MISSING  # undefined, not 0
    assert row["Data"].endswith("up to date")

    account = run_page(monkeypatch, world.marts, "account", account=world.quiet)
    no_exception(account)
    assert any(i.value.startswith("No delivery in this period") for i in account.info)
    kpis = metrics(account)
    assert shown(kpis["Spend"]) == 0 and shown(kpis["Impressions"]) == 0
    daily = table(account, "Day")
    assert set(daily["Data"]) == {"no delivery"}
    assert {shown(v) for v in daily["Spend"]} == {Decimal(0)}


def test_the_account_page_equals_the_truth_and_its_levels_add_up(
    dashboard_world: DashboardWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = dashboard_world
    params = _custom(world, 8, 2)
    since, until = dt.date.fromisoformat(params["since"]), dt.date.fromisoformat(params["until"])
    truth = truth_totals(world, world.normal, since, until)
    for level, first in (("campaign", "Campaign"), ("ad_set", "Ad set"), ("ad", "Ad")):
        at = run_page(
            monkeypatch, world.marts, "account", account=world.normal, level=level, **params
        )
        no_exception(at)
        kpis = metrics(at)
        for metric, label in LABELS.items():
            assert matches(kpis[label], truth[metric]), (metric, kpis[label], truth[metric])
        # Every level of the drill-down adds up to the account (deleted entities included).
        entities = table(at, first)
        spend = sum((shown(v) or Decimal(0) for v in entities["Spend"]), Decimal(0))
        assert spend == truth["spend"], level
        assert entities[first].str.len().min() > 0  # names, current ones from the dimensions
    # Conversions by type: the configured types, from the same days.
    by_type = table(at, "Conversion type").set_index("Conversion type")
    total = sum((shown(v) or Decimal(0) for v in by_type["Conversions"]), Decimal(0))
    assert total == truth["conversions"]
    # Top and bottom ads exist and are ranked by ROAS (higher first).
    top = table(at, "Ad")
    assert len(top)


def test_reach_is_shown_at_the_grain_meta_computed_it(
    dashboard_world: DashboardWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = dashboard_world
    params = _custom(world, 5, 2)
    at = run_page(monkeypatch, world.marts, "account", account=world.normal, **params)
    no_exception(at)
    per_day = table(at, "Period")  # account × day comes first
    since = world.today - dt.timedelta(days=5)
    truth = {d["date"]: d["reach"] for d in world.truth(world.normal, since, world.today)["days"]}
    for period, reach in zip(per_day["Period"], per_day["Reach"], strict=True):
        assert shown(reach) == truth[period]  # each day's own reach, as pulled
    assert any("never added up" in t for t in texts(at))


def _month_end(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def test_each_ad_sets_month_reach_in_fct_reach_and_on_the_page_is_the_sandbox_truth(
    dashboard_world: DashboardWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = dashboard_world
    today = world.sandbox.reach_truth(world.normal, world.today, world.today)["account_today"]
    month = dt.date.fromisoformat(today).replace(day=1)
    months = ((month - dt.timedelta(days=1)).replace(day=1), month)  # complete, running
    truth = {
        m: {
            (t["campaign_id"], t["adset_id"]): t["reach"]
            for t in world.sandbox.reach_truth(world.normal, m, _month_end(m), "adset")["rows"]
        }
        for m in months
    }
    con = open_marts_readonly(world.marts)
    try:
        rows = con.execute(
            "select period_start, campaign_id, ad_set_id, reach, is_complete from fct_reach "
            "where level = 'ad_set' and period = 'month' and account_id = ?",
            [world.normal],
        ).fetchall()
    finally:
        con.close()
    for m in months:
        got = {(c, a): r for start, c, a, r, _ in rows if start == m}
        assert truth[m] and got == truth[m], m
    assert {start: done for start, *_, done in rows if start in months} == {
        months[0]: True,
        months[1]: False,
    }
    # The account page lists the ad sets' months beside the campaigns' (never summed).
    at = run_page(monkeypatch, world.marts, "account", account=world.normal, **_custom(world, 3, 0))
    no_exception(at)
    page = table(at, "Ad set")
    on_page: dict[str, list[Decimal | None]] = {}
    for period, reach in zip(page["Period"], page["Reach"], strict=True):
        on_page.setdefault(period, []).append(shown(reach))
    expected = {f"{m} – {_month_end(m)}": sorted(truth[m].values()) for m in months}
    assert f"{month} – {_month_end(month)}" in on_page
    for period, reaches in on_page.items():
        assert sorted(reaches) == expected[period], period  # type: ignore[type-var]


def test_the_account_page_shows_metas_reach_for_the_last_7_days_and_none_for_custom_dates(
    dashboard_world: DashboardWorld, monkeypatch: pytest.MonkeyPatch
) -> None:

    world = dashboard_world
    today = world.account_today(world.normal)
    since, until = today - dt.timedelta(days=7), today - dt.timedelta(days=1)
    (account,) = world.sandbox.reach_truth(world.normal, since, until)["rows"]
    campaigns = world.sandbox.reach_truth(world.normal, since, until, "campaign")["rows"]
    at = run_page(monkeypatch, world.marts, "account", account=world.normal, period="last_7d")
    no_exception(at)
    page = table(at, "Reach of")
    assert page["Reach of"].iloc[0] == "Whole account"
    assert shown(page["Reach"].iloc[0]) == account["reach"]
    assert account["reach"] < sum(account["daily_reach"])  # not a sum of the days
    assert sorted(shown(v) for v in page["Reach"].iloc[1:]) == sorted(  # type: ignore[type-var]
        t["reach"] for t in campaigns
    )
    assert all(label.startswith("Campaign ") for label in page["Reach of"].iloc[1:])
    # Custom dates no pull covers: said plainly, no figure for the period.
    at = run_page(monkeypatch, world.marts, "account", account=world.normal, **_custom(world, 5, 2))
    no_exception(at)
    assert any("Reach for exactly" in t and "is not pulled" in t for t in texts(at))
    with pytest.raises(AssertionError, match="no table starting with 'Reach of'"):
        table(at, "Reach of")


def test_an_unknown_account_in_a_link_is_an_error_never_another_account(
    dashboard_world: DashboardWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run_page(monkeypatch, dashboard_world.marts, "account", account="act_999")
    no_exception(at)
    assert any("unknown ad account 'act_999'" in e.value for e in at.error)
    assert not at.metric and not at.dataframe


def test_filters_are_kept_in_the_url(
    dashboard_world: DashboardWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = dashboard_world
    at = run_page(monkeypatch, world.marts, "account", account=world.normal)
    no_exception(at)
    assert at.query_params["account"] == world.normal
    at.selectbox(key="url_period").set_value("last_30d").run()
    at.radio(key="url_level").set_value("ad").run()
    no_exception(at)
    assert at.query_params["period"] == "last_30d"
    assert at.query_params["level"] == "ad"
    again = run_page(monkeypatch, world.marts, "account", **dict(at.query_params))
    assert again.selectbox(key="url_period").value == "last_30d"
    assert again.radio(key="url_level").value == "ad"


def test_data_health_says_what_is_stale_and_what_to_do(
    dashboard_world: DashboardWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = dashboard_world
    at = run_page(monkeypatch, world.marts, "health")
    no_exception(at)
    freshness = table(at, "Account").set_index("Account id")
    assert freshness.loc[world.stale, "Stale"] == "yes"
    assert freshness.loc[world.stale, "What to do"] == "re-authorize"
    assert "ad_insights_daily" in freshness.loc[world.stale, "Failing datasets"]
    assert freshness.loc[world.normal, "Stale"] == "no"
    tokens = next(
        f.value.set_index("Account id") for f in at.dataframe if "Days left" in f.value.columns
    )
    assert tokens.loc[world.stale, "Valid"] == "no"
    assert tokens.loc[world.stale, "What to do"].startswith("re-authorize")
    assert float(tokens.loc[world.normal, "Days left"]) > 14
    datasets = next(f.value for f in at.dataframe if "ad insights" in f.value.columns)
    by_account = datasets.set_index("Account id")
    assert by_account.loc[world.stale, "ad insights"] == world.stale_last_good_day.isoformat()
    assert any("No open alerts" in t for t in texts(at))


def test_every_table_can_be_downloaded_as_csv(
    dashboard_world: DashboardWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = dashboard_world
    for page, params in (
        ("overview", {}),
        ("account", {"account": world.normal}),
        ("health", {}),
    ):
        at = run_page(monkeypatch, world.marts, page, **params)
        no_exception(at)
        buttons = at.get("download_button")
        assert len(buttons) == len(at.dataframe) > 0, page


def test_a_missing_marts_file_is_one_line_saying_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for page in ("overview", "account", "health"):
        at = run_page(monkeypatch, tmp_path / "marts.duckdb", page)
        no_exception(at)
        assert [e.value for e in at.error] == [
            f"no marts at {tmp_path / 'marts.duckdb'}: run `ads-platform demo` or "
            "materialize the marts first"
        ]


def _usd_rate(currency: str) -> Decimal:
    """The world's rate of ``currency`` into USD, as the fx_rates asset computes it."""
    per_euro = {"EUR": Decimal(1)} | {c: Decimal(v) for c, v in EURO_RATES.items()}
    return (per_euro["USD"] / per_euro[currency]).quantize(Decimal("0.0000000001"))


def test_a_grand_total_in_the_reporting_currency_converts_each_account_at_its_rate(
    dashboard_world: DashboardWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = dashboard_world
    params = _custom(world, 12, 8)  # before the stale account's token expired
    since, until = dt.date.fromisoformat(params["since"]), dt.date.fromisoformat(params["until"])
    at = run_page(monkeypatch, world.marts, "overview", **params)
    no_exception(at)
    (line,) = [t for t in texts(at) if t.startswith("Total spend in USD: ")]
    assert "incomplete" not in line and "—" not in line
    expected = Decimal(0)
    for account in (world.normal, world.stale, world.quiet):
        # the marts' spend (= the truth for the accounts that delivered; 0 for the quiet one)
        spend = marts_totals(world.marts, account, since, until)["spend"]
        currency = world.truth(account, since, until)["currency"]
        expected += Decimal(spend) * _usd_rate(currency)
    days = (until - since).days + 1
    # converted per account-day and rounded to cents there: at most half a cent each
    assert abs(shown(line.removeprefix("Total spend in USD: ")) - expected) <= Decimal(
        "0.005"
    ) * days * 3 + Decimal("0.01")


def test_a_grand_total_over_days_without_data_says_it_is_incomplete(
    dashboard_world: DashboardWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run_page(monkeypatch, dashboard_world.marts, "overview", **_custom(dashboard_world, 6, 0))
    no_exception(at)
    (line,) = [t for t in texts(at) if t.startswith("Total spend in USD: ")]
    assert "incomplete" in line  # the stale account's last days have no data
