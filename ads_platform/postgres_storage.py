"""The production instance's PostgreSQL storage, with a connection kept open per process.

Why: dagster-postgres creates its engines with ``NullPool``, so every read and write
opens a new connection, and the server forks a backend and authenticates for each.  A
Dagster event is one or more such operations.  Measured with
``benchmarks/backfill_benchmark.py --instance postgres`` (10 accounts × 100 ads × 90 days,
50 ms, 2026-11-30): the stock storage's server took 30.5 CPU-seconds for a backfill whose
own processes took 23.3, and the backfill 29.6–31.4 s against 12–15 s on the one-machine
SQLite instance.

What does not change: the schema, the tables and the configuration (``postgres_url`` or
``postgres_db``, exactly as ``storage: postgres:``); every operation still commits on
its own (``AUTOCOMMIT``, dagster-postgres's isolation level).  Only the connections live
longer:

* each of the run, event log and schedule storages keeps one idle connection (a few
  more while threads of the same process overlap), checked with a ping before use, so
  a server restart or an idle timeout costs a reconnect, not an error;
* no connection crosses a ``fork``: in a forked child (the platform's run launcher) the
  inherited pool is dropped without closing the parent's sockets, and the child opens
  its own (SQLAlchemy's advice for ``os.fork``).

``deploy/dagster.postgres.yaml`` selects it (``storage: custom:``).
"""

from __future__ import annotations

import functools
import os
import weakref
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from dagster._serdes import ConfigurableClassData
from dagster_postgres.storage import DagsterPostgresStorage
from dagster_postgres.utils import (
    create_pg_engine,
    get_token_provider_from_config,
    pg_url_from_config,
)

#: Idle connections each storage keeps, and how many more it may open at once.
POOL_SIZE = 1
MAX_OVERFLOW = 4
#: Seconds after which a kept connection is replaced (servers and proxies drop idle ones).
POOL_RECYCLE_S = 3600


def pooled_engine(postgres_url: str, token_provider: Any = None) -> sa.engine.Engine:
    """dagster-postgres's engine for ``postgres_url``, with a small pool instead of none."""
    engine = create_pg_engine(
        postgres_url,
        token_provider,
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.QueuePool,
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
        pool_pre_ping=True,
        pool_recycle=POOL_RECYCLE_S,
    )
    os.register_at_fork(after_in_child=functools.partial(_drop_in_child, weakref.ref(engine)))
    return engine


def _drop_in_child(engine: weakref.ref[sa.engine.Engine]) -> None:
    """In a forked child: forget the parent's connections (they stay the parent's)."""
    alive = engine()
    if alive is not None:
        alive.dispose(close=False)


class PooledPostgresStorage(DagsterPostgresStorage):
    """:class:`DagsterPostgresStorage` whose storages keep a connection (see the module)."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: Any = None,
    ) -> None:
        super().__init__(
            postgres_url,
            should_autocreate_tables,
            inst_data=inst_data,
            token_provider=token_provider,
        )
        for storage in (self._run_storage, self._event_log_storage, self._schedule_storage):
            stock = storage._engine
            storage._engine = pooled_engine(postgres_url, token_provider)
            stock.dispose()

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PooledPostgresStorage:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
