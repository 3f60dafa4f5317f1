"""Incidents: one alert per (account, cause), whoever raises it, resolved once when it clears."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import dagster as dg
import pyarrow.parquet as pq
import pytest

from ads_platform.automation.alerts import (
    Alerter,
    build_health_alerts_sensor,
    build_run_failure_sensor,
    check_alerts,
    health_alerts,
    incident_cleared,
    run_failure_alerts,
)
from ads_platform.automation.lakeview import attempts_of_run
from ads_platform.ingestion.causes import CAUSE_TEXT, Cause
from ads_platform_tests.automation.helpers import (
    LOS_ANGELES,
    SECRET,
    TOKYO,
    Clock,
    Env,
    Receiver,
    evaluate,
    write_accounts_table,
    write_attempts,
    write_settings,
    write_token_row,
)

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
DAY = dt.date(2026, 3, 9)
ACCOUNTS = [f"act_{900 + i}" for i in range(6)]


def _labelled(env: Env, accounts: list[str], webhook: str | None = None) -> None:
    """Settings with a label per account (alerts name it) and an optional webhook."""
    import yaml

    write_settings(env.home, accounts)
    data = yaml.safe_load(env.config_path.read_text())
    for account in data["accounts"]:
        account["label"] = f"Shop {account['id'][-3:]}"
    if webhook:
        data["alerts"] = {"webhook_url": webhook, "timeout_seconds": 2.0}
    env.config_path.write_text(yaml.safe_dump(data))


def _run(run_id: str = "f" * 8 + "-0000-4000-8000-" + "0" * 12, **tags: str) -> dg.DagsterRun:
    return dg.DagsterRun(
        job_name="__ASSET_JOB",
        run_id=run_id,
        asset_selection=frozenset({dg.AssetKey("ad_insights_daily")}),
        tags={
            "dagster/asset_partition_range_start": f"{ACCOUNTS[0]}|{DAY}",
            "dagster/asset_partition_range_end": f"{ACCOUNTS[-1]}|{DAY}",
            **tags,
        },
    )


def _attempt(
    account: str, kind: str | None, status: str = "failed", day: dt.date = DAY, **extra: Any
) -> dict[str, Any]:
    return {
        "account_id": account,
        "dataset": "ad_insights_daily",
        "date_day": day,
        "attempted_at": NOW,
        "run_id": "r",
        "status": status,
        "error_kind": kind,
        "message": extra.get("message", f"{account} {day}: {kind} happened"),
        "rows": 0,
    }


class _Record:
    """The slice of an EventLogRecord that check_alerts reads."""

    def __init__(self, run_id: str, evaluation: dg.AssetCheckEvaluation) -> None:
        self.run_id = run_id
        self.event_log_entry = type(
            "E", (), {"dagster_event": type("D", (), {"event_specific_data": evaluation})()}
        )()


def test_a_failed_run_alerts_once_per_account_and_cause_naming_the_account_and_the_fix(
    env: Env,
) -> None:
    _labelled(env, ACCOUNTS)
    a, b, c, d, e, f = ACCOUNTS
    attempts = [
        _attempt(a, "token_invalid", message=f"token for {a} is no longer valid ({SECRET})"),
        _attempt(a, "token_expired", day=DAY - dt.timedelta(days=1)),  # same cause: token
        _attempt(a, "permission"),  # another cause of the same account
        _attempt(b, "throttled"),
        _attempt(c, "network"),
        _attempt(d, "zero_guard", status="blocked"),
        _attempt(d, "validation", status="blocked", day=DAY - dt.timedelta(days=1)),
        _attempt(e, "transient"),
        _attempt(e, "malformed", day=DAY - dt.timedelta(days=2)),  # both: Meta API errors
        _attempt(f, None, status="success"),
    ]
    alerts = run_failure_alerts(_run(), "failed", [], attempts, env.settings)
    assert sorted(al.key for al in alerts) == sorted(
        [
            f"incident:{a}:token",
            f"incident:{a}:permission",
            f"incident:{b}:throttled",
            f"incident:{c}:network",
            f"incident:{d}:zero_guard",
            f"incident:{d}:validation",
            f"incident:{e}:api_errors",
        ]
    )
    for alert in alerts:
        cause = Cause(alert.cause)
        assert alert.account_id == alert.key.split(":")[1]
        assert alert.title == f"{alert.account_id} (Shop {alert.account_id[-3:]}): " + (
            CAUSE_TEXT[cause].label
        )
        assert ".." not in alert.title and ".." not in alert.key
        assert alert.message.split("\n")[-1].startswith(f"What to do: {CAUSE_TEXT[cause].action}.")
    token = next(al for al in alerts if al.key == f"incident:{a}:token").clean()
    assert token.message.endswith(f"token for {a} is no longer valid (***REDACTED***)")
    assert "2 day(s)" in token.message and SECRET not in token.message
    assert next(al for al in alerts if al.key == f"incident:{d}:zero_guard").datasets == (
        "ad_insights_daily",
    )


def test_a_failed_run_without_attempts_alerts_once_keyed_by_its_job(env: Env) -> None:
    run = dg.DagsterRun(job_name="marts_job", run_id="m" * 8)
    [alert] = run_failure_alerts(run, "dbt build failed", [], [], env.settings)
    assert alert.key == "run_failed:marts_job" and alert.account_id is None
    assert alert.message.endswith("What to do: see the run's logs.")
    assert "dbt build failed" in alert.message


def test_a_run_check_and_the_health_sensor_raise_one_incident_for_one_cause(
    env: Env, receiver: Receiver
) -> None:
    _labelled(env, [TOKYO, LOS_ANGELES], receiver.url)
    write_accounts_table(env.lake, {TOKYO: "Asia/Tokyo", LOS_ANGELES: "UTC"}, NOW)
    run_id = "1" * 8 + "-0000-4000-8000-" + "1" * 12
    # A range run: Tokyo's day blocked by the zero guard, Los Angeles' token rejected.
    write_attempts(
        env.lake,
        TOKYO,
        [DAY],
        status="blocked",
        error_kind="zero_guard",
        at=NOW - dt.timedelta(minutes=5),
        run_id=run_id,
        message=f"{TOKYO} {DAY}: all-zero day while ads were active",
    )
    write_attempts(
        env.lake,
        LOS_ANGELES,
        [DAY],
        status="failed",
        error_kind="token_invalid",
        at=NOW - dt.timedelta(minutes=5),
        run_id=run_id,
        message=f"token for {LOS_ANGELES} expired: re-authorize",
    )
    write_token_row(env.lake, LOS_ANGELES, at=NOW - dt.timedelta(minutes=5), is_valid=False)
    attempts = attempts_of_run(env.lake, run_id)
    assert {r["account_id"] for r in attempts} == {TOKYO, LOS_ANGELES}
    evaluation = dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey("ad_insights_daily"),
        check_name="zero_guard",
        passed=False,
        partition=f"{TOKYO}|{DAY}",
        blocking=True,
        description="all-zero day while ads were active",
    )
    clock = Clock(NOW)
    alerter = Alerter(env.settings, clock)
    from_run = alerter.emit(run_failure_alerts(_run(run_id), None, [], attempts, env.settings))
    from_check = alerter.emit(
        check_alerts(
            [_Record(run_id, evaluation)], lambda rid: attempts_of_run(env.lake, rid), env.settings
        )
    )
    from_health = alerter.emit(health_alerts(NOW, env.settings))
    assert [(d.alert.key, d.sent) for d in from_run] == [
        (f"incident:{TOKYO}:zero_guard", True),
        (f"incident:{LOS_ANGELES}:token", True),
    ]
    assert [(d.alert.key, d.sent) for d in from_check] == [(f"incident:{TOKYO}:zero_guard", False)]
    assert [(d.alert.key, d.sent) for d in from_health] == [
        (f"incident:{LOS_ANGELES}:token", False)
    ]
    assert len(receiver.bodies) == 2
    rows = [
        row
        for f in (env.home / "lake" / "alerts").rglob("*.parquet")
        for row in pq.read_table(f).to_pylist()
    ]
    assert sorted((r["account_id"], r["cause"], r["status"]) for r in rows) == [
        (TOKYO, "zero_guard", "open"),
        (LOS_ANGELES, "token", "open"),
    ]


def _incident(env: Env, clock: Clock, run_id: str = "run-broken") -> Alerter:
    """Tokyo's pull of DAY was blocked by the zero guard at NOW: one open incident."""
    write_attempts(
        env.lake,
        TOKYO,
        [DAY],
        status="blocked",
        error_kind="zero_guard",
        at=NOW,
        run_id=run_id,
        message=f"{TOKYO} {DAY}: all-zero day while ads were active",
    )
    alerter = Alerter(env.settings, clock)
    attempts = attempts_of_run(env.lake, run_id)
    [delivery] = alerter.emit(run_failure_alerts(_run(run_id), None, [], attempts, env.settings))
    assert delivery.sent
    return alerter


