"""The schedules, evaluated on a real instance at chosen instants."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from ads_platform.automation import automation_definitions
from ads_platform.automation.schedules import build_daily_schedules, build_intraday_schedule
from ads_platform_tests.automation.helpers import (
    INSIGHTS_RUN,
    LOS_ANGELES,
    TIMEZONES,
    TOKYO,
    Env,
    repository,
    tags_of,
    write_accounts_table,
)

ACCOUNT_ASSETS = "ad_sets,ads,campaigns,creatives,reach_monthly,token_health"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def _setup(env: Env, order: list[str]) -> None:
    env.instance.add_dynamic_partitions("ad_accounts", order)
    write_accounts_table(env.lake, TIMEZONES, utc(2026, 1, 1))


def _daily(env: Env, at: dt.datetime) -> list[dg.RunRequest]:
    """What the daily schedules request at ``at``, each run in its schedule's job."""
    requests = []
    for schedule in build_daily_schedules():
        ticks = _tick(schedule, env, at) if _is_tick(schedule, at) else []
        assert all(r.job_name == schedule.job_name for r in ticks), schedule.name
        requests += ticks
    return sorted(requests, key=_launch_order)


def _is_tick(schedule: dg.ScheduleDefinition, at: dt.datetime) -> bool:
    minute, hour = str(schedule.cron_schedule).split()[:2]
    return int(minute) == at.minute and (hour == "*" or int(hour) == at.hour)


def _launch_order(request: dg.RunRequest) -> int:
    # The one schedule's order: insights range runs, then per-account runs, then ad_accounts.
    return ["ingest_insights", "ingest_account_assets", "refresh_ad_accounts"].index(
        str(request.job_name)
    )


def _tick(schedule: dg.ScheduleDefinition, env: Env, at: dt.datetime) -> list[dg.RunRequest]:
    with dg.build_schedule_context(
        instance=env.instance,
        scheduled_execution_time=at,
        resources=env.resources,
        repository_def=repository(schedules=[schedule]),
    ) as context:
        data = schedule.evaluate_tick(context)
    return list(data.run_requests or [])


def test_daily_schedule_pulls_tokyo_at_its_3am(env: Env) -> None:
    _setup(env, [TOKYO, LOS_ANGELES])
    requests = _daily(env, utc(2026, 3, 4, 18, 15))
    assert tags_of(requests) == [
        (INSIGHTS_RUN, "act_101|2026-02-05", "act_101|2026-03-04"),
        (ACCOUNT_ASSETS, TOKYO, TOKYO),
    ]
    assert all(r.tags["ads_platform/trigger"] == "daily" for r in requests)


def test_daily_schedule_pulls_los_angeles_at_its_3am(env: Env) -> None:
    _setup(env, [TOKYO, LOS_ANGELES])
    requests = _daily(env, utc(2026, 3, 4, 11, 15))
    assert tags_of(requests) == [
        (INSIGHTS_RUN, "act_202|2026-02-04", "act_202|2026-03-03"),
        (ACCOUNT_ASSETS, LOS_ANGELES, LOS_ANGELES),
    ]


def test_daily_schedule_refreshes_ad_accounts_at_midnight_utc(env: Env) -> None:
    _setup(env, [TOKYO, LOS_ANGELES])
    requests = _daily(env, utc(2026, 3, 4, 0, 15))
    assert tags_of(requests) == [("ad_accounts", "", "")]
    assert _daily(env, utc(2026, 3, 4, 1, 15)) == []


def test_accounts_without_a_known_time_zone_use_utc(env: Env) -> None:
    env.instance.add_dynamic_partitions("ad_accounts", [TOKYO, LOS_ANGELES])  # no lake table
    requests = _daily(env, utc(2026, 3, 4, 3, 15))
    assert tags_of(requests) == [
        (INSIGHTS_RUN, "act_101|2026-02-04", "act_101|2026-03-03"),
        (INSIGHTS_RUN, "act_202|2026-02-04", "act_202|2026-03-03"),
        (ACCOUNT_ASSETS, TOKYO, LOS_ANGELES),  # adjacent: one range run
    ]


def test_intraday_refresh_is_one_run_when_local_dates_agree(env: Env) -> None:
    _setup(env, [TOKYO, LOS_ANGELES])
    requests = _tick(build_intraday_schedule(60), env, utc(2026, 3, 4, 14, 0))
    assert tags_of(requests) == [(INSIGHTS_RUN, "act_101|2026-03-04", "act_202|2026-03-04")]
    assert requests[0].tags["ads_platform/trigger"] == "intraday"


def test_intraday_refresh_after_tokyo_midnight(env: Env) -> None:
    _setup(env, [TOKYO, LOS_ANGELES])
    # 15:30 UTC: it is already March 5 in Tokyo; the daily partitions end at the
    # easternmost account's today (ads_platform.day_grid) so Tokyo's today exists and is
    # refreshed, next to Los Angeles' March 4.
    requests = _tick(build_intraday_schedule(60), env, utc(2026, 3, 4, 15, 30))
    assert tags_of(requests) == [
        (INSIGHTS_RUN, "act_101|2026-03-05", "act_101|2026-03-05"),
        (INSIGHTS_RUN, "act_202|2026-03-04", "act_202|2026-03-04"),
    ]
    # Early in the UTC day both have their own date: two runs.
    requests = _tick(build_intraday_schedule(60), env, utc(2026, 3, 5, 2, 0))
    assert tags_of(requests) == [
        (INSIGHTS_RUN, "act_101|2026-03-05", "act_101|2026-03-05"),
        (INSIGHTS_RUN, "act_202|2026-03-04", "act_202|2026-03-04"),
    ]


def test_disabled_accounts_are_not_scheduled(env: Env) -> None:
    _setup(env, [TOKYO, "act_303", LOS_ANGELES])  # act_303: removed from the settings
    requests = _tick(build_intraday_schedule(60), env, utc(2026, 3, 4, 14, 0))
    assert tags_of(requests) == [
        (INSIGHTS_RUN, "act_101|2026-03-04", "act_101|2026-03-04"),
        (INSIGHTS_RUN, "act_202|2026-03-04", "act_202|2026-03-04"),
    ]


def test_everything_is_running_by_default_and_loads_with_the_definitions(env: Env) -> None:
    from ads_platform_tests.automation.daemon_defs import defs as wired

    assert automation_definitions(env.settings)["schedules"]
    dg.Definitions.validate_loadable(wired)
    repo = wired.get_repository_def()
    for schedule in repo.schedule_defs:
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING, schedule.name
    for sensor in repo.sensor_defs:
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING, sensor.name
    names = {s.name for s in repo.sensor_defs}
    assert "default_automation_condition_sensor" not in names
    assert {
        "new_ad_accounts",
        "token_recovery",
        "entity_changes",
        "ads_platform_automation",
        "asset_check_alerts",
        "run_failure_alerts",
        "ingestion_health_alerts",
    } <= names
    intraday = repo.get_schedule_def("intraday_today_refresh")
    assert intraday.cron_schedule == "45 * * * *"  # today_refresh_minutes defaults to 60
