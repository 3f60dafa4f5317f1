"""Entity changes sensor: cheap polls, refresh only the accounts that changed."""

from __future__ import annotations

import datetime as dt
import math
import threading
from typing import Any

import pytest

from ads_platform.automation.polling import POLL_WORKERS, PollRound, poll_accounts
from ads_platform.automation.sensors import build_entity_changes_sensor, plan_entity_changes
from ads_platform.settings import Settings
from ads_platform_tests.automation.helpers import (
    LOS_ANGELES,
    TOKYO,
    Clock,
    Env,
    evaluate,
    tags_of,
    token_env,
    write_settings,
)

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
ENTITIES = "ad_sets,ads,campaigns,creatives"


class Poller:
    """Answers polls from sets; ``calls`` in the order they started (several run at once)."""

    def __init__(self) -> None:
        self.changed: set[str] = set()
        self.failing: set[str] = set()
        self.calls: list[tuple[str, dt.datetime]] = []
        self._lock = threading.Lock()

    def __call__(self, _settings: Settings, account_id: str, since: dt.datetime) -> bool:
        with self._lock:
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
    assert sorted(poller.calls) == [(TOKYO, NOW), (LOS_ANGELES, NOW)]

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
    assert sorted(poller.calls) == [
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


# -- many accounts: a few polls at once, oldest first, within the tick's budget ----------

MANY = [f"act_{500 + i}" for i in range(10)]


def _many_accounts(env: Env, monkeypatch: pytest.MonkeyPatch) -> Settings:
    write_settings(env.home, MANY)
    for account in MANY:
        monkeypatch.setenv(token_env(account), f"token-for-{account}-0123456789")
    env.instance.add_dynamic_partitions("ad_accounts", MANY)
    return env.settings


def _clocks(since: dt.datetime) -> dict[str, Any]:
    return {"polled": {a: since.isoformat() for a in MANY}}


def test_a_tick_polls_several_accounts_at_once(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each poll waits until POLL_WORKERS polls are in flight: one at a time would break."""
    settings = _many_accounts(env, monkeypatch)
    together = threading.Barrier(POLL_WORKERS, timeout=10)
    in_flight: list[int] = [0, 0]  # now, most
    lock = threading.Lock()

    def poll(_settings: Settings, account_id: str, since: dt.datetime) -> bool:
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
        try:
            if MANY.index(account_id) < 2 * POLL_WORKERS:  # the first two waves meet
                together.wait()
            return True
        finally:
            with lock:
                in_flight[0] -= 1

    requests, cursor, found = plan_entity_changes(NOW, settings, env.instance, _clocks(NOW), poll)
    assert found.failed == [] and found.deferred == []
    assert found.changed == MANY
    assert in_flight[1] == POLL_WORKERS
    assert all(cursor["polled"][a] == NOW.isoformat() for a in MANY)
    assert tags_of(requests) == [("ad_sets,ads,campaigns,creatives", MANY[0], MANY[-1])]


class SlowMeta:
    """A poller on a fake clock: every poll costs ``seconds``, so a budget is reached exactly."""

    def __init__(self, seconds: float) -> None:
        self.now = 0.0
        self.seconds = seconds
        self.calls: list[tuple[str, dt.datetime]] = []

    def monotonic(self) -> float:
        return self.now

    def __call__(self, _settings: Settings, account_id: str, since: dt.datetime) -> bool:
        self.calls.append((account_id, since))
        self.now += self.seconds
        return account_id == MANY[-1]


def test_polls_stop_at_the_budget_and_the_accounts_left_go_first_next_tick(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _many_accounts(env, monkeypatch)
    meta = SlowMeta(seconds=10)

    def tick(at: dt.datetime, cursor: dict[str, Any]) -> tuple[Any, dict[str, Any], PollRound]:
        meta.calls.clear()
        meta.now = 0.0
        return plan_entity_changes(
            at,
            settings,
            env.instance,
            cursor,
            meta,
            workers=1,
            budget_seconds=35,
            monotonic=meta.monotonic,
        )

    # Tick 1: polls start at 0, 10, 20 and 30 s; none after 35 s.  The six others keep
    # their old time, so the change in the last account is not lost, only not yet seen.
    later = NOW + dt.timedelta(minutes=30)
    requests, cursor, found = tick(later, _clocks(NOW))
    assert found.polled == MANY[:4] and found.deferred == MANY[4:]
    assert requests == [] and found.changed == []
    assert [cursor["polled"][a] for a in MANY] == [later.isoformat()] * 4 + [NOW.isoformat()] * 6

    # Tick 2: the six not reached go first (oldest poll), asked since their old time,
    # and the change made during tick 1 is found.
    latest = later + dt.timedelta(minutes=30)
    requests, cursor, found = tick(latest, cursor)
    assert meta.calls == [(a, NOW) for a in MANY[4:8]]
    assert found.deferred == [*MANY[8:], *MANY[:4]]  # the oldest first, as polled
    requests, cursor, found = tick(latest + dt.timedelta(minutes=30), cursor)
    assert meta.calls[:2] == [(MANY[8], NOW), (MANY[9], NOW)]
    assert found.changed == [MANY[9]]
    assert tags_of(requests) == [("ad_sets,ads,campaigns,creatives", MANY[9], MANY[9])]


def test_a_failed_poll_is_never_taken_for_no_change(
    env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _many_accounts(env, monkeypatch)

    def poll(_settings: Settings, account_id: str, since: dt.datetime) -> bool:
        if account_id == MANY[3]:
            raise RuntimeError("HTTP 500 access_token=EAABsecret")
        return False

    later = NOW + dt.timedelta(minutes=30)
    _requests, cursor, found = plan_entity_changes(
        later, settings, env.instance, _clocks(NOW), poll
    )
    assert found.failed == [MANY[3]]
    assert cursor["polled"][MANY[3]] == NOW.isoformat()  # asked again from its old time
    assert all(cursor["polled"][a] == later.isoformat() for a in MANY if a != MANY[3])
    assert MANY[3] in caplog.text and "EAABsecret" not in caplog.text


def test_a_hung_poll_does_not_hold_the_tick_and_its_account_is_asked_again(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One poll never answers (a hung connection, a long pacing sleep): the tick still
    returns at its limit, with that account's old time kept."""
    settings = _many_accounts(env, monkeypatch)
    release = threading.Event()

    def poll(_settings: Settings, account_id: str, since: dt.datetime) -> bool:
        if account_id == MANY[2]:
            release.wait(timeout=60)  # hung until the test lets it go
            return True
        return False

    later = NOW + dt.timedelta(minutes=30)
    try:
        _requests, cursor, found = plan_entity_changes(
            later, settings, env.instance, _clocks(NOW), poll, budget_seconds=5, limit_seconds=1
        )
        assert not release.is_set()  # the tick came back while the poll still hung
    finally:
        release.set()
    assert found.deferred == [MANY[2]] and found.failed == []
    assert found.polled == [a for a in MANY if a != MANY[2]]
    assert cursor["polled"][MANY[2]] == NOW.isoformat()


def test_a_round_without_a_limit_waits_for_every_poll() -> None:
    """No budget and no limit (how the benchmark shows the old tick): every account polled."""
    accounts = [(a, NOW) for a in MANY]
    found = poll_accounts(
        accounts, lambda a, _s: a == MANY[0], budget_seconds=math.inf, limit_seconds=math.inf
    )
    assert found.polled == MANY and found.changed == [MANY[0]] and found.deferred == []
