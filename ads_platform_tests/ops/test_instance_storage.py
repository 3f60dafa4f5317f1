"""The shipped one-machine instance: Dagster's SQLite files, written through engines that
stay open (``ads_platform/instance_storage.py``), and nothing lost or changed by that."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from ads_platform.demo import install_instance_config
from ads_platform.instance_storage import (
    RUN_SHARDS_KEPT,
    PooledSqliteEventLogStorage,
    PooledSqliteRunStorage,
)
from ads_platform_tests.events import materialization_entry


@pytest.fixture
def shipped_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster"
    install_instance_config(home)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@dg.asset
def _counted() -> int:
    return 1


def test_the_shipped_instance_writes_dagsters_own_sqlite_files_through_kept_engines(
    shipped_home: Path,
) -> None:
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        assert isinstance(instance.run_storage, PooledSqliteRunStorage)
        result = dg.materialize([_counted], instance=instance)
        assert result.success
        run_id = result.run_id
    # The stock storage (what a plain `storage: sqlite` instance would open) reads it all.
    stock = dg.DagsterInstance.from_config(str(shipped_home), config_filename="absent.yaml")
    with stock:
        assert not isinstance(stock.event_log_storage, PooledSqliteEventLogStorage)
        run = stock.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        latest = stock.get_latest_materialization_event(dg.AssetKey("_counted"))
        assert latest is not None and latest.run_id == run_id


def test_every_event_is_committed_when_store_event_returns(tmp_path: Path) -> None:
    pooled = PooledSqliteEventLogStorage(str(tmp_path))
    stock = SqliteEventLogStorage(str(tmp_path))
    for n in range(5):
        pooled.store_event(materialization_entry("run-a", n))
        # Another connection (the webserver's, the daemon's) sees it at once.
        assert len(stock.get_logs_for_run("run-a")) == n + 1
    pooled.dispose()
    stock.dispose()


def _write_then_die(base_dir: str, count: int) -> None:
    storage = PooledSqliteEventLogStorage(base_dir)
    for n in range(count):
        storage.store_event(materialization_entry("killed-run", n))
    os.kill(os.getpid(), signal.SIGKILL)  # no dispose, no close, no checkpoint


def test_a_killed_writer_loses_none_of_the_events_it_wrote(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    writer = context.Process(target=_write_then_die, args=(str(tmp_path), 40))
    writer.start()
    writer.join(timeout=120)
    assert writer.exitcode == -signal.SIGKILL
    stock = SqliteEventLogStorage(str(tmp_path))
    assert len(stock.get_logs_for_run("killed-run")) == 40
    latest = stock.get_latest_materialization_events([dg.AssetKey("asset_3")])
    assert latest[dg.AssetKey("asset_3")] is not None  # the index database has it too
    for db in (tmp_path / "index.db", tmp_path / "killed-run.db"):
        with sqlite3.connect(db) as con:
            assert con.execute("pragma integrity_check").fetchone() == ("ok",)
    stock.dispose()


def _write_in_forked_child(storage: PooledSqliteEventLogStorage) -> None:
    storage.store_event(materialization_entry("forked-run", 1))


def test_a_forked_process_opens_its_own_engines_and_leaves_the_parents_working(
    tmp_path: Path,
) -> None:
    storage = PooledSqliteEventLogStorage(str(tmp_path))
    storage.store_event(materialization_entry("forked-run", 0))  # the parent's engines exist
    child = multiprocessing.get_context("fork").Process(
        target=_write_in_forked_child, args=(storage,)
    )
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    storage.store_event(materialization_entry("forked-run", 2))
    assert len(storage.get_logs_for_run("forked-run")) == 3
    storage.dispose()


def test_only_the_index_and_the_most_recent_run_databases_keep_an_engine(tmp_path: Path) -> None:
    storage = PooledSqliteEventLogStorage(str(tmp_path))
    runs = [f"run-{n:02d}" for n in range(RUN_SHARDS_KEPT + 12)]
    for run_id in runs:
        storage.store_event(materialization_entry(run_id, 0))
    kept = [Path(key.split("///")[-1]).stem for key in storage._engines._engines]
    assert "index" in kept
    assert sorted(k for k in kept if k != "index") == runs[-RUN_SHARDS_KEPT:]
    # An evicted run's database opens again when read.
    assert len(storage.get_logs_for_run(runs[0])) == 1
    storage.dispose()
    assert storage._engines._engines == {}


def test_the_repositorys_dagster_yaml_serves_dagsters_throwaway_cli_instances(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dagster definitions validate` (CI) and `dagster dev` run in the repository without
    DAGSTER_HOME open an instance in a temporary folder with this file's settings: the
    storage block, which needs DAGSTER_HOME, is only in an instance folder's copy."""
    from dagster._core.instance.ref import InstanceRef

    from ads_platform.demo import SHIPPED_DAGSTER_YAML

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    ref = InstanceRef.from_dir(str(tmp_path), config_dir=str(SHIPPED_DAGSTER_YAML.parent))
    with dg.DagsterInstance.from_ref(ref) as instance:
        assert dg.materialize([_counted], instance=instance).success
    assert (tmp_path / "history" / "runs.db").exists()


