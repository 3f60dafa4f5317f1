"""Alerts: de-duplicated, re-alerted after the window, delivered, and never breaking."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from typing import Any

import dagster as dg
import pyarrow.parquet as pq
import pytest

from ads_platform.automation.alerts import (
    Alert,
    Alerter,
    build_check_alerts_sensor,
    build_health_alerts_sensor,
    build_run_failure_sensor,
    check_alerts,
)
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


def _with_webhook(env: Env, url: str, timeout: float = 1.0) -> None:
    write_settings(
        env.home,
        [TOKYO, LOS_ANGELES],
        {"alerts": {"webhook_url": url, "timeout_seconds": timeout, "realert_after_hours": 24}},
    )


def _lake_alerts(env: Env) -> list[dict[str, Any]]:
    files = sorted((env.home / "lake" / "alerts").glob("account_id=*/*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def _alert(message: str = "zero guard blocked 2026-03-01") -> Alert:
    return Alert(
        key=f"check_failed:ad_insights_daily:zero_guard:{TOKYO}",
        kind="check_failed",
        severity="error",
        title="Check failed",
        message=message,
        account_id=TOKYO,
    )


def test_one_alert_per_incident_then_realert_after_the_window(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(NOW)
    alerter = Alerter(env.settings, clock)
    with caplog.at_level(logging.INFO, logger="ads_platform.alerts"):
        first = alerter.emit([_alert()])
        clock.advance(hours=1)
        second = alerter.emit([_alert()])
        clock.advance(hours=24)
        third = alerter.emit([_alert()])
    assert [d.sent for d in (*first, *second, *third)] == [True, False, True]
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "ads_platform.alerts"]
    assert [line["event"] for line in lines] == ["alert", "alert"]
    assert lines[0]["kind"] == "check_failed" and lines[0]["webhook"] == "off"
    rows = _lake_alerts(env)
    assert len(rows) == 2
    assert {r["first_seen_at"] for r in rows} == {NOW}
    assert sorted(r["last_sent_at"] for r in rows) == [NOW, NOW + dt.timedelta(hours=25)]
    assert rows[0]["alert_key"] == _alert().key and rows[0]["severity"] == "error"
    assert (env.home / "lake" / "alerts" / f"account_id={TOKYO}").is_dir()


def test_webhook_delivery_is_slack_shaped_and_redacted(
    env: Env, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    _with_webhook(env, receiver.url)
    # httpx logs each request's URL at INFO: a host that logs httpx at INFO must not see it.
    with (
        caplog.at_level(logging.INFO, logger="ads_platform.alerts"),
        caplog.at_level(logging.INFO, logger="httpx"),
    ):
        [delivery] = Alerter(env.settings, Clock(NOW)).emit(
            [_alert(f"failed with access_token={SECRET} and {SECRET}")]
        )
    assert delivery.webhook == "ok"
    [body] = receiver.bodies
    assert set(body) == {"text", "blocks"} and body["blocks"][0]["type"] == "section"
    everything = json.dumps(body) + caplog.text + json.dumps(_lake_alerts(env), default=str)
    assert SECRET not in everything
    assert "SECRET-PATH" not in caplog.text  # the webhook URL is a secret too


@pytest.mark.parametrize("mode", ["fail", "hang"])
def test_a_failing_or_hanging_webhook_breaks_nothing_and_the_cursor_advances(
    env: Env, receiver: Receiver, mode: str
) -> None:
    receiver.mode = mode
    _with_webhook(env, receiver.url, timeout=2.0 if mode == "fail" else 0.6)
    env.instance.report_runless_asset_event(
        dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey("ad_insights_daily"),
            check_name="zero_guard",
            passed=False,
            partition=f"{TOKYO}|2026-03-01",
            blocking=True,
            description="all-zero day while ads were active",
        )
    )
    sensor = build_check_alerts_sensor(clock=Clock(NOW))
    began = time.monotonic()
    result = evaluate(sensor, env)
    elapsed = time.monotonic() - began
    assert result.cursor is not None and json.loads(result.cursor)["seen"]
    # Bounded by timeout_seconds (2 s, 0.6 s), not by the receiver (a 60 s hang); the
    # margin is for a loaded machine, where evaluating the sensor alone takes seconds.
    assert elapsed < Receiver.HANG_SECONDS / 3
    if mode == "fail":
        assert len(receiver.bodies) == 3  # retried twice within the budget
    rows = _lake_alerts(env)
    assert [r["kind"] for r in rows] == ["check_failed"]  # still recorded


def test_check_alert_sensor_two_ticks_one_alert(env: Env, receiver: Receiver) -> None:
    _with_webhook(env, receiver.url)
    sensor = build_check_alerts_sensor(clock=Clock(NOW))

    def failed(day: str) -> None:
        env.instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey("ad_insights_daily"),
                check_name="zero_guard",
                passed=False,
                partition=f"{TOKYO}|{day}",
                blocking=True,
                description="all-zero day while ads were active",
            )
        )

    failed("2026-03-01")
    failed("2026-03-02")
    first = evaluate(sensor, env)
    assert len(receiver.bodies) == 1
    assert "2 partition(s) (2026-03-01..2026-03-02)" in receiver.bodies[0]["text"]
    failed("2026-03-03")  # same incident: same account and check
    second = evaluate(sensor, env, first.cursor)
    assert second.cursor != first.cursor
    assert len(receiver.bodies) == 1
    third = evaluate(sensor, env, second.cursor)  # nothing new
    assert third.cursor == second.cursor


def test_summary_evaluations_of_a_range_run_are_not_alerted_twice() -> None:
    class Record:
        def __init__(self, evaluation: dg.AssetCheckEvaluation) -> None:
            self.run_id = "r1"
            self.event_log_entry = type(
                "E", (), {"dagster_event": type("D", (), {"event_specific_data": evaluation})()}
            )()

    def evaluation(partition: str | None, passed: bool) -> Record:
        return Record(
            dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey("ad_insights_daily"),
                check_name="reconciles_with_account_totals",
                passed=passed,
                partition=partition,
                severity=dg.AssetCheckSeverity.WARN,
            )
        )

    alerts = check_alerts(
        [
            evaluation(f"{TOKYO}|2026-03-01", False),
            evaluation(f"{LOS_ANGELES}|2026-03-01", True),
            evaluation(None, False),  # the run's summary result
        ]
    )
    assert [(a.account_id, a.severity) for a in alerts] == [(TOKYO, "warning")]


def test_run_failure_alert(env: Env, receiver: Receiver) -> None:
    _with_webhook(env, receiver.url)

    @dg.op
    def boom() -> None:
        raise dg.Failure(description=f"act_101: token invalid ({SECRET})")

    @dg.job
    def failing_job() -> None:
        boom()

    result = failing_job.execute_in_process(
        instance=env.instance,
        raise_on_error=False,
        tags={"dagster/partition": "act_101", "ads_platform/trigger": "daily"},
    )
    assert not result.success
    run = env.instance.get_run_by_id(result.run_id)
    assert run is not None
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    sensor = build_run_failure_sensor(clock=Clock(NOW))
    for _ in range(2):  # the same failure twice: one alert
        with dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_event=failure,
            dagster_instance=env.instance,
            dagster_run=run,
            resources=env.resources,
        ) as context:
            sensor(context.for_run_failure())  # type: ignore[operator]
    [body] = receiver.bodies
    assert "Run failed: failing_job (act_101)" in body["text"]
    assert "token invalid" in body["text"] and SECRET not in body["text"]
    assert "Triggered by: daily" in body["text"]
    [row] = _lake_alerts(env)
    assert row["kind"] == "run_failed" and row["account_id"] == TOKYO


def test_health_alerts_token_expiry_invalid_token_and_stale_account(
    env: Env, receiver: Receiver
) -> None:
    _with_webhook(env, receiver.url)
    write_accounts_table(
        env.lake, {TOKYO: "Asia/Tokyo", LOS_ANGELES: "UTC"}, NOW - dt.timedelta(days=30)
    )
    write_token_row(
        env.lake,
        TOKYO,
        at=NOW - dt.timedelta(hours=2),
        is_valid=True,
        expires_at=NOW + dt.timedelta(days=5),
    )
    write_attempts(env.lake, TOKYO, [dt.date(2026, 3, 9)], status="success", at=NOW)
    write_token_row(
        env.lake,
        LOS_ANGELES,
        at=NOW - dt.timedelta(hours=1),
        is_valid=False,
        message=f"(#190) Session has expired, token {SECRET}",
    )
    write_attempts(
        env.lake,
        LOS_ANGELES,
        [dt.date(2026, 3, 7)],
        status="success",
        at=NOW - dt.timedelta(hours=40),
    )
    clock = Clock(NOW)
    sensor = build_health_alerts_sensor(clock=clock)
    evaluate(sensor, env)
    titles = sorted(b["text"].split("\n")[0].split("] ", 1)[1] for b in receiver.bodies)
    # Los Angeles is stale *because of* its token: one incident (account, cause) saying both.
    assert titles == [f"Token expires in 5.0 day(s): {TOKYO}", f"{LOS_ANGELES}: token expired"]
    token_alert = next(b["text"] for b in receiver.bodies if LOS_ANGELES in b["text"])
    assert "No successful ad_insights_daily pull" in token_alert
    assert token_alert.rstrip().split("\n")[-1].startswith("What to do: re-authorize.")
    assert all(SECRET not in json.dumps(b) for b in receiver.bodies)
    # Second tick: same conditions, nothing new.
    evaluate(sensor, env)
    assert len(receiver.bodies) == 2
    # Los Angeles recovers (valid token, fresh pull): said once; a later breakage alerts
    # at once.
    clock.advance(hours=1)
    write_token_row(env.lake, LOS_ANGELES, at=clock.now, is_valid=True)
    write_attempts(env.lake, LOS_ANGELES, [dt.date(2026, 3, 9)], status="success", at=clock.now)
    evaluate(sensor, env)
    evaluate(sensor, env)
    assert len(receiver.bodies) == 3
    assert receiver.bodies[-1]["text"].startswith(
        f":white_check_mark: [RESOLVED] Resolved: {LOS_ANGELES}: token expired"
    )
    clock.advance(hours=1)
    write_token_row(env.lake, LOS_ANGELES, at=clock.now, is_valid=False, message="revoked")
    evaluate(sensor, env)
    assert (
        len(receiver.bodies) == 4 and f"{LOS_ANGELES}: token expired" in receiver.bodies[-1]["text"]
    )
