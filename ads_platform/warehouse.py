"""The build database, the published marts file, and read-only access to it.

Why two files: DuckDB allows one read-write process per database file, and a reader
that opens the file while dbt holds it gets "Could not set lock on file".  dbt builds
into a private build database (``$ADS_PLATFORM_HOME/warehouse/marts.duckdb``, one writer
at a time, serialized by the Dagster pool ``duckdb_writer``).  After a successful build
:func:`publish_marts` copies it to a temporary file next to the published path, fsyncs
it and renames it over ``$ADS_PLATFORM_HOME/marts.duckdb``.  A reader that already has
the marts open keeps reading the old inode until it reconnects; a new reader sees the
new marts; nobody ever sees half a file or a lock error.

Why the build file is also called ``marts.duckdb``: dbt-duckdb writes views with
catalog-qualified names (``"marts"."main"."int_account_freshness"``) and DuckDB names a
catalog after its file, so the published copy can only resolve its views when both
files have the same name.

Why :func:`open_marts_readonly` attaches instead of connecting: the DuckDB Python
client caches one database instance per path and process, so a second
``duckdb.connect(path)`` while an old connection is alive returns the *old* file even
after a publish.  A fresh in-memory instance that ``ATTACH``es the file always reads the
file as it is now.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from ads_platform.settings import Settings

#: Environment variables read by dbt_project/profiles.yml and the lake macros.
HOME_ENV = "ADS_PLATFORM_HOME"
DBT_DB_ENV = "ADS_PLATFORM_DBT_DB"

MISSING_MARTS_HINT = "run `ads-platform demo` or materialize the marts first"


class WarehouseError(RuntimeError):
    """The build database or the published marts could not be used."""


class MartsNotFoundError(WarehouseError, FileNotFoundError):
    """No published marts file yet."""


@dataclass(frozen=True)
class PublishResult:
    """What a publish did, for Dagster metadata and logs."""

    build_db: Path
    target: Path
    size_bytes: int
    seconds: float
    tables: int
    views: int

    def as_metadata(self) -> dict[str, Any]:
        return {
            "published_path": str(self.target),
            "published_bytes": self.size_bytes,
            "publish_seconds": round(self.seconds, 3),
            "published_tables": self.tables,
            "published_views": self.views,
        }


def build_db_path(settings: Settings) -> Path:
    """The private build database dbt writes (same file name as the published marts)."""
    return settings.home / "warehouse" / settings.marts_path.name


def dbt_env(settings: Settings, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a dbt invocation: absolute home and build-database paths.

    Absolute because dbt and DuckDB resolve relative paths against their own working
    directory (the dbt project), not the caller's.  Creates the warehouse directory:
    DuckDB does not create parent directories of a database file.
    """
    env = dict(os.environ if base is None else base)
    home = settings.home.resolve()
    build_db = build_db_path(settings.model_copy(update={"home": home}))
    build_db.parent.mkdir(parents=True, exist_ok=True)
    env[HOME_ENV] = str(home)
    env[DBT_DB_ENV] = str(build_db)
    return env


def dbt_vars(settings: Settings) -> dict[str, Any]:
    """dbt vars that follow the platform settings (one source of truth for both)."""
    return {
        "attribution_windows": list(settings.ingestion.attribution_windows),
        "reconciliation_tolerance": settings.ingestion.reconciliation_tolerance,
    }


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _checkpoint_if_needed(build_db: Path) -> None:
    """Fold a leftover write-ahead log into the main file before copying it.

    dbt closes DuckDB cleanly (which checkpoints), so normally there is no WAL; if a
    crash left one, copying the main file alone would publish stale data.
    """
    wal = build_db.with_name(build_db.name + ".wal")
    if not wal.exists():
        return
    try:
        con = duckdb.connect()
        try:
            con.execute(f"ATTACH '{_sql_path(build_db)}' AS build_db")
            con.execute("CHECKPOINT build_db")
        finally:
            con.close()
    except duckdb.Error as exc:
        raise WarehouseError(
            f"cannot checkpoint the build database {build_db} (is dbt still running?): "
            f"{_one_line(exc)}"
        ) from None


def publish_marts(build_db: Path, target: Path) -> PublishResult:
    """Copy the build database over the published marts atomically.

    Temp file in the target's directory (so the rename stays on one filesystem),
    fsync, sanity-open, ``os.replace``, fsync the directory.  Readers of the old file
    keep their open inode; readers that open afterwards get the new file.
    """
    started = time.perf_counter()
    build_db = Path(build_db)
    target = Path(target)
    if not build_db.exists():
        raise WarehouseError(f"no build database at {build_db}: run dbt build first")
    if build_db.stem != target.stem:
        raise WarehouseError(
            f"build database {build_db.name} and published marts {target.name} must have the "
            "same file name: dbt's views name their catalog after the build file"
        )
    if build_db.resolve() == target.resolve():
        raise WarehouseError(f"the build database and the published marts are one file: {target}")
    _checkpoint_if_needed(build_db)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, open(build_db, "rb") as src:
            shutil.copyfileobj(src, out, length=16 * 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        # The copy must open under the published name's catalog: attach it by that name.
        tables, views = _count_relations_as(tmp, target.stem)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return PublishResult(
        build_db=build_db,
        target=target,
        size_bytes=target.stat().st_size,
        seconds=time.perf_counter() - started,
        tables=tables,
        views=views,
    )


def _count_relations_as(path: Path, alias: str) -> tuple[int, int]:
    con = _attach_readonly(path, alias=alias)
    try:
        row = con.execute(
            "select count(*) filter (where table_type = 'BASE TABLE'), "
            "count(*) filter (where table_type = 'VIEW') "
            "from information_schema.tables where table_catalog = current_database()"
        ).fetchone()
    except duckdb.Error as exc:
        raise WarehouseError(f"the copy of the marts is not readable: {_one_line(exc)}") from None
    finally:
        con.close()
    assert row is not None
    return int(row[0]), int(row[1])


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _attach_readonly(path: Path, alias: str | None = None) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB with ``path`` attached read-only and selected."""
    name = alias or path.stem
    con = duckdb.connect(":memory:")
    try:
        quoted = '"' + name.replace('"', '""') + '"'
        con.execute(f"ATTACH '{_sql_path(path)}' AS {quoted} (READ_ONLY)")
        con.execute(f"USE {quoted}")
    except BaseException:
        con.close()
        raise
    return con


def open_marts_readonly(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published marts, current as of this call.

    Raises :class:`MartsNotFoundError` with what to do when nothing is published yet.
    """
    path = Path(path)
    if not path.exists():
        raise MartsNotFoundError(f"no marts at {path}: {MISSING_MARTS_HINT}")
    try:
        return _attach_readonly(path)
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open the marts at {path}: {_one_line(exc)}") from None
