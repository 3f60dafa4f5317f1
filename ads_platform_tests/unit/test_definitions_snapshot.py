"""A snapshot of the definitions: a refactor that drops an asset, check or automation fails.

Regenerate after an intended change with ``ADS_PLATFORM_UPDATE_SNAPSHOT=1`` (refused
under ``CI=true``, where any difference fails) and review the diff of the JSON file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from ads_platform.definitions import build_definitions
from ads_platform.settings import Settings

SNAPSHOT = Path(__file__).with_name("definitions_snapshot.json")
UPDATE_ENV = "ADS_PLATFORM_UPDATE_SNAPSHOT"


def _partitions(definition: dg.PartitionsDefinition | None) -> Any:
    if definition is None:
        return None
    if isinstance(definition, dg.MultiPartitionsDefinition):
        return {d.name: _partitions(d.partitions_def) for d in definition.partitions_defs}
    if isinstance(definition, dg.DynamicPartitionsDefinition):
        return f"dynamic:{definition.name}"
    if isinstance(definition, dg.TimeWindowPartitionsDefinition):
        return f"time:{definition.cron_schedule}:{definition.start.date()}:{definition.end_offset}"
    return type(definition).__name__


def snapshot(defs: dg.Definitions) -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "partitions": _partitions(node.partitions_def),
            "materializable": node.is_materializable,
            "automation": node.automation_condition is not None,
        }
    checks = sorted(f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys)
    schedules = {
        s.name: {
            "cron": s.cron_schedule,
            "default_status": s.default_status.value,
            "job": s.job_name,
        }
        for s in (defs.resolve_schedule_def(d.name) for d in defs.schedules or [])
    }
    sensors = {
        s.name: {
            "default_status": s.default_status.value,
            "minimum_interval_seconds": s.minimum_interval_seconds,
            "jobs": sorted(t.job_name for t in s.targets),
        }
        for s in (defs.resolve_sensor_def(d.name) for d in defs.sensors or [])
    }
    jobs = sorted(j.name for j in defs.resolve_all_job_defs())
    return {
        "assets": assets,
        "checks": checks,
        "jobs": jobs,
        "schedules": dict(sorted(schedules.items())),
        "sensors": dict(sorted(sensors.items())),
    }


def test_the_definitions_match_the_committed_snapshot() -> None:
    current = snapshot(build_definitions(Settings()))
    text = json.dumps(current, indent=2, sort_keys=True) + "\n"
    if os.environ.get(UPDATE_ENV) == "1":
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{UPDATE_ENV} is refused under CI: the snapshot must be committed")
        SNAPSHOT.write_text(text)
    assert SNAPSHOT.exists(), f"no snapshot yet: run with {UPDATE_ENV}=1 and commit it"
    assert json.loads(SNAPSHOT.read_text()) == current, (
        f"the definitions changed: review, then regenerate with {UPDATE_ENV}=1"
    )


def test_schedules_and_sensors_launch_named_jobs_never_the_private_asset_job() -> None:
    current = snapshot(build_definitions(Settings()))
    assert {"refresh_ad_accounts", "ingest_account_assets", "ingest_insights"} <= set(
        current["jobs"]
    )
    launched = {name: s["job"] for name, s in current["schedules"].items()}
    assert launched == {
        "daily_ingestion": "ingest_insights",
        "daily_account_assets": "ingest_account_assets",
        "daily_ad_accounts_refresh": "refresh_ad_accounts",
        "intraday_today_refresh": "ingest_insights",
    }
    sensors = current["sensors"]
    assert sensors["new_ad_accounts"]["jobs"] == [
        "ingest_account_assets",
        "ingest_insights",
        "refresh_ad_accounts",
    ]
    assert sensors["token_recovery"]["jobs"] == ["ingest_account_assets", "ingest_insights"]
    assert sensors["entity_changes"]["jobs"] == ["ingest_account_assets"]
    every_target = [*launched.values(), *(j for s in sensors.values() for j in s["jobs"])]
    assert "__ASSET_JOB" not in every_target


def test_the_snapshot_notices_a_dropped_sensor() -> None:
    defs = build_definitions(Settings())
    full = snapshot(defs)
    dropped = dg.Definitions(
        assets=defs.assets,
        resources=defs.resources,
        schedules=defs.schedules,
        sensors=[s for s in defs.sensors or [] if getattr(s, "name", "") != "new_ad_accounts"],
    )
    assert "new_ad_accounts" in full["sensors"]
    assert snapshot(dropped)["sensors"] != full["sensors"]
