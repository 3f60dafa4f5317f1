"""Entity changes sensor: cheap polls, refresh only the accounts that changed."""

from __future__ import annotations

import datetime as dt

from ads_platform.automation.sensors import build_entity_changes_sensor
from ads_platform.settings import Settings
from ads_platform_tests.automation.helpers import (
    LOS_ANGELES,
    TOKYO,
    Clock,
    Env,
    evaluate,
    tags_of,
)

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
ENTITIES = "ad_sets,ads,campaigns,creatives"


class Poller:
    def __init__(self) -> None:
        self.changed: set[str] = set()
        self.failing: set[str] = set()
        self.calls: list[tuple[str, dt.datetime]] = []

    def __call__(self, _settings: Settings, account_id: str, since: dt.datetime) -> bool:
        self.calls.append((account_id, since))
        if account_id in self.failing:
            raise RuntimeError("HTTP 500")
        return account_id in self.changed


def test_only_changed_accounts_are_refreshed_and_polls_start_where_they_stopped(
    env: Env,
) -> None:
    env.instance.add_dynamic_partitions("ad_accounts", [TOKYO, "act_303", LOS_ANGELES])
    poller = Poller()
    clock = Clock(NOW)
    sensor = build_entity_changes_sensor(30, clock=clock, poller_factory=lambda _p: poller)
    first = evaluate(sensor, env)  # starts the clocks, no API call
    assert first.run_requests == [] and poller.calls == []

    clock.advance(minutes=30)
    poller.changed = {LOS_ANGELES}
    second = evaluate(sensor, env, first.cursor)
    assert tags_of(second.run_requests) == [(ENTITIES, LOS_ANGELES, LOS_ANGELES)]
    assert second.run_requests[0].tags["ads_platform/trigger"] == "entity_change"
    assert poller.calls == [(TOKYO, NOW), (LOS_ANGELES, NOW)]

    # A failed poll keeps the old time: the next poll covers the outage.
    clock.advance(minutes=30)
    poller.calls.clear()
    poller.changed = set()
    poller.failing = {TOKYO}
    third = evaluate(sensor, env, second.cursor)
    assert third.run_requests == []
    poller.failing = set()
    poller.changed = {TOKYO, LOS_ANGELES}
    clock.advance(minutes=30)
    poller.calls.clear()
    fourth = evaluate(sensor, env, third.cursor)
    assert poller.calls == [
        (TOKYO, NOW + dt.timedelta(minutes=30)),
        (LOS_ANGELES, NOW + dt.timedelta(minutes=60)),
    ]
    # act_303 (not in the settings) sits between them: two runs, never a range over it.
    assert tags_of(fourth.run_requests) == [
        (ENTITIES, TOKYO, TOKYO),
        (ENTITIES, LOS_ANGELES, LOS_ANGELES),
    ]


def test_adjacent_changed_accounts_share_one_run(env: Env) -> None:
    env.instance.add_dynamic_partitions("ad_accounts", [TOKYO, LOS_ANGELES])
    poller = Poller()
    clock = Clock(NOW)
    sensor = build_entity_changes_sensor(30, clock=clock, poller_factory=lambda _p: poller)
    cursor = evaluate(sensor, env).cursor
    poller.changed = {TOKYO, LOS_ANGELES}
    clock.advance(minutes=30)
    result = evaluate(sensor, env, cursor)
    assert tags_of(result.run_requests) == [(ENTITIES, TOKYO, LOS_ANGELES)]
    assert sensor.minimum_interval_seconds == 30 * 60
