"""The marts' declarative automation, evaluated as the daemon evaluates it.

Issue 10: at the top of every hour automation queued a rebuild of nearly every mart with
nothing new upstream.  Now only the models with an input that changes without a
materialization (the clock, the platform's own logs) tick hourly, and what reads them
follows as an upstream change; every other mart waits for its inputs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from ads_platform_tests.conftest import in_memory_instance
from ads_platform_tests.platform_defs import defs, marts_dbt_assets

MARTS = dg.AssetSelection.assets(*marts_dbt_assets.keys)

#: The models that tick hourly, and those that read them (from the dbt manifest).
TICKING = {
    "marts/fct_reach",
    "marts/dim_calendar",
    "staging/stg_ingestion_attempts",
    "staging/stg_alerts",
}
READ_THEM = {
    "intermediate/int_account_freshness",
    "marts/data_freshness",
    "marts/alerts",
    "marts/rpt_account_monthly",
    "marts/rpt_campaign_monthly",
    "marts/rpt_account_weekly",
    "marts/rpt_campaign_weekly",
}


def _requested(result: dg.EvaluateAutomationConditionsResult) -> set[str]:
    return {
        r.key.to_user_string()
        for r in result.results
        if r.true_subset.size and r.key in marts_dbt_assets.keys
    }


def _built(instance: dg.DagsterInstance, keys: set[str]) -> None:
    """What a passing build records: each model materialized, each of its dbt tests passed."""
    for key in sorted(keys):
        asset_key = dg.AssetKey(key.split("/"))
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key))
        for check in marts_dbt_assets.check_specs:
            if check.asset_key == asset_key:
                instance.report_runless_asset_event(
                    dg.AssetCheckEvaluation(asset_key=asset_key, check_name=check.name, passed=True)
                )


def test_the_hourly_tick_rebuilds_only_what_the_clock_or_the_logs_feed(tmp_path: Path) -> None:
    marts = {k.to_user_string() for k in marts_dbt_assets.keys}
    assert marts >= TICKING | READ_THEM
    start = dt.datetime(2026, 11, 20, 9, 10, tzinfo=dt.UTC)
    with in_memory_instance(tmp_path) as instance:
        # The ingestion assets' blocking checks passed (a failed one holds the marts back:
        # automation/test_automation_sensor.py and the blocking checks' own tests).
        for check_key in defs.resolve_asset_graph().asset_check_keys:
            if check_key.asset_key not in marts_dbt_assets.keys:
                instance.report_runless_asset_event(
                    dg.AssetCheckEvaluation(
                        asset_key=check_key.asset_key, check_name=check_key.name, passed=True
                    )
                )
        _built(instance, marts)  # every mart built once, before the first tick
        cursor = None
        seen = []
        for minutes in (0, 20, 40):  # the rest of the hour: nothing new, no tick
            result = dg.evaluate_automation_conditions(
                defs=defs,
                asset_selection=MARTS,
                instance=instance,
                cursor=cursor,
                evaluation_time=start + dt.timedelta(minutes=minutes),
            )
            cursor = result.cursor
            seen.append(_requested(result))
        assert seen == [set(), set(), set()]
        tick = dg.evaluate_automation_conditions(
            defs=defs,
            asset_selection=MARTS,
            instance=instance,
            cursor=cursor,
            evaluation_time=start + dt.timedelta(hours=1),
        )
        # The ticking models, and in the same run what reads them (Dagster plans a
        # child of a model it requests as updated): 11 of the 59 models, never the facts.
        assert _requested(tick) == TICKING | READ_THEM
        assert len(TICKING | READ_THEM) == 11
        assert "marts/fct_ad_daily" not in _requested(tick)
        # 04:00 UTC: every mart once a day, in one run (the whole-lake verification).
        # The daemon evaluates every 30 s: the runs' materializations are seen before the
        # next tick (a materialization and a tick in one evaluation: the update wins).
        _built(instance, _requested(tick))
        cursor = tick.cursor
        next_day = start.replace(day=start.day + 1)
        for when, expected in (
            (start + dt.timedelta(hours=1, minutes=5), set()),  # built: nothing follows
            (next_day.replace(hour=3), TICKING | READ_THEM),  # hourly ticks passed, not 04:00
            (next_day.replace(hour=3, minute=15), set()),
            (next_day.replace(hour=4, minute=10), marts),
            (next_day.replace(hour=4, minute=15), set()),
        ):
            result = dg.evaluate_automation_conditions(
                defs=defs,
                asset_selection=MARTS,
                instance=instance,
                cursor=cursor,
                evaluation_time=when,
            )
            cursor = result.cursor
            assert _requested(result) == expected, when
            _built(instance, expected)


def test_automation_observes_the_platforms_logs_at_each_hourly_tick_only(tmp_path: Path) -> None:
    """Nothing else observes `ingestion_attempts` and `alerts` (they are never
    materialized): without this their page would say nothing of when they last changed."""
    logs = dg.AssetSelection.assets("ingestion_attempts", "alerts")
    requested_at = {}
    with in_memory_instance(tmp_path) as instance:
        cursor = None
        for hour, minute in ((9, 10), (9, 40), (10, 1), (10, 20), (11, 0)):
            result = dg.evaluate_automation_conditions(
                defs=defs,
                asset_selection=logs,
                instance=instance,
                cursor=cursor,
                evaluation_time=dt.datetime(2026, 11, 20, hour, minute, tzinfo=dt.UTC),
            )
            cursor = result.cursor
            requested_at[f"{hour}:{minute:02d}"] = {
                r.key.to_user_string() for r in result.results if r.true_subset.size
            }
    both = {"ingestion_attempts", "alerts"}
    assert requested_at == {
        "9:10": set(),
        "9:40": set(),
        "10:01": both,
        "10:20": set(),
        "11:00": both,
    }
