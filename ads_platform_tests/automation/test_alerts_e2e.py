"""Alerts end to end: real failed Dagster runs against the sandbox, a webhook on loopback.

Several accounts fail for different reasons in one run; the run-failure sensor, the
check sensor and the health sensor all see it; the operator fixes it and runs again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dagster as dg
import duckdb
import pytest
import yaml

from ads_platform.automation.alerts import (
    build_check_alerts_sensor,
    build_health_alerts_sensor,
    build_run_failure_sensor,
)
from ads_platform.demo import materialize
from ads_platform.ingestion.causes import CAUSE_TEXT, Cause
from ads_platform.partitions import range_tags
from ads_platform.resources import PlatformResource
from ads_platform_tests.automation.helpers import Receiver, repository
from ads_platform_tests.conftest import SANDBOX_TODAY, Platform
from ads_platform_tests.e2e.helpers import ingest, setup_accounts
from ads_platform_tests.marts.lake_fixture import run_dbt
from ads_platform_tests.platform_defs import defs

# Sensors launch runs: they cross processes, so the instance is on disk.
pytestmark = [pytest.mark.slow, pytest.mark.persistent_instance]

DAY = SANDBOX_TODAY - dt.timedelta(days=1)


def _resources() -> dict[str, Any]:
    return {"platform": PlatformResource()}


def _after_failure(platform: Platform, result: dg.ExecuteInProcessResult) -> None:
    """What the daemon does when a run fails: the run-failure sensor, on that run."""
    run = platform.instance.get_run_by_id(result.run_id)
    assert run is not None
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    sensor = build_run_failure_sensor()
    with dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=failure,
        dagster_instance=platform.instance,
        dagster_run=run,
        resources=_resources(),
    ) as context:
        sensor(context.for_run_failure())  # type: ignore[operator]


def _tick(platform: Platform, sensor: dg.SensorDefinition, cursor: str | None = None) -> Any:
    with dg.build_sensor_context(
        instance=platform.instance,
        instance_ref=platform.instance.get_ref(),
        cursor=cursor,
        repository_def=repository(sensors=[sensor]),
        resources=_resources(),
    ) as context:
        return sensor.evaluate_tick(context)


def _all_accounts_run(platform: Platform) -> dg.ExecuteInProcessResult:
    first, last = platform.accounts[0], platform.accounts[-1]
    return materialize(
        defs,
        platform.instance,
        ["ad_insights_daily"],
        tags=range_tags(f"{first}|{DAY}", f"{last}|{DAY}"),
    )


def test_failed_runs_alert_once_per_account_and_cause_and_the_fix_is_said_once(
    platform: Platform, receiver: Receiver
) -> None:
    data = yaml.safe_load(platform.config_path.read_text())
    data["alerts"] = {"webhook_url": receiver.url, "timeout_seconds": 2.0}
    platform.config_path.write_text(yaml.safe_dump(data))
    setup_accounts(platform)
    token_bad, no_access, zeros = platform.accounts
    # The zero guard needs evidence of delivery: a few good days before the zeros.
    assert ingest(platform, zeros, DAY - dt.timedelta(days=3), DAY - dt.timedelta(days=1)).success
    platform.sandbox.add_fault("token_expired", account_id=token_bad)
    platform.sandbox.add_fault("permission_denied", account_id=no_access)
    platform.sandbox.add_fault("zeros", account_id=zeros)

    broken = _all_accounts_run(platform)
    assert not broken.success
    _after_failure(platform, broken)
    checks = _tick(platform, build_check_alerts_sensor())
    health = build_health_alerts_sensor()
    _tick(platform, health)
    again = _all_accounts_run(platform)  # the next schedule: same causes, same incidents
    assert not again.success
    _after_failure(platform, again)
    _tick(platform, build_check_alerts_sensor(), checks.cursor)
    _tick(platform, health)

    expected = {
        token_bad: Cause.TOKEN,
        no_access: Cause.PERMISSION,
        zeros: Cause.ZERO_GUARD,
    }
    labels = {a["id"]: a["label"] for a in data["accounts"]}
    titles = sorted(b["text"].split("\n")[0] for b in receiver.bodies)
    assert titles == sorted(
        f"{':red_circle:'} [ERROR] {account} ({labels[account]}): {CAUSE_TEXT[cause].label}"
        for account, cause in expected.items()
    )
    for body in receiver.bodies:
        last_line = body["text"].rstrip().split("\n")[-1]
        assert last_line.startswith("What to do: ")
        assert all(token not in body["text"] for token in platform.tokens.values())
    token_text = next(b["text"] for b in receiver.bodies if f"{token_bad} (" in b["text"])
    assert "environment variable DEMO_META_TOKEN_" in token_text

    # The operator fixes everything; the next run stores every day.
    platform.sandbox.clear_faults()
    fixed = _all_accounts_run(platform)
    assert fixed.success
    for _ in range(2):
        _tick(platform, health)
    resolved = [b["text"] for b in receiver.bodies[3:]]
    assert sorted(t.split("\n")[0] for t in resolved) == sorted(
        f":white_check_mark: [RESOLVED] Resolved: {account} ({labels[account]}): "
        f"{CAUSE_TEXT[cause].label}"
        for account, cause in expected.items()
    )

    # The alerts mart: one row per incident, account and cause set, resolved.
    build = run_dbt(platform.home, "build", "--select", "stg_alerts", "alerts")
    assert build.returncode == 0, build.stdout[-3000:]
    with duckdb.connect(str(platform.home / "warehouse" / "marts.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select account_id, cause, status, resolved_at is not null, alert_key "
            "from alerts order by account_id"
        ).fetchall()
    assert rows == sorted(
        (account, cause.value, "resolved", True, f"incident:{account}:{cause.value}")
        for account, cause in expected.items()
    )
