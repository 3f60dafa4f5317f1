"""The one-machine Dagster instance's SQLite storage, with its database engines kept open.

Why: Dagster's SQLite storages create a SQLAlchemy engine, connect, and dispose of the
engine again for every read and write.  An asset materialization touches two databases
(the run's and the index), so each event paid two engine set-ups and two first-connect
dialect initialisations: 7 to 18 ms per event on this project's machines, against 2 to
3.5 ms with the engines kept, 3.3 to 7.7 times less in the same run
(``benchmarks/event_log_storage.py``).  A marts build
records one materialization per model and one check evaluation per dbt test (about 300
events, and as many planned events when the run is created), so that cost was most of
the difference between the demo's marts step and dbt's own build time (issue 10), and
the largest single cost of an end-to-end backfill (issue 13's profile: 45 % in event
writes).

What does not change: the schema, the files and their layout under ``$DAGSTER_HOME``
(the stock classes open them, and these open the stock classes' files), the journal
mode (WAL, Dagster's), every write being its own committed transaction, and the locking
between processes (SQLite's own, with the stock busy timeouts).

What changes besides the engines: ``PRAGMA synchronous=NORMAL`` (SQLite's default is
FULL).  Why: in WAL mode FULL waits for the disk (an ``fsync`` of the log) at every
commit, and every Dagster event is a commit, two with the index: 1.6–2.0 ms an event
with NORMAL against 2.4–3.7 ms with FULL, back to back (``benchmarks/event_log_storage.py``,
2026-11-30, load 3–4.5).  What it costs: nothing when a process dies (a committed
transaction is in the operating system's hands before ``commit`` returns; attacked by
``test_a_killed_writer_loses_none_of_the_events_it_wrote``), and the database is never
corrupted; only a power cut or kernel crash may take back the last commits.  Dagster
then shows such a partition as not materialized while its data is in the lake (whose
files are synced on their own, ``ads_platform/atomic.py``), the attempts log and the
marts; pulling it again (the daily lookback, a backfill) restores the record: a repeated
request, never a wrong number.  The run's and the index's databases were never
committed together, so no new kind of half-written state appears.  PostgreSQL, the
production instance, is not affected.

Only the engine objects live longer:

* one per database file, created on first use in a process and re-created after a fork;
* no connection crosses a ``fork``: just before any fork of the process, every engine
  closes its idle connections (:meth:`_Engines.close_before_fork`), and the child opens
  its own.  Why: SQLite keeps per-process state about each open database file (its POSIX
  locks, the write-ahead log's shared-memory index), and a child that inherits it takes
  no lock of its own on the WAL.  When the parent then closed its last connection to a
  run's database (an engine evicted below), SQLite in the parent saw no other user,
  checkpointed and deleted the WAL, and every event the forked run wrote after that
  went into the deleted file: a run ended SUCCESS with its last 37 events missing
  (``benchmarks/daily_run.py`` at 50 accounts, 2026-11-30; attacked by
  ``test_a_forked_runs_events_survive_the_parent_closing_its_database``);
* the event log opens one database per run; only the index database and the
  :data:`RUN_SHARDS_KEPT` most recently used run databases keep an engine, so a
  long-lived webserver or daemon that reads thousands of runs holds a bounded number
  of open files.

:data:`STORAGE_BLOCK` selects it; ``ads-platform`` adds it to the instance folder's copy
of the shipped ``dagster.yaml`` (:func:`ads_platform.demo.install_instance_config`), not
to the repository's file, which Dagster's CLI also reads for throwaway instances in a
temporary folder (no ``DAGSTER_HOME``, so no base directory for this storage).
PostgreSQL (``deploy/dagster.postgres.yaml``) keeps its connections through
:mod:`ads_platform.postgres_storage`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import sqlite3
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from dagster import __version__ as dagster_version
from dagster._config import StringSource
from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
)
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData
from dagster._utils import mkdir_p

from ads_platform.interrupts import interrupts_held

#: The ``dagster.yaml`` block of an instance folder (``$DAGSTER_HOME`` is that folder).
STORAGE_BLOCK = """\
# Dagster's SQLite storage (same files, schema and durability) with its database
# engines kept open: ads_platform/instance_storage.py (added by ads-platform).
storage:
  custom:
    module: ads_platform.instance_storage
    class: PooledSqliteStorage
    config:
      base_dir:
        env: DAGSTER_HOME