def test_an_incident_resolves_once_when_a_later_run_stores_without_the_cause(
    env: Env, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    _labelled(env, [TOKYO, LOS_ANGELES], receiver.url)
    write_accounts_table(env.lake, {TOKYO: "Asia/Tokyo", LOS_ANGELES: "UTC"}, NOW)
    clock = Clock(NOW)
    _incident(env, clock)
    sensor = build_health_alerts_sensor(clock=clock)
    evaluate(sensor, env)  # nothing cleared yet
    assert len(receiver.bodies) == 1
    clock.advance(hours=1)
    write_attempts(env.lake, TOKYO, [DAY], status="success", at=clock.now, run_id="run-fixed")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ads_platform.alerts"):
        for _ in range(3):  # three ticks: said once
            evaluate(sensor, env)
    assert len(receiver.bodies) == 2
    resolved = receiver.bodies[-1]["text"]
    assert resolved.startswith(
        f":white_check_mark: [RESOLVED] Resolved: {TOKYO} (Shop 101): blocked by the zero guard"
    )
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "ads_platform.alerts"]
    assert [line["event"] for line in lines] == ["alert_resolved"]
    rows = [
        row
        for f in sorted((env.home / "lake" / "alerts").rglob("*.parquet"))
        for row in pq.read_table(f).to_pylist()
    ]
    assert [(r["status"], r["resolved_at"]) for r in rows] == [
        ("open", None),
        ("resolved", clock.now),
    ]
    # The cause again: a new incident, alerted at once (no re-alert window to wait out).
    clock.advance(hours=1)
    _incident(env, clock, run_id="run-broken-again")


