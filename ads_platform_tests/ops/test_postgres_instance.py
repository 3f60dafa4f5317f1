"""The production instance: PostgreSQL through dagster-postgres, against a real server.

Each test run creates its own database (``ads_platform_test_<random>``) on the server
at 127.0.0.1:5432 and drops it at the end.  Without a server the tests skip, except
in CI (``CI=true``), where a missing server is a failure: the production storage must
be proven there, not silently skipped.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from ads_platform.automation.alerts import build_check_alerts_sensor
from ads_platform.automation.sensors import build_new_accounts_sensor
from ads_platform.doctor import run_doctor
from ads_platform.partitions import key_for
from ads_platform.postgres_storage import MAX_OVERFLOW
from ads_platform.resources import PlatformResource
from ads_platform_tests.automation.helpers import Clock, repository
from ads_platform_tests.conftest import SANDBOX_TODAY, Platform
from ads_platform_tests.e2e.helpers import ingest, setup_accounts
from ads_platform_tests.events import materialization_entry
from ads_platform_tests.launch import SYNC_LAUNCH_OVERRIDES, backfill_through_daemon
from ads_platform_tests.postgres import PG_HOST, PG_PORT, PG_USER, connect, fresh_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
POSTGRES_YAML = REPO / "deploy" / "dagster.postgres.yaml"


def admin_connection(port: int = PG_PORT):  # type: ignore[no-untyped-def]
    """A connection to the server's ``postgres`` database; skip, or fail under CI=true."""
    try:
        return connect("postgres", port)
    except Exception as exc:
        reason = f"PostgreSQL is not reachable at {PG_HOST}:{port} as {PG_USER}: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: the PostgreSQL tests must run in CI)")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A fresh database for this test run, dropped afterwards."""
    admin = admin_connection()
    try:
        with fresh_database(admin, "ads_platform_test") as url:
            yield url
    finally:
        admin.close()


@pytest.fixture
def pg_home(pg_url: str, platform: Platform, monkeypatch: pytest.MonkeyPatch) -> Path:
    """DAGSTER_HOME holding deploy/dagster.postgres.yaml as dagster.yaml, as in production."""
    home = platform.home / "dagster-pg"
    home.mkdir(parents=True)
    shutil.copyfile(POSTGRES_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_URL", pg_url)
    return home


def test_production_instance_materializes_and_runs_sensors(
    platform: Platform, pg_home: Path
) -> None:
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert not instance.event_log_storage.is_run_sharded
        platform.instance = instance
        setup_accounts(platform, entities=False)
        account = platform.accounts[0]
        until = SANDBOX_TODAY - dt.timedelta(days=1)
        since = until - dt.timedelta(days=2)
        assert ingest(platform, account, since, until).success
        # Read back through the instance API.
        materialized = set(instance.get_materialized_partitions(dg.AssetKey("ad_insights_daily")))
        assert {str(key_for(account, since + dt.timedelta(days=i))) for i in range(3)} <= (
            materialized
        )
        assert sorted(instance.get_dynamic_partitions("ad_accounts")) == platform.accounts

        # A sensor tick on PostgreSQL: the new-account sensor sees the accounts ingested
        # already (only the one with data is left alone) ...
        noon = dt.datetime.combine(SANDBOX_TODAY, dt.time(12), tzinfo=dt.UTC)
        sensor = build_new_accounts_sensor(clock=Clock(noon))
        check_sensor = build_check_alerts_sensor(clock=Clock(noon))
        repo = repository(sensors=[sensor, check_sensor])
        resources = {"platform": PlatformResource()}
        with dg.build_sensor_context(
            instance=instance,
            instance_ref=instance.get_ref(),
            repository_def=repo,
            resources=resources,
        ) as context:
            tick = sensor.evaluate_tick(context)
        backfilled = {
            r.tags.get("dagster/asset_partition_range_start", "") for r in tick.run_requests or []
        }
        assert not any(key.startswith(account) for key in backfilled)
        assert len([k for k in backfilled if k]) == len(platform.accounts) - 1

        # ... and the check-alert sensor keeps a plain storage-id cursor there.
        instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey("ad_insights_daily"),
                check_name="zero_guard",
                passed=False,
                partition=f"{account}|{until}",
                blocking=True,
            )
        )
        with dg.build_sensor_context(
            instance=instance, repository_def=repo, resources=resources
        ) as context:
            first = check_sensor.evaluate_tick(context)
        assert first.cursor is not None and '"id"' in first.cursor
        alerts_dir = platform.home / "lake" / "alerts" / f"account_id={account}"
        assert len(list(alerts_dir.glob("*.parquet"))) == 1
        with dg.build_sensor_context(
            instance=instance, cursor=first.cursor, repository_def=repo, resources=resources
        ) as context:
            second = check_sensor.evaluate_tick(context)
        assert second.cursor == first.cursor

    report = run_doctor()
    instance_check = next(c for c in report.checks if c.name == "dagster instance")
    assert instance_check.status == "OK" and "PostgreSQL" in instance_check.detail


def test_backfill_through_the_daemon_on_postgres(
    platform: Platform, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster._core.execution.backfill import BulkActionStatus

    overrides = {**SYNC_LAUNCH_OVERRIDES, "storage": {"postgres": {"postgres_url": pg_url}}}
    with dg.instance_for_test(overrides=overrides) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        platform.instance = instance
        setup_accounts(platform, entities=False)
        account = platform.accounts[1]
        until = SANDBOX_TODAY - dt.timedelta(days=1)
        keys = [str(key_for(account, until - dt.timedelta(days=i))) for i in range(3)]
        backfill_id = f"pg{secrets.token_hex(4)}"
        status = backfill_through_daemon(
            instance, keys, ["ad_insights_daily"], backfill_id=backfill_id, max_iterations=10
        )
        assert status == BulkActionStatus.COMPLETED_SUCCESS
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        assert len(runs) == 1  # one range run for three days of one account
        assert runs[0].status == dg.DagsterRunStatus.SUCCESS
        materialized = set(instance.get_materialized_partitions(dg.AssetKey("ad_insights_daily")))
        assert set(keys) <= materialized


def _sessions(pg_url: str) -> int:
    """Connections the server has accepted for this database so far (PostgreSQL ≥ 14)."""
    admin = admin_connection()
    with admin.cursor() as cur:
        cur.execute(
            "select sessions from pg_stat_database where datname = %s", (pg_url.rsplit("/", 1)[1],)
        )
        (count,) = cur.fetchone()
    admin.close()
    return int(count)


def test_the_production_instance_reuses_its_connections_instead_of_one_per_event(
    pg_home: Path, pg_url: str
) -> None:
    with dg.DagsterInstance.get() as instance:
        storages = (instance.run_storage, instance.event_log_storage, instance.schedule_storage)
        assert all(isinstance(s._engine.pool, sa.pool.QueuePool) for s in storages)  # type: ignore[attr-defined]
        storage = instance.event_log_storage
        storage.store_event(materialization_entry("pg-run", 0))  # connected once
        before = _sessions(pg_url)
        for n in range(1, 41):
            storage.store_event(materialization_entry("pg-run", n))
        assert len(storage.get_logs_for_run("pg-run")) == 41
        # The stock storage opened a connection (a server backend) per operation.
        assert _sessions(pg_url) - before <= MAX_OVERFLOW + 1


def _write_in_forked_child(storage: Any) -> None:
    for n in range(100, 110):
        storage.store_event(materialization_entry("pg-forked", n))


def test_a_forked_run_worker_opens_its_own_connections_and_leaves_the_parents_working(
    pg_home: Path,
) -> None:
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        storage.store_event(materialization_entry("pg-forked", 0))  # the parent's connection
        child = multiprocessing.get_context("fork").Process(
            target=_write_in_forked_child, args=(storage,)
        )
        child.start()
        for n in range(1, 11):  # the parent goes on meanwhile, on its own connection
            storage.store_event(materialization_entry("pg-forked", n))
        child.join(timeout=60)
        assert child.exitcode == 0
        storage.store_event(materialization_entry("pg-forked", 11))
        assert len(storage.get_logs_for_run("pg-forked")) == 22


def test_a_missing_server_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="not reachable"):
        admin_connection(closed)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        admin_connection(closed)
