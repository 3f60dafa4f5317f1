"""The local PostgreSQL server (127.0.0.1:5432, trust auth): a fresh database per use.

Shared by the production-instance tests and ``benchmarks/backfill_benchmark.py
--instance postgres``, so both make and drop their databases the same way.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from typing import Any

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"


def connect(dbname: str = "postgres", port: int = PG_PORT) -> Any:
    """An autocommit psycopg2 connection (raises when no server answers)."""
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=port, user=PG_USER, dbname=dbname, connect_timeout=3)
    conn.autocommit = True
    return conn


@contextlib.contextmanager
def fresh_database(admin: Any, prefix: str, port: int = PG_PORT) -> Iterator[str]:
    """A new database ``<prefix>_<random>`` made through ``admin``; its URL; dropped after.

    The URL names psycopg2: SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3,
    which is not installed (dagster-postgres depends on psycopg2-binary).
    """
    name = f"{prefix}_{secrets.token_hex(6)}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{port}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
