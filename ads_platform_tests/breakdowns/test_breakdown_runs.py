"""Breakdowns pulled by real Dagster range runs against the sandbox over real HTTP."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import dagster as dg
import duckdb
import pytest
import yaml

from ads_platform.datasets import BREAKDOWNS, Breakdown
from ads_platform.demo import insights_selection, materialize
from ads_platform.partitions import key_for, range_tags
from ads_platform.sandbox import Sandbox
from ads_platform.settings import Settings
from ads_platform_tests.conftest import SANDBOX_TODAY, Platform
from ads_platform_tests.e2e.helpers import attempts, check_evaluations, lake, setup_accounts
from ads_platform_tests.platform_defs import defs

SINCE = SANDBOX_TODAY - dt.timedelta(days=3)
UNTIL = SANDBOX_TODAY - dt.timedelta(days=1)


def pull(
    platform: Platform, account_id: str, since: dt.date, until: dt.date, selection: list[str]
) -> dg.ExecuteInProcessResult:
    return materialize(
        defs,
        platform.instance,
        selection,
        tags=range_tags(str(key_for(account_id, since)), str(key_for(account_id, until))),
    )


def stored_by_value(
    platform: Platform, breakdown: Breakdown, account_id: str
) -> dict[tuple[str, ...], tuple[Decimal, int, int]]:
    """(day, *value) → (spend, impressions, ad rows) summed over the ads of the lake files."""
    glob = lake(platform).dataset_dir(breakdown.name) / f"account_id={account_id}" / "*" / "*"
    dims = ", ".join(breakdown.dims)
    rows = (
        duckdb.connect()
        .execute(
            f"""select date_day::varchar, {dims}, sum(spend), sum(impressions)::bigint, count(*)
            from read_parquet('{glob}.parquet') group by all"""
        )
        .fetchall()
    )
    n = len(breakdown.dims)
    return {tuple(r[: n + 1]): (Decimal(r[n + 1]), r[n + 2], r[n + 3]) for r in rows}


def truth_by_value(
    platform: Platform, breakdown: Breakdown, account_id: str, since: dt.date, until: dt.date
) -> dict[tuple[str, ...], tuple[Decimal, int]]:
    truth = platform.sandbox.breakdown_truth(account_id, since, until, breakdown.dims)
    return {
        (day["date"], *(str(row[d]) for d in breakdown.dims)): (
            Decimal(str(row["spend"])).quantize(Decimal("0.01")),
            int(row["impressions"]),
        )
        for day in truth["days"]
        for row in day["rows"]
    }


def test_one_range_run_stores_every_breakdown_as_the_sandbox_splits_it(platform: Platform) -> None:
    setup_accounts(platform)
    account_id = platform.accounts[0]
    selection = insights_selection(defs)
    assert selection == ["ad_insights_daily", *(b.name for b in BREAKDOWNS.values())]
    result = pull(platform, account_id, SINCE, UNTIL, selection)
    assert result.success
    materialized = set()
    for event in result.all_events:
        if event.is_step_materialization:
            m = event.event_specific_data.materialization  # type: ignore[union-attr]
            materialized.add((m.asset_key.to_user_string(), m.partition))
    days = [SINCE + dt.timedelta(days=i) for i in range((UNTIL - SINCE).days + 1)]
    for name in selection:
        assert {(name, str(key_for(account_id, d))) for d in days} <= materialized
    for breakdown in BREAKDOWNS.values():
        stored = stored_by_value(platform, breakdown, account_id)
        truth = truth_by_value(platform, breakdown, account_id, SINCE, UNTIL)
        assert truth and len({k[0] for k in truth}) == len(days)
        assert {k: v[:2] for k, v in stored.items()} == truth, breakdown.key
        logged = [a for a in attempts(platform, account_id) if a["dataset"] == breakdown.name]
        assert sorted((a["date_day"], a["status"]) for a in logged) == [
            (d, "success") for d in days
        ]
    reconciled = [
        e
        for e in check_evaluations(platform, result.run_id)
        if e.check_name == "reconciles_with_unbroken_totals"
    ]
    assert len(reconciled) == len(BREAKDOWNS) and all(e.passed for e in reconciled)


def test_a_breakdown_answering_zeros_while_the_day_delivered_is_blocked_and_not_stored(
    platform: Platform,
) -> None:
    setup_accounts(platform)
    account_id = platform.accounts[1]
    placement = BREAKDOWNS["placement"]
    assert pull(platform, account_id, UNTIL, UNTIL, ["ad_insights_daily", placement.name]).success
    path = lake(platform).partition_path(placement.name, account_id, UNTIL)
    before = path.read_bytes()
    platform.sandbox.add_fault("zeros", account_id=account_id)
    result = pull(platform, account_id, UNTIL, UNTIL, [placement.name])
    assert not result.success
    assert path.read_bytes() == before
    guard = [e for e in check_evaluations(platform, result.run_id) if e.check_name == "zero_guard"]
    assert len(guard) == 1 and not guard[0].passed
    assert "unbroken day delivered" in str(guard[0].description)
    last = [a for a in attempts(platform, account_id) if a["dataset"] == placement.name][-1]
    assert (last["date_day"], last["status"], last["error_kind"]) == (
        UNTIL,
        "blocked",
        "zero_guard",
    )


def test_reach_is_null_not_zero_when_the_query_starts_more_than_13_months_back(
    platform: Platform,
) -> None:
    setup_accounts(platform, entities=False)
    account_id = platform.accounts[0]
    day = dt.date(2026, 1, 5)
    platform.sandbox.set_today(dt.date(2027, 3, 1))
    country = BREAKDOWNS["country"]
    assert pull(platform, account_id, day, day, ["ad_insights_daily", country.name]).success
    frame = lake(platform).read(lake(platform).partition_path(country.name, account_id, day))
    assert frame is not None and len(frame) and int(frame["impressions"].sum()) > 0
    assert frame["reach"].isna().all()
    platform.sandbox.set_today(SANDBOX_TODAY)
    assert pull(platform, account_id, UNTIL, UNTIL, [country.name, "ad_insights_daily"]).success
    recent = lake(platform).read(lake(platform).partition_path(country.name, account_id, UNTIL))
    # Recent queries carry reach (Meta, and the sandbox, omit it on a few rows anyway).
    assert recent is not None and recent["reach"].notna().mean() > 0.9
    assert (recent["reach"].dropna() > 0).all()


def test_the_daily_runs_pull_the_breakdowns_switched_on_in_the_same_run() -> None:
    from ads_platform.automation.common import insights_run

    every = insights_run("a", "b", "daily", settings=Settings())
    assert [k.to_user_string() for k in every.asset_selection or []] == [
        "ad_insights_daily",
        *(b.name for b in BREAKDOWNS.values()),
    ]
    some = Settings.model_validate({"ingestion": {"breakdowns": ["country"]}})
    assert [
        k.to_user_string()
        for k in insights_run("a", "b", "daily", settings=some).asset_selection or []
    ] == [
        "ad_insights_daily",
        "ad_insights_country_daily",
    ]
    none = Settings.model_validate({"ingestion": {"breakdowns": []}})
    assert insights_run("a", "b", "daily", settings=none).asset_selection == [
        dg.AssetKey("ad_insights_daily")
    ]


def test_a_breakdown_switched_off_has_no_asset_that_pulls_it() -> None:
    from ads_platform.definitions import build_definitions

    some = Settings.model_validate({"ingestion": {"breakdowns": ["placement"]}})
    graph = build_definitions(some).resolve_asset_graph()
    pulled = {
        k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).is_materializable
    }
    assert "ad_insights_placement_daily" in pulled
    # The marts still name the others as dbt sources (external, never pulled here).
    assert (
        not {
            "ad_insights_country_daily",
            "ad_insights_region_daily",
            "ad_insights_age_gender_daily",
        }
        & pulled
    )


def test_the_settings_name_exactly_the_declared_breakdowns() -> None:
    import typing

    from ads_platform.settings import BreakdownName

    assert set(typing.get_args(BreakdownName)) == set(BREAKDOWNS)
    assert Settings().ingestion.breakdowns == tuple(BREAKDOWNS)


@pytest.fixture
def drifting(platform: Platform) -> Iterator[Platform]:
    """The platform on a sandbox of its own whose breakdowns differ from the totals (±3 %)."""
    with Sandbox(seed=11, accounts=3, today=SANDBOX_TODAY, breakdown_drift_per_mille=30) as sandbox:
        assert sorted(sandbox.account_ids) == platform.accounts
        data = yaml.safe_load(platform.config_path.read_text())
        data["meta"]["graph_base_url"] = sandbox.base_url
        platform.config_path.write_text(yaml.safe_dump(data))
        yield dataclasses.replace(platform, sandbox=sandbox)


def test_a_breakdown_that_differs_from_the_totals_is_stored_with_a_warning_naming_both(
    drifting: Platform,
) -> None:
    setup_accounts(drifting, entities=False)
    account_id = drifting.accounts[0]
    age_gender = BREAKDOWNS["age_gender"]
    result = pull(drifting, account_id, SINCE, UNTIL, ["ad_insights_daily", age_gender.name])
    assert result.success  # a warning never blocks
    stored = stored_by_value(drifting, age_gender, account_id)
    truth = drifting.sandbox.breakdown_truth(account_id, SINCE, UNTIL, list(age_gender.dims))
    for day in truth["days"]:
        spend = sum(v[0] for k, v in stored.items() if k[0] == day["date"])
        expected = sum(Decimal(str(r["spend"])).quantize(Decimal("0.01")) for r in day["rows"])
        assert spend == expected != Decimal(str(day["total"]["spend"])).quantize(Decimal("0.01"))
    checks = [
        e
        for e in check_evaluations(drifting, result.run_id)
        if e.check_name == "reconciles_with_unbroken_totals"
    ]
    assert checks and all(not c.passed for c in checks)
    assert all(c.severity == dg.AssetCheckSeverity.WARN for c in checks)
    for check in checks:
        text = str(check.description)
        assert "breakdown totals (spend" in text and "the unbroken day (spend" in text


def test_a_backfill_of_insights_and_breakdowns_is_one_run_per_range_not_one_per_dataset(
    platform: Platform,
) -> None:
    from dagster._core.execution.backfill import BulkActionStatus

    from ads_platform_tests.launch import SYNC_LAUNCH_OVERRIDES, backfill_through_daemon

    with dg.instance_for_test(overrides=SYNC_LAUNCH_OVERRIDES) as instance:
        platform.instance = instance
        setup_accounts(platform, entities=False)
        account_id = platform.accounts[2]
        keys = [str(key_for(account_id, UNTIL - dt.timedelta(days=i))) for i in range(3)]
        selection = insights_selection(defs)
        before = len(instance.get_runs())
        status = backfill_through_daemon(instance, keys, selection, backfill_id="bd3")
        assert status == BulkActionStatus.COMPLETED_SUCCESS
        runs = instance.get_runs()[: len(instance.get_runs()) - before]
        assert len(runs) == 1
        assert {k.to_user_string() for k in runs[0].asset_selection or ()} == set(selection)
        for name in selection:
            assert set(keys) <= set(instance.get_materialized_partitions(dg.AssetKey(name)))
