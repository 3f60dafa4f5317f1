"""New accounts sensor: partitions added, one backfill range run per new account, once."""

from __future__ import annotations

import datetime as dt

import pytest

from ads_platform.automation import sensors
from ads_platform.automation.sensors import build_new_accounts_sensor
from ads_platform_tests.automation.helpers import (
    INSIGHTS_RUN,
    LOS_ANGELES,
    TIMEZONES,
    TOKYO,
    Clock,
    Env,
    add_lake_day,
    evaluate,
    tags_of,
    write_accounts_table,
    write_settings,
)

NOW = dt.datetime(2026, 3, 4, 12, 0, tzinfo=dt.UTC)
ACCOUNT_ASSETS = "ad_sets,ads,campaigns,creatives,reach_monthly,token_health"


def test_new_accounts_are_added_and_backfilled_once(env: Env) -> None:
    sensor = build_new_accounts_sensor(clock=Clock(NOW))
    first = evaluate(sensor, env)
    assert [r.partition_keys for r in first.dynamic_partitions_requests] == [[TOKYO, LOS_ANGELES]]
    # Time zones are unknown before ad_accounts ran: UTC, 90 days up to yesterday.
    assert tags_of(first.run_requests) == [
        ("ad_accounts", "", ""),
        (INSIGHTS_RUN, "act_101|2025-12-04", "act_101|2026-03-03"),
        (ACCOUNT_ASSETS, TOKYO, TOKYO),
        (INSIGHTS_RUN, "act_202|2025-12-04", "act_202|2026-03-03"),
        (ACCOUNT_ASSETS, LOS_ANGELES, LOS_ANGELES),
    ]
    assert all(r.tags["ads_platform/trigger"] == "new_account" for r in first.run_requests)
    assert all(r.run_key is None for r in first.run_requests)  # the cursor de-duplicates
    # The daemon applies the partition request; the next tick has nothing to do.
    env.instance.add_dynamic_partitions("ad_accounts", [TOKYO, LOS_ANGELES])
    second = evaluate(sensor, env, first.cursor)
    assert second.run_requests == []
    assert second.dynamic_partitions_requests == []


def test_an_account_added_to_the_settings_later(env: Env) -> None:
    clock = Clock(NOW)
    sensor = build_new_accounts_sensor(clock=clock)
    first = evaluate(sensor, env)
    env.instance.add_dynamic_partitions("ad_accounts", [TOKYO, LOS_ANGELES])
    write_accounts_table(env.lake, {**TIMEZONES, "act_303": "Asia/Tokyo"}, NOW)
    write_settings(env.home, [TOKYO, LOS_ANGELES, "act_303"])
    clock.advance(hours=10)  # 22:00 UTC: already March 5 in Tokyo
    second = evaluate(sensor, env, first.cursor)
    assert [r.partition_keys for r in second.dynamic_partitions_requests] == [["act_303"]]
    assert tags_of(second.run_requests) == [
        ("ad_accounts", "", ""),
        (INSIGHTS_RUN, "act_303|2025-12-05", "act_303|2026-03-04"),
        (ACCOUNT_ASSETS, "act_303", "act_303"),
    ]


def test_partitions_without_data_are_backfilled_but_existing_data_is_not(env: Env) -> None:
    # ad_accounts (e.g. the demo) already added both partitions; only Tokyo has data.
    env.instance.add_dynamic_partitions("ad_accounts", [TOKYO, LOS_ANGELES])
    write_accounts_table(env.lake, TIMEZONES, NOW)
    add_lake_day(env.lake, TOKYO, dt.date(2026, 3, 1))
    result = evaluate(build_new_accounts_sensor(clock=Clock(NOW)), env)
    assert result.dynamic_partitions_requests == []
    assert tags_of(result.run_requests) == [
        ("ad_accounts", "", ""),
        (INSIGHTS_RUN, "act_202|2025-12-04", "act_202|2026-03-03"),
        (ACCOUNT_ASSETS, LOS_ANGELES, LOS_ANGELES),
    ]


def test_backfill_window_follows_the_setting(env: Env) -> None:
    write_settings(env.home, [TOKYO], {"ingestion": {"new_account_backfill_days": 7}})
    write_accounts_table(env.lake, TIMEZONES, NOW)
    result = evaluate(build_new_accounts_sensor(clock=Clock(NOW)), env)
    # 12:00 UTC is 21:00 in Tokyo: yesterday there is March 3, seven days end on it.
    assert (INSIGHTS_RUN, "act_101|2026-02-25", "act_101|2026-03-03") in tags_of(
        result.run_requests
    )


def test_a_new_instance_over_an_existing_lake_adds_partitions_without_backfill(
    env: Env,
) -> None:
    for account in (TOKYO, LOS_ANGELES):
        add_lake_day(env.lake, account, dt.date(2026, 3, 1))
    result = evaluate(build_new_accounts_sensor(clock=Clock(NOW)), env)
    assert [r.partition_keys for r in result.dynamic_partitions_requests] == [[TOKYO, LOS_ANGELES]]
    assert result.run_requests == []


def test_many_new_accounts_are_backfilled_a_batch_per_tick_until_all_are(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sensors, "MAX_NEW_ACCOUNTS_PER_TICK", 2)
    accounts = [f"act_{900 + i}" for i in range(5)]
    write_settings(env.home, accounts)
    sensor = build_new_accounts_sensor(clock=Clock(NOW))
    backfilled: list[str] = []
    cursor = None
    for tick in range(3):
        result = evaluate(sensor, env, cursor)
        if tick == 0:  # every partition at once: bookkeeping, no run
            assert [r.partition_keys for r in result.dynamic_partitions_requests] == [accounts]
            env.instance.add_dynamic_partitions("ad_accounts", accounts)
        else:
            assert result.dynamic_partitions_requests == []
        ranges = [t for t in tags_of(result.run_requests) if t[0] == INSIGHTS_RUN]
        assert len(ranges) == min(2, 5 - len(backfilled)), tick
        backfilled += [start.split("|")[0] for _, start, _ in ranges]
        cursor = result.cursor
    assert backfilled == accounts  # each once, in the settings' order
    assert evaluate(sensor, env, cursor).run_requests == []
