"""Token recovery: exactly the failed/missing partitions re-requested, once per incident."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from ads_platform.automation.sensors import build_token_recovery_sensor
from ads_platform.days import days_between
from ads_platform.settings import Settings
from ads_platform_tests.automation.helpers import (
    INSIGHTS_RUN,
    LOS_ANGELES,
    TIMEZONES,
    TOKYO,
    Clock,
    Env,
    evaluate,
    mark_materialized,
    tags_of,
    write_accounts_table,
    write_attempts,
    write_token_row,
)

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)  # 21:00 in Tokyo, 05:00 in LA
INCIDENT = dt.datetime(2026, 3, 6, 10, 0, tzinfo=dt.UTC)
WINDOW = days_between(dt.date(2026, 2, 10), dt.date(2026, 3, 9))  # Tokyo, lookback 28
BROKEN = [dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 3)]
REFRESH_FAILED = dt.date(2026, 3, 5)  # stored earlier, its latest attempt failed


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _no_probe(_platform: object) -> None:
    return None


class Probe:
    """A probe the test switches between "still broken" and "works again"."""

    def __init__(self) -> None:
        self.ok = False
        self.calls: list[str] = []

    def __call__(self, _settings: Settings, account_id: str) -> None:
        self.calls.append(account_id)
        if not self.ok:
            raise RuntimeError("(#190) Error validating access token: EAAB" + "z" * 30)


@pytest.fixture
def broken_tokyo(env: Env) -> Env:
    env.instance.add_dynamic_partitions("ad_accounts", [TOKYO, LOS_ANGELES])
    write_accounts_table(env.lake, TIMEZONES, NOW - dt.timedelta(days=100))
    for account in (TOKYO, LOS_ANGELES):
        mark_materialized(env.instance, account, [d for d in WINDOW if d not in BROKEN])
        for asset in (
            "campaigns",
            "ad_sets",
            "ads",
            "creatives",
        ):  # entities are fine: not re-requested
            env.instance.report_runless_asset_event(
                dg.AssetMaterialization(asset_key=asset, partition=account)
            )
    mark_materialized(env.instance, LOS_ANGELES, BROKEN)
    write_attempts(
        env.lake, TOKYO, WINDOW[:-10], status="success", at=INCIDENT - dt.timedelta(days=5)
    )
    write_attempts(
        env.lake,
        TOKYO,
        [*BROKEN, REFRESH_FAILED],
        status="failed",
        error_kind="token_invalid",
        at=INCIDENT,
    )
    write_token_row(env.lake, TOKYO, at=INCIDENT, is_valid=False, message="(#190) expired")
    return env


def test_recovered_token_rerequests_exactly_the_failed_partitions_once(broken_tokyo: Env) -> None:
    env = broken_tokyo
    clock = Clock(NOW)
    sensor = build_token_recovery_sensor(clock=clock, probe_factory=_no_probe)
    # Still invalid: nothing to do.
    before = evaluate(sensor, env)
    assert before.run_requests == []
    # token_health sees a valid token after the incident.
    write_token_row(env.lake, TOKYO, at=NOW - dt.timedelta(hours=1), is_valid=True)
    first = evaluate(sensor, env, before.cursor)
    assert tags_of(first.run_requests) == [
        (INSIGHTS_RUN, "act_101|2026-03-01", "act_101|2026-03-03"),
        (INSIGHTS_RUN, "act_101|2026-03-05", "act_101|2026-03-05"),
        ("token_health", TOKYO, TOKYO),
    ]
    assert all(r.tags["ads_platform/trigger"] == "token_recovery" for r in first.run_requests)
    # The next tick (and the one after the backoff) re-requests nothing.
    assert evaluate(sensor, env, first.cursor).run_requests == []
    clock.advance(hours=3)
    assert evaluate(sensor, env, first.cursor).run_requests == []


def test_a_new_incident_after_recovery_is_handled_again(broken_tokyo: Env) -> None:
    env = broken_tokyo
    clock = Clock(NOW)
    sensor = build_token_recovery_sensor(clock=clock, probe_factory=_no_probe)
    write_token_row(env.lake, TOKYO, at=NOW - dt.timedelta(hours=1), is_valid=True)
    first = evaluate(sensor, env)
    assert len(first.run_requests) == 3
    # The re-run stored March 1-3 and 5; two days later the token breaks again on the 8th.
    mark_materialized(env.instance, TOKYO, [*BROKEN, REFRESH_FAILED])
    clock.advance(days=1)
    write_attempts(
        env.lake,
        TOKYO,
        [d("2026-03-09")],
        status="failed",
        error_kind="token_invalid",
        at=clock.now,
    )
    write_attempts(env.lake, TOKYO, [*BROKEN, REFRESH_FAILED], status="success", at=clock.now)
    clock.advance(hours=2)
    write_token_row(env.lake, TOKYO, at=clock.now, is_valid=True)
    second = evaluate(sensor, env, first.cursor)
    # Now (March 11, 23:00 in Tokyo) the window ends March 10, never stored either.
    assert tags_of(second.run_requests) == [
        (INSIGHTS_RUN, "act_101|2026-03-09", "act_101|2026-03-10"),
        ("token_health", TOKYO, TOKYO),
    ]


def test_permission_incident_needs_the_probe_and_probes_are_rate_limited(env: Env) -> None:
    env.instance.add_dynamic_partitions("ad_accounts", [TOKYO, LOS_ANGELES])
    write_accounts_table(env.lake, TIMEZONES, NOW - dt.timedelta(days=100))
    la_window = days_between(d("2026-02-09"), d("2026-03-08"))
    mark_materialized(env.instance, LOS_ANGELES, la_window)
    write_attempts(
        env.lake,
        LOS_ANGELES,
        [d("2026-03-07"), d("2026-03-08")],
        status="failed",
        error_kind="permission",
        at=INCIDENT,
    )
    # A valid token row does not prove access to the account: the probe must pass.
    write_token_row(env.lake, LOS_ANGELES, at=NOW - dt.timedelta(hours=1), is_valid=True)
    probe = Probe()
    clock = Clock(NOW)
    sensor = build_token_recovery_sensor(clock=clock, probe_factory=lambda _p: probe)
    first = evaluate(sensor, env)
    assert first.run_requests == [] and probe.calls == [LOS_ANGELES]
    clock.advance(minutes=5)
    second = evaluate(sensor, env, first.cursor)
    assert second.run_requests == [] and probe.calls == [LOS_ANGELES]  # not probed again yet
    probe.ok = True
    clock.advance(minutes=15)
    third = evaluate(sensor, env, second.cursor)
    # 12:20 UTC on March 10 is 05:20 (PDT) in Los Angeles: the window ends March 9, which
    # was never stored, so it is re-requested with the two failed days; the entity
    # partitions of the account were never stored either.
    assert tags_of(third.run_requests) == [
        (INSIGHTS_RUN, "act_202|2026-03-07", "act_202|2026-03-09"),
        ("ad_sets,ads,campaigns,creatives,token_health", LOS_ANGELES, LOS_ANGELES),
    ]
    assert evaluate(sensor, env, third.cursor).run_requests == []
    assert probe.calls == [LOS_ANGELES, LOS_ANGELES]