def test_the_run_that_raised_an_incident_does_not_resolve_it(env: Env) -> None:
    clock = Clock(NOW)
    # One run stores Monday and is blocked on Tuesday: the stored day is no clearing.
    write_attempts(
        env.lake,
        TOKYO,
        [DAY - dt.timedelta(days=1)],
        status="success",
        at=NOW + dt.timedelta(seconds=1),
        run_id="run-broken",
    )
    _incident(env, clock)
    assert incident_cleared(env.lake, TOKYO, Cause.ZERO_GUARD, NOW, ["ad_insights_daily"]) is None
    # A later run blocked again on the same cause: still open.
    write_attempts(
        env.lake,
        TOKYO,
        [DAY],
        status="blocked",
        error_kind="zero_guard",
        at=NOW + dt.timedelta(hours=1),
        run_id="run-2",
    )
    write_attempts(
        env.lake,
        TOKYO,
        [DAY + dt.timedelta(days=1)],
        status="success",
        at=NOW + dt.timedelta(hours=1, seconds=1),
        run_id="run-2",
    )
    assert incident_cleared(env.lake, TOKYO, Cause.ZERO_GUARD, NOW, ["ad_insights_daily"]) is None
    # A run failing for another cause says nothing about this one.
    write_attempts(
        env.lake,
        TOKYO,
        [DAY],
        status="failed",
        error_kind="network",
        at=NOW + dt.timedelta(hours=2),
        run_id="run-3",
    )
    assert incident_cleared(env.lake, TOKYO, Cause.ZERO_GUARD, NOW, ["ad_insights_daily"]) is None
    later = NOW + dt.timedelta(hours=3)
    write_attempts(env.lake, TOKYO, [DAY], status="success", at=later, run_id="run-4")
    assert incident_cleared(env.lake, TOKYO, Cause.ZERO_GUARD, NOW, ["ad_insights_daily"]) == later


