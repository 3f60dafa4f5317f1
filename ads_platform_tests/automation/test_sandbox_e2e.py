"""The sensors against the Graph API sandbox, with their run requests actually run."""

from __future__ import annotations

import datetime as dt
from typing import Any

import dagster as dg
import pytest
import yaml

from ads_platform.automation.sensors import (
    build_new_accounts_sensor,
    build_token_recovery_sensor,
    platform_poller,
)
from ads_platform.demo import materialize
from ads_platform.jobs import ENTITY_ASSETS
from ads_platform.resources import PlatformResource
from ads_platform_tests.automation.helpers import INSIGHTS_RUN, Clock, repository, tags_of
from ads_platform_tests.conftest import SANDBOX_TODAY, Platform
from ads_platform_tests.e2e.helpers import ingest, materialized_partitions, setup_accounts
from ads_platform_tests.platform_defs import defs

# Sensors launch runs: they cross processes, so the instance is on disk.
pytestmark = [pytest.mark.slow, pytest.mark.persistent_instance]

#: Noon UTC on the sandbox's today: morning in New York, evening in Berlin and Tokyo.
NOON = dt.datetime.combine(SANDBOX_TODAY, dt.time(12), tzinfo=dt.UTC)


def _tune(platform: Platform, **ingestion: Any) -> None:
    data = yaml.safe_load(platform.config_path.read_text())
    data.setdefault("ingestion", {}).update(ingestion)
    platform.config_path.write_text(yaml.safe_dump(data))


def _tick(sensor: dg.SensorDefinition, platform: Platform, cursor: str | None = None) -> Any:
    with dg.build_sensor_context(
        instance=platform.instance,
        instance_ref=platform.instance.get_ref(),
        cursor=cursor,
        repository_def=repository(sensors=[sensor]),
        resources={"platform": PlatformResource()},
    ) as context:
        return sensor.evaluate_tick(context)


def _run(platform: Platform, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    names = [k.to_user_string() for k in request.asset_selection or []]
    tags = {k: v for k, v in request.tags.items() if not k.startswith("dagster/partition")}
    return materialize(
        defs, platform.instance, names, partition_key=request.partition_key, tags=tags
    )


def _days(account: str, since: dt.date, until: dt.date) -> set[str]:
    n = (until - since).days + 1
    return {f"{account}|{since + dt.timedelta(days=i)}" for i in range(n)}


def test_new_account_is_added_and_its_backfill_runs(platform: Platform) -> None:
    _tune(platform, new_account_backfill_days=3)
    account = platform.accounts[0]
    result = _tick(build_new_accounts_sensor(clock=Clock(NOON)), platform)
    [add] = result.dynamic_partitions_requests
    assert sorted(add.partition_keys) == platform.accounts
    platform.instance.add_dynamic_partitions("ad_accounts", list(add.partition_keys))
    mine = [r for r in result.run_requests if account in str(tags_of([r]))]
    first_backfill = next(r for r in mine if tags_of([r])[0][0] == INSIGHTS_RUN)
    assert _run(platform, result.run_requests[0]).success  # ad_accounts
    assert _run(platform, first_backfill).success
    until = SANDBOX_TODAY - dt.timedelta(days=1)
    assert _days(account, until - dt.timedelta(days=2), until) <= materialized_partitions(platform)
    assert (
        _tick(build_new_accounts_sensor(clock=Clock(NOON)), platform, result.cursor).run_requests
        == []
    )


def test_token_recovery_reruns_exactly_the_failed_days(platform: Platform) -> None:
    _tune(platform, lookback_days=5)
    setup_accounts(platform, entities=False)
    account = platform.accounts[0]  # America/New_York: 07:00 on the sandbox's today at NOON
    for asset in ENTITY_ASSETS:  # entities are not what this test is about
        platform.instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=asset, partition=account)
        )
    first, last = SANDBOX_TODAY - dt.timedelta(days=5), SANDBOX_TODAY - dt.timedelta(days=1)
    assert ingest(platform, account, first, last).success
    broken = (SANDBOX_TODAY - dt.timedelta(days=3), SANDBOX_TODAY - dt.timedelta(days=2))
    platform.sandbox.add_fault("token_expired", account_id=account)
    assert not ingest(platform, account, *broken).success
    sensor = build_token_recovery_sensor(clock=Clock(NOON))
    still_broken = _tick(sensor, platform)  # the probe (debug_token) fails: nothing yet
    assert still_broken.run_requests == []
    platform.sandbox.clear_faults()
    # The probe is rate-limited per account; a later tick probes again and succeeds.
    later = build_token_recovery_sensor(clock=Clock(NOON + dt.timedelta(minutes=20)))
    recovered = _tick(later, platform, still_broken.cursor)
    assert tags_of(recovered.run_requests) == [
        (INSIGHTS_RUN, f"{account}|{broken[0]}", f"{account}|{broken[1]}"),
        ("token_health", account, account),
    ]
    for request in recovered.run_requests:
        assert _run(platform, request).success
    assert _days(account, first, last) <= materialized_partitions(platform)
    assert _tick(later, platform, recovered.cursor).run_requests == []


def test_entity_poller_asks_meta_for_changes_since(platform: Platform) -> None:
    settings = PlatformResource().settings()
    poll = platform_poller(PlatformResource())
    account = platform.accounts[0]
    assert poll(settings, account, NOON - dt.timedelta(days=3650)) is True
    assert poll(settings, account, NOON + dt.timedelta(days=3650)) is False