def _write_slowly(storage: PooledSqliteEventLogStorage, count: int, started: Any) -> None:
    for n in range(count):
        storage.store_event(materialization_entry("forked-run", 1 + n))
        if n == 5:
            started.set()
        time.sleep(0.01)


def test_a_forked_runs_events_survive_the_parent_closing_its_database(tmp_path: Path) -> None:
    # What the forked launcher does: the parent creates a run (it writes to the run's
    # database), forks the child that executes it, and goes on creating runs; after
    # RUN_SHARDS_KEPT of them it closes its engine of the first run's database while
    # that run is still writing.  Before the fix SQLite in the parent, seeing no other
    # user, checkpointed and deleted the write-ahead log the child was writing into:
    # 12 of 60 events lost here, a SUCCESS run without its last 37 events in a daily run.
    storage = PooledSqliteEventLogStorage(str(tmp_path))
    storage.store_event(materialization_entry("forked-run", 0))
    fork = multiprocessing.get_context("fork")
    started = fork.Event()
    child = fork.Process(target=_write_slowly, args=(storage, 60, started))
    child.start()
    assert started.wait(60)
    for n in range(RUN_SHARDS_KEPT + 1):  # the parent's engine of forked-run is evicted
        storage.store_event(materialization_entry(f"other-run-{n}", 0))
    child.join(timeout=120)
    assert child.exitcode == 0
    stock = SqliteEventLogStorage(str(tmp_path))
    assert len(stock.get_logs_for_run("forked-run")) == 61
    stock.dispose()
    storage.dispose()


def test_the_pooled_databases_commit_without_waiting_for_the_disk_once_in_wal_mode(
    tmp_path: Path,
) -> None:
    pooled = PooledSqliteEventLogStorage(str(tmp_path / "events"))
    pooled.store_event(materialization_entry("run-a", 0))
    runs = PooledSqliteRunStorage.from_local(str(tmp_path / "runs"))
    runs.has_run("absent")
    engines = [pooled._engines.get(pooled.conn_string_for_shard(s)) for s in ("index", "run-a")]
    for engine in [*engines, runs._engines.get(runs._conn_string)]:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("pragma journal_mode").scalar() == "wal"
            # 1 is NORMAL: SQLite's default, FULL (2), syncs the log at every commit.
            assert conn.exec_driver_sql("pragma synchronous").scalar() == 1
    pooled.dispose()
    runs.dispose()


def _schema(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as con:
        tables = con.execute("select type, name, sql from sqlite_master order by name").fetchall()
        return [*tables, *con.execute("select * from alembic_version").fetchall()]


def test_a_new_runs_database_is_a_copy_of_what_dagster_initializes_and_dagster_reads_it(
    tmp_path: Path,
) -> None:
    stock = SqliteEventLogStorage(str(tmp_path / "stock"))
    stock.store_event(materialization_entry("run-a", 0))
    pooled = PooledSqliteEventLogStorage(str(tmp_path / "pooled"))
    for n in range(3):
        pooled.store_event(materialization_entry("run-a", n))
    copied = tmp_path / "pooled" / "run-a.db"
    assert len(list((tmp_path / "pooled").glob(".run-template-*.sqlite"))) == 1  # copied from it
    assert _schema(copied) == _schema(tmp_path / "stock" / "run-a.db")
    with sqlite3.connect(copied) as con:
        assert con.execute("pragma journal_mode").fetchone() == ("wal",)
    # Dagster's own storage takes it for the run's database and nothing else for a run's.
    reader = SqliteEventLogStorage(str(tmp_path / "pooled"))
    assert len(reader.get_logs_for_run("run-a")) == 3
    assert sorted(reader.get_all_run_ids()) == ["run-a"]
    reader.store_event(materialization_entry("run-a", 3))
    assert len(pooled.get_logs_for_run("run-a")) == 4
    for storage in (stock, pooled, reader):
        storage.dispose()