def test_a_token_incident_needs_a_successful_pull_not_only_a_valid_token(env: Env) -> None:
    write_token_row(env.lake, TOKYO, at=NOW, is_valid=False, message="revoked")
    write_token_row(env.lake, TOKYO, at=NOW + dt.timedelta(minutes=10), is_valid=True)
    assert incident_cleared(env.lake, TOKYO, Cause.TOKEN, NOW) is None
    pulled = NOW + dt.timedelta(minutes=20)
    write_attempts(env.lake, TOKYO, [DAY], status="success", at=pulled, run_id="run-ok")
    assert incident_cleared(env.lake, TOKYO, Cause.TOKEN, NOW) == pulled
    # Revoked again after that pull: the token is the problem again.
    write_token_row(env.lake, TOKYO, at=pulled + dt.timedelta(minutes=1), is_valid=False)
    assert incident_cleared(env.lake, TOKYO, Cause.TOKEN, NOW) is None


def test_an_open_incident_is_sent_again_after_the_realert_window(env: Env) -> None:
    write_settings(env.home, [TOKYO, LOS_ANGELES], {"alerts": {"realert_after_hours": 6}})
    clock = Clock(NOW)
    alerter = _incident(env, clock)
    attempts = attempts_of_run(env.lake, "run-broken")
    again = run_failure_alerts(_run("run-broken"), None, [], attempts, env.settings)
    clock.advance(hours=5)
    assert [d.sent for d in alerter.emit(again)] == [False]
    clock.advance(hours=2)
    assert [d.sent for d in alerter.emit(again)] == [True]


def test_a_failure_seen_after_the_fix_does_not_reopen_the_incident(
    env: Env, receiver: Receiver
) -> None:
    """The run-failure sensor can lag (a busy daemon): by the time it looks at the
    broken run, a later run may already have cleared the cause."""
    _labelled(env, [TOKYO, LOS_ANGELES], receiver.url)
    run_id = "2" * 8 + "-0000-4000-8000-" + "2" * 12

    @dg.op
    def pull() -> None:
        raise dg.Failure(description="1 partition(s) not stored")

    @dg.job
    def ingest_job() -> None:
        pull()

    # Written while the run runs (the sensor reads the files of the run from its start).
    now = dt.datetime.now(dt.UTC)
    write_attempts(
        env.lake, TOKYO, [DAY], status="failed", error_kind="network", at=now, run_id=run_id
    )
    write_attempts(
        env.lake, TOKYO, [DAY], status="success", at=now + dt.timedelta(minutes=1), run_id="later"
    )
    result = ingest_job.execute_in_process(
        instance=env.instance, raise_on_error=False, run_id=run_id
    )
    run = env.instance.get_run_by_id(result.run_id)
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    sensor = build_run_failure_sensor()
    with dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=failure,
        dagster_instance=env.instance,
        dagster_run=run,
        resources=env.resources,
    ) as context:
        sensor(context.for_run_failure())  # type: ignore[operator]
    assert receiver.bodies == []