"""

#: Run databases whose engines the event log keeps open besides the index's.
RUN_SHARDS_KEPT = 8


class _Engines:
    """Engines by database, re-created after a fork; beyond ``keep`` unpinned ones, the
    least recently used is closed first (``keep=None``: never)."""

    def __init__(self, keep: int | None, connect_args: Mapping[str, Any]) -> None:
        self._keep = keep
        self._connect_args = dict(connect_args)
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._engines: OrderedDict[str, sa.engine.Engine] = OrderedDict()
        self._pinned: set[str] = set()
        os.register_at_fork(before=functools.partial(_close_before_fork, weakref.ref(self)))

    def close_before_fork(self) -> None:
        """Close every idle pooled connection (the engines stay, and reconnect on use).

        A connection checked out by another thread at the moment of the fork cannot be
        closed here; the platform forks only from its backfill loop, which holds none.
        """
        with self._lock:
            if os.getpid() == self._pid:
                for engine in self._engines.values():
                    engine.dispose()

    def get(self, conn_string: str, pinned: bool = False) -> sa.engine.Engine:
        with self._lock:
            if os.getpid() != self._pid:
                # Inherited from the parent: never use (or close) its connections here.
                self._engines = OrderedDict()
                self._pid = os.getpid()
            engine = self._engines.get(conn_string)
            if engine is None:
                engine = sa.create_engine(
                    conn_string,
                    poolclass=sa.pool.QueuePool,
                    pool_size=1,
                    max_overflow=4,
                    # A pooled connection may be used by another thread than the one
                    # that opened it; only one uses it at a time (the pool's checkout).
                    connect_args={**self._connect_args, "check_same_thread": False},
                )
                sa.event.listen(engine, "connect", _commit_without_fsync)
                self._engines[conn_string] = engine
            if pinned:
                self._pinned.add(conn_string)
            self._engines.move_to_end(conn_string)
            self._evict()
            return engine

    def _evict(self) -> None:
        if self._keep is None:
            return
        unpinned = [key for key in self._engines if key not in self._pinned]
        for key in unpinned[: max(0, len(unpinned) - self._keep)]:
            self._engines.pop(key).dispose()

    def dispose(self) -> None:
        with self._lock:
            if os.getpid() == self._pid:
                for engine in self._engines.values():
                    engine.dispose()
            self._engines = OrderedDict()


def _commit_without_fsync(dbapi_connection: Any, _record: Any) -> None:
    """Each new connection's durability (see the module: NORMAL, not FULL, in WAL mode).

    Only in WAL mode: a database Dagster has not switched to WAL yet (its first
    connection ever) keeps FULL, the setting a rollback journal needs to stay intact.
    """
    (mode,) = dbapi_connection.execute("PRAGMA journal_mode").fetchone()
    if str(mode).lower() == "wal":
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def _close_before_fork(engines: weakref.ref[_Engines]) -> None:
    """The at-fork hook of one :class:`_Engines`: a weak reference, so the hook (which
    cannot be unregistered) never keeps a disposed storage alive."""
    alive = engines()
    if alive is not None:
        alive.close_before_fork()


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """:class:`SqliteEventLogStorage` whose databases keep their engines (see the module)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines = _Engines(
            keep=RUN_SHARDS_KEPT, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
        )
        super().__init__(base_dir, inst_data=inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[sa.engine.Connection]:
        # Held: an interrupt between taking the lock and the caller's ``with`` would leave
        # it taken, and the interrupt's own handling writes events (ads_platform/interrupts.py).
        with interrupts_held(), self._db_lock:
            engine = self._engines.get(
                self.conn_string_for_shard(shard), pinned=shard == INDEX_SHARD_NAME
            )
            if shard not in self._initialized_dbs:
                if shard == INDEX_SHARD_NAME or not self._copy_run_template(shard):
                    self._initdb(engine)
                    # Its connection may predate WAL mode, so it kept FULL: the next is NORMAL.
                    engine.dispose()
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _copy_run_template(self, shard: str) -> bool:
        """Create a new run's database as a copy of an empty one Dagster initialized.

        Why: Dagster's ``_initdb`` (create every table and index, check and stamp the
        alembic revision) took 0.12 s a run, in the process that creates the run: the
        backfill loop, which creates its runs one after another.  A copy takes about a
        millisecond.  False (the caller initializes as Dagster does) when the database
        exists already: another process created it, and its ``_initdb`` checks it.
        """
        target = self.path_for_shard(shard)
        if os.path.exists(target):
            return False
        seed = f"{target}.{os.getpid()}-{threading.get_ident()}.seed"  # not *.db: no run
        shutil.copyfile(self._run_template(), seed)
        try:
            os.link(seed, target)  # never over a database created meanwhile
        except FileExistsError:
            return False
        finally:
            os.unlink(seed)
        return True

    def _run_template(self) -> str:
        """The empty run database of this Dagster version, made once per event-log folder.

        Named so that Dagster's ``*.db`` globs (the run ids, a wipe) never take it for a
        run's.  Made by Dagster's own ``_initdb`` into a temporary file whose write-ahead
        log is checkpointed into it before it is renamed into place, so a copy holds
        everything (the WAL journal mode included, which SQLite keeps in the file).
        """
        path = os.path.join(self._base_dir, f".run-template-{dagster_version}.sqlite")
        if not os.path.exists(path):
            tmp = f"{path}.{os.getpid()}-{threading.get_ident()}.tmp"
            engine = sa.create_engine(f"sqlite:///{tmp}", poolclass=sa.pool.NullPool)
            try:
                self._initdb(engine)
            finally:
                engine.dispose()
            with contextlib.closing(sqlite3.connect(tmp)) as conn:
                (busy, _, _) = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy:
                raise RuntimeError(f"{tmp}: its write-ahead log could not be checkpointed")
            for leftover in (f"{tmp}-wal", f"{tmp}-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)
            os.replace(tmp, path)
        return path

    def dispose(self) -> None:
        super().dispose()
        self._engines.dispose()


class PooledSqliteRunStorage(SqliteRunStorage):
    """:class:`SqliteRunStorage` whose database keeps its engine (see the module)."""

    def __init__(self, conn_string: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines = _Engines(keep=None, connect_args={})
        super().__init__(conn_string, inst_data=inst_data)

    @contextmanager
    def connect(self) -> Iterator[sa.engine.Connection]:
        with (
            interrupts_held(),  # as the event log's (see its _connect)
            self._engines.get(self._conn_string).connect() as conn,
            conn.begin(),
        ):
            yield conn

    def dispose(self) -> None:
        super().dispose()
        self._engines.dispose()


class PooledSqliteStorage(DagsterSqliteStorage):
    """The stock SQLite storage's files under ``base_dir``, with the pooled run and event
    log storages (the schedule storage is written once per tick: left as it is)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self.base_dir = base_dir
        # Dagster's own layout under base_dir: the stock storage opens the same files.
        self._run_storage = PooledSqliteRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = PooledSqliteEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        # Not DagsterSqliteStorage.__init__: it would open the stock storages as well.
        DagsterStorage.__init__(self)  # type: ignore[no-untyped-call,arg-type]

    @classmethod
    def config_type(cls) -> Mapping[str, Any]:
        return {"base_dir": StringSource}

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> PooledSqliteStorage:
        base_dir = str(config_value["base_dir"])
        mkdir_p(base_dir)
        return cls(base_dir, inst_data=inst_data)
