"""The build database, the published marts file, and read-only access to it.

Why two files: DuckDB allows one read-write process per database file, and a reader
that opens the file while dbt holds it gets "Could not set lock on file".  dbt builds
into a private build database (``$ADS_PLATFORM_HOME/warehouse/marts.duckdb``, one writer
at a time, serialized by the Dagster pool ``duckdb_writer``).  After a successful build
:func:`publish_marts` rewrites it in DuckDB 1.4's storage format (so every DuckDB 1.4+
client opens the marts, not only the newest), copies that to a temporary file next to
the published path, fsyncs it and renames it over ``$ADS_PLATFORM_HOME/marts.duckdb``.
A reader that already has the marts open keeps reading the old inode until it
reconnects; a new reader sees the new marts; nobody ever sees half a file or a lock
error.

Why the build file is also called ``marts.duckdb``: dbt-duckdb writes views with
catalog-qualified names (``"marts"."main"."int_account_freshness"``) and DuckDB names a
catalog after its file, so the published copy can only resolve its views when both
files have the same name.

Why :func:`open_marts_readonly` is the one way to read the marts (``ads-platform sql``,
the dashboards, tests) and why it attaches instead of connecting: the DuckDB Python
client (2.0 included) caches one database instance per path and process, so a second
``duckdb.connect(path, read_only=True, config=...)`` while an old connection is alive
returns the *old* file even after a publish (and refuses a different ``config``
outright).  A fresh in-memory instance that ``ATTACH``es the file ``READ_ONLY`` opens the
file as it is now, read-only at the storage level.  The host's own in-memory catalog is
detached, so the read-only marts are the only database; then external access is
switched off (no files, URLs, extension installs or loads, Python replacement scans:
``read_csv``, ``glob``, ``COPY … TO``, ``ATTACH`` all fail) and the configuration is
locked (``SET``/``RESET`` cannot switch it back on).  These are DuckDB's own walls, so
they hold for code that runs SQL on the connection without the statement check of
:mod:`ads_platform.sql`.

Why a build plan (:func:`plan_marts_build`): most builds follow an ingestion run that
re-pulled a few account-days, and re-reading a whole lake dataset (the reconciliation
of fct_ad_daily with the lake) costs seconds on every such build.  The plan decides
between

* a full build - every selected model and every test, the reconciliation over every
  lake file - when there is no build database or no record of a successful build yet,
  when the dbt project or its vars changed since, when asked for, and at least once
  every 24 h (the whole-lake verification); and
* an incremental build, whose reconciliation compares only the files changed since the
  last recorded build (:func:`lake_listing_env`, dbt_project/macros/reconciliation.sql),
  and which leaves out the test-less views whose build only re-defines them (tag
  ``definition_only``; a full build re-creates them after any project change).  No test
  is left out: a check left out of a build that Dagster selected it for shows
  "Skipped", and the reconciliation (once left out, as tag ``full_lake``) is blocking.

Which models run is not the plan's business in Dagster: automation requests the marts
downstream of the ingestion assets that materialized (a subset run, which dagster-dbt
turns into ``--select``), the hourly tick requests them all.  For a dbt invocation
without Dagster (the benchmark), :attr:`MartsBuildPlan.select_args` selects the same
thing from the lake itself: the lake is listed (path, size, modification time: no file
is opened) and compared per dataset with the listing recorded after the last
successful build (``warehouse/marts_build_state.json``, :func:`record_marts_build`), and
``source:lake.<changed>+`` plus the clock-dependent models (tag ``clock``) are selected.
dbt_project/README.md lists which test runs when.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from ads_platform import atomic, dbt_with_parent
from ads_platform.settings import Settings

#: Environment variables read by dbt_project/profiles.yml and the lake macros.
HOME_ENV = "ADS_PLATFORM_HOME"
DBT_DB_ENV = dbt_with_parent.BUILD_DB_ENV
LAKE_DIR_ENV = "ADS_PLATFORM_LAKE_DIR"
#: A CSV listing of the lake taken just before dbt starts (write_lake_listing).
LAKE_LISTING_ENV = "ADS_PLATFORM_LAKE_LISTING"
LAKE_LISTING_NAME = "lake_listing.csv"
#: On incremental builds: the listing the last recorded build saw (record_marts_build).
#: assert_fct_ad_daily_matches_lake then compares only the files changed since
#: (dbt_project/macros/reconciliation.sql); unset, it compares the whole lake.
LAKE_LISTING_BEFORE_ENV = "ADS_PLATFORM_LAKE_LISTING_BEFORE"

#: dbt tag of the models whose content depends on the clock at build time: every build.
CLOCK_TAG = "clock"
#: dbt tag of views without tests whose build only (re)defines them: full builds only.
DEFINITION_ONLY_TAG = "definition_only"
#: The dbt source whose tables are the lake datasets (dbt_project/models/sources.yml).
LAKE_SOURCE = "lake"
#: The table of that source that is the hook's listing of the lake, not a dataset.
LAKE_FILES_TABLE = "lake_files"
#: Beside the build database: what the last successful build saw (see plan_marts_build).
BUILD_STATE_NAME = "marts_build_state.json"
#: Beside it: that build's listing of the lake, file by file (LAKE_LISTING_BEFORE_ENV).
BUILD_LISTING_NAME = "marts_build_listing.csv"
#: The whole-lake verification (a full build) runs at least this often.
DEFAULT_FULL_BUILD_EVERY = dt.timedelta(hours=24)
#: How much earlier than ``full_build_every`` a verification is already due: the daily
#: run of every mart starts at a tick a few seconds or minutes earlier or later than the
#: day before, and must not find yesterday's verification 23 h 59 min old and skip it.
FULL_BUILD_MARGIN = dt.timedelta(minutes=30)
_STATE_VERSION = 1
_DBT_PROJECT_INPUTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests")

#: The storage format of the published marts: the oldest DuckDB that opens them is 1.4.
#: The build database keeps the running DuckDB's own format (only dbt reads it).
PUBLISHED_STORAGE_VERSION = "v1.4.0"

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
    """dbt vars that follow the platform settings (one source of truth for both).

    The passthrough lists carry what dbt cannot read from Python: each field's DuckDB type
    (from its declared kind) and each action type's column suffix.  Like every var, a
    change of them makes the next marts build a full one (:func:`plan_marts_build`).
    """
    # Imported here: the declarations need pandas, and readers of the marts import this
    # module without ever building dbt vars.
    from ads_platform.datasets import passthrough

    insights = settings.insights
    return {
        "attribution_windows": list(settings.ingestion.attribution_windows),
        "reconciliation_tolerance": settings.ingestion.reconciliation_tolerance,
        "week_start_day": settings.reporting.week_start_day,
        "reporting_currency": settings.fx.reporting_currency,
        "passthrough_fields": passthrough.dbt_field_var(insights.passthrough_fields),
        "passthrough_action_types": passthrough.dbt_action_type_var(
            insights.passthrough_action_types
        ),
    }


def dbt_lake_dir(env: Mapping[str, str]) -> Path:
    """The lake directory the dbt macros read (macros/lake.sql ``lake_root()``)."""
    if env.get(LAKE_DIR_ENV):
        return Path(env[LAKE_DIR_ENV])
    return Path(env.get(HOME_ENV, ".ads_platform")) / "lake"


# -- build plan ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LakeFile:
    """One Parquet file of the lake, as listed (no file is opened)."""

    dataset: str
    #: Relative to the dataset directory, ``/``-separated.
    path: str
    size: int
    mtime_ns: int


def list_lake(lake_dir: Path) -> dict[str, tuple[LakeFile, ...]]:
    """The Parquet files of every dataset (first directory level), sorted by path.

    Path, size and modification time only: listing a lake of tens of thousands of
    files takes a fraction of a second.  A dataset without files is absent.
    """
    listing: dict[str, tuple[LakeFile, ...]] = {}
    try:
        datasets = sorted(
            (e for e in os.scandir(lake_dir) if e.is_dir(follow_symlinks=False)),
            key=lambda e: e.name,
        )
    except FileNotFoundError:
        return listing
    for dataset in datasets:
        files = sorted(_parquet_files(dataset.name, Path(dataset.path), ""), key=lambda f: f.path)
        if files:
            listing[dataset.name] = tuple(files)
    return listing


def _parquet_files(dataset: str, directory: Path, prefix: str) -> Iterable[LakeFile]:
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:  # removed while listing: the next build sees the change
        return
    for entry in entries:
        name = prefix + entry.name
        if entry.is_dir(follow_symlinks=False):
            yield from _parquet_files(dataset, Path(entry.path), name + "/")
        elif entry.name.endswith(".parquet"):
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue
            yield LakeFile(dataset, name, stat.st_size, stat.st_mtime_ns)


def _digests(files: Mapping[str, tuple[LakeFile, ...]]) -> dict[str, str]:
    return {
        dataset: hashlib.sha256(
            "\n".join(f"{f.path}\t{f.size}\t{f.mtime_ns}" for f in listed).encode()
        ).hexdigest()
        for dataset, listed in files.items()
    }


def write_lake_listing(files: Mapping[str, tuple[LakeFile, ...]], path: Path) -> Path:
    """The listing as CSV for the dbt hook (``ADS_PLATFORM_LAKE_LISTING``).

    create_lake_views() (macros/lake.sql) then loads it instead of listing the lake a
    second time.  Modification times in whole seconds, like DuckDB's read_blob().
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["dataset", "path", "modified_epoch"])
    for listed in files.values():
        writer.writerows((f.dataset, f.path, f.mtime_ns // 1_000_000_000) for f in listed)
    atomic.write_bytes(path, out.getvalue().encode())
    return path


def dbt_project_fingerprint(project_dir: Path, vars_: Mapping[str, Any]) -> str:
    """A digest of the dbt project's sources and the vars it runs with.

    When it changes, any model may compute something else: the next build is full.
    """
    digest = hashlib.sha256(json.dumps(dict(vars_), sort_keys=True, default=str).encode())
    for name in _DBT_PROJECT_INPUTS:
        path = project_dir / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.exists():
                digest.update(str(file.relative_to(project_dir)).encode() + b"\0")
                digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()


def lake_source_tables(project_dir: Path) -> frozenset[str]:
    """The datasets declared as tables of the ``lake`` dbt source (models/sources.yml)."""
    declared = yaml.safe_load((project_dir / "models" / "sources.yml").read_text()) or {}
    for source in declared.get("sources", []):
        if source.get("name") == LAKE_SOURCE:
            tables = (t["name"] for t in source.get("tables", []))
            return frozenset(t for t in tables if t != LAKE_FILES_TABLE)
    return frozenset()


@dataclass(frozen=True)
class MartsBuildPlan:
    """Whether the next dbt build is full or incremental, and why (module docstring)."""

    full: bool
    reason: str
    #: Lake datasets (dbt sources) whose files changed since the last recorded build.
    changed_datasets: tuple[str, ...]
    planned_at: dt.datetime
    #: Per dataset, a digest of its listed files (what record_marts_build stores).
    listing: Mapping[str, str] = field(repr=False)
    project: str = field(repr=False)
    last_full_build_at: dt.datetime | None = None
    #: The listing itself (write_lake_listing hands it to dbt).
    files: Mapping[str, tuple[LakeFile, ...]] = field(default_factory=dict, repr=False)

    @property
    def mode(self) -> str:
        return "full" if self.full else "incremental"

    @property
    def exclude_args(self) -> tuple[str, ...]:
        """What an incremental build leaves out, whatever the selection."""
        if self.full:
            return ()
        return ("--exclude", f"tag:{DEFINITION_ONLY_TAG}")

    @property
    def select_args(self) -> tuple[str, ...]:
        """What the changed datasets feed, plus the clock-dependent models."""
        if self.full:
            return ()
        select = [f"source:{LAKE_SOURCE}.{d}+" for d in self.changed_datasets]
        return ("--select", " ".join([*select, f"tag:{CLOCK_TAG}"]))

    @property
    def dbt_args(self) -> tuple[str, ...]:
        """The whole ``dbt build`` command for a direct dbt invocation (no Dagster)."""
        return ("build", *self.select_args, *self.exclude_args)

    def describe(self) -> str:
        changed = ", ".join(self.changed_datasets) or "none"
        return f"{self.mode} dbt build ({self.reason}); changed lake datasets: {changed}"

    def as_metadata(self) -> dict[str, Any]:
        return {
            "marts_build_mode": self.mode,
            "marts_build_reason": self.reason,
            "marts_changed_datasets": ", ".join(self.changed_datasets) or "none",
        }


def lake_listing_env(plan: MartsBuildPlan, build_db: Path) -> dict[str, str]:
    """Write the plan's listing beside the build database; the variables that hand it to
    dbt, so dbt's on-run-start hook does not list the lake a second time, and, on an
    incremental build, the listing of the last recorded build, so the reconciliation
    compares only what changed since (a full build compares the whole lake)."""
    path = write_lake_listing(plan.files, Path(build_db).with_name(LAKE_LISTING_NAME))
    env = {LAKE_LISTING_ENV: str(path)}
    before = build_listing_path(build_db)
    if not plan.full and before.exists():
        env[LAKE_LISTING_BEFORE_ENV] = str(before)
    return env


def build_listing_path(build_db: Path) -> Path:
    return Path(build_db).with_name(BUILD_LISTING_NAME)


def build_state_path(build_db: Path) -> Path:
    return Path(build_db).with_name(BUILD_STATE_NAME)


def _read_build_state(build_db: Path) -> dict[str, Any] | None:
    try:
        state = json.loads(build_state_path(build_db).read_text())
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("version") != _STATE_VERSION:
        return None
    return state


def _parse_time(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def plan_marts_build(
    *,
    build_db: Path,
    lake_dir: Path,
    project_dir: Path,
    vars_: Mapping[str, Any] | None = None,
    force_full: bool = False,
    full_build_every: dt.timedelta = DEFAULT_FULL_BUILD_EVERY,
    now: dt.datetime | None = None,
) -> MartsBuildPlan:
    """Decide between a full and an incremental build (see the module docstring).

    Call :func:`record_marts_build` after a build that brought every model up to date
    succeeded (a build of all models, or of :attr:`MartsBuildPlan.select_args`), and
    only then.
    """
    now = now or dt.datetime.now(dt.UTC)
    files = list_lake(lake_dir)
    listing = _digests(files)
    project = dbt_project_fingerprint(project_dir, vars_ or {})
    state = _read_build_state(build_db)
    last_full = _parse_time(state.get("last_full_build_at")) if state else None
    sources = lake_source_tables(project_dir)
    previous: Mapping[str, str] = (state or {}).get("listing") or {}
    changed = tuple(sorted(d for d in sources if listing.get(d) != previous.get(d)))

    reason = ""
    if force_full:
        reason = "full build requested"
    elif not Path(build_db).exists():
        reason = "no build database yet"
    elif state is None:
        reason = "no record of a previous build"
    elif state.get("project") != project:
        reason = "the dbt project or its vars changed since the last build"
    elif last_full is None or now - last_full >= full_build_every - FULL_BUILD_MARGIN:
        hours = full_build_every.total_seconds() / 3600
        reason = f"whole-lake verification due (every {hours:g} h)"
    full = bool(reason)
    if not full:
        reason = f"last full build {last_full:%Y-%m-%d %H:%M} UTC"
    return MartsBuildPlan(
        full=full,
        reason=reason,
        changed_datasets=changed,
        planned_at=now,
        listing=listing,
        project=project,
        last_full_build_at=last_full,
        files=files,
    )


def record_marts_build(build_db: Path, plan: MartsBuildPlan) -> None:
    """Remember what a *successful* build saw, for the next :func:`plan_marts_build`.

    The listing is the one taken before the build: a file written during the build
    shows up as a change next time (read again, never missed).  It is kept file by file
    too: the next incremental build reconciles the files changed since with the lake
    (:data:`LAKE_LISTING_BEFORE_ENV`).  Written before the state: a record cut short
    between the two pairs this build's listing with the previous state, so the next
    plan sees more changes than there are, and the reconciliation still starts from a
    build that passed.
    """
    write_lake_listing(plan.files, build_listing_path(build_db))
    last_full = plan.planned_at if plan.full else plan.last_full_build_at
    state = {
        "version": _STATE_VERSION,
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(),
        "last_full_build_at": last_full.isoformat() if last_full else None,
        "project": plan.project,
        "listing": dict(plan.listing),
    }
    atomic.write_bytes(build_state_path(build_db), json.dumps(state, indent=1).encode())


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
    fsync, sanity-open, ``os.replace``, fsync the directory (:func:`atomic.pending`).
    Readers of the old file keep their open inode; readers that open afterwards get the
    new file.
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
    with tempfile.TemporaryDirectory(prefix=".publish-", dir=build_db.parent) as staging:
        portable = _portable_copy(build_db, Path(staging) / build_db.name)
        # atomic.pending: the copy gets the umask's mode (readable by a dashboard running
        # as another user when the umask allows it), and copies that killed publishes
        # left beside the target are removed first (never a live publish's: it holds a
        # lock).
        with atomic.pending(target) as tmp:
            with open(portable, "rb") as src:
                shutil.copyfileobj(src, tmp.handle, length=16 * 1024 * 1024)
            tmp.sync()
            # The copy must open under the published name's catalog: attach it by that name.
            tables, views = _count_relations_as(tmp.path, target.stem)
            tmp.commit()
    return PublishResult(
        build_db=build_db,
        target=target,
        size_bytes=target.stat().st_size,
        seconds=time.perf_counter() - started,
        tables=tables,
        views=views,
    )


def _portable_copy(build_db: Path, destination: Path) -> Path:
    """Rewrite the build database in :data:`PUBLISHED_STORAGE_VERSION`'s format.

    Why: dbt writes the build database in the running DuckDB's newest storage format,
    which older DuckDB clients refuse outright ("can only read versions between 64 and
    67"); the DuckDB CLI and the BI tools' drivers (DBeaver, Metabase, Evidence) lag
    the Python package by a major version.  ``COPY FROM DATABASE`` re-creates every
    schema, table and view in a database attached with that storage version; views keep
    their SQL text, so their catalog-qualified names resolve once the copy is opened
    under the published name.  The build database is attached read-only by its own
    name, the catalog those views name.
    """
    source = '"' + build_db.stem.replace('"', '""') + '"'
    con = duckdb.connect(":memory:", config=_READER_CONFIG)
    try:
        con.execute(f"ATTACH '{_sql_path(build_db)}' AS {source} (READ_ONLY)")
        con.execute(
            f"ATTACH '{_sql_path(destination)}' AS portable_copy "
            f"(STORAGE_VERSION '{PUBLISHED_STORAGE_VERSION}')"
        )
        con.execute(f"COPY FROM DATABASE {source} TO portable_copy")
        _bind_views(con, "portable_copy")
        con.execute("USE memory")
        con.execute("DETACH portable_copy")
    except duckdb.Error as exc:
        raise WarehouseError(
            f"cannot write the marts in DuckDB storage {PUBLISHED_STORAGE_VERSION}: "
            f"{_one_line(exc)}"
        ) from None
    finally:
        con.close()
    return destination


#: Re-creating a view can unbind the views that read it: a bounded number of rounds.
_VIEW_BINDING_ROUNDS = 20


def _bind_views(con: duckdb.DuckDBPyConnection, catalog: str) -> None:
    """Give every view of ``catalog`` its column types, re-creating those without.

    Why: DuckDB 2.0 leaves a view unbound (no stored column types) when a view it
    reads is replaced, which dbt's incremental builds do to the lake views; 2.0 binds
    such a view when it is queried, but DuckDB 1.x refuses it ("Contents of view were
    altered: types don't match! Expected []").  Re-creating a view from its own SQL binds
    it; that may unbind the views that read it, hence the rounds.
    """
    unbound_sql = (
        "select sql from duckdb_views() where database_name = ? and not internal "
        "and column_count is null order by schema_name, view_name"
    )
    con.execute(f"USE {catalog}")
    for _ in range(_VIEW_BINDING_ROUNDS):
        unbound = [str(row[0]) for row in con.execute(unbound_sql, [catalog]).fetchall()]
        if not unbound:
            return
        for sql in unbound:
            con.execute(sql.replace("CREATE VIEW", "CREATE OR REPLACE VIEW", 1))
    names = con.execute(
        "select schema_name || '.' || view_name from duckdb_views() "
        "where database_name = ? and not internal and column_count is null",
        [catalog],
    ).fetchall()
    raise WarehouseError(
        "views without column types after re-creating them: " + ", ".join(str(n[0]) for n in names)
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


#: Set when a reader's in-memory host starts: nothing is downloaded or auto-loaded, and
#: secrets persisted in the user's home are not loaded into it.
_READER_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_persistent_secrets": False,
}
#: Run after the attach, in this order: once external access is off the marts file is
#: the only file the connection can read, and once the configuration is locked nothing
#: can switch access back on.
_READER_LOCKDOWN = ("SET enable_external_access = false", "SET lock_configuration = true")


def _attach_readonly(path: Path, alias: str | None = None) -> duckdb.DuckDBPyConnection:
    """A hardened read-only connection to ``path`` (module docstring), its catalog selected."""
    name = alias or path.stem
    quoted = '"' + name.replace('"', '""') + '"'
    con = duckdb.connect(":memory:", config=_READER_CONFIG)
    try:
        host = con.execute("select current_database()").fetchone()
        con.execute(f"ATTACH '{_sql_path(path)}' AS {quoted} (READ_ONLY)")
        con.execute(f"USE {quoted}")
        if host is not None:
            con.execute('DETACH "' + str(host[0]).replace('"', '""') + '"')
        for statement in _READER_LOCKDOWN:
            con.execute(statement)
    except BaseException:
        con.close()
        raise
    return con


def open_marts_readonly(path: Path) -> duckdb.DuckDBPyConnection:
    """A hardened read-only connection to the published marts, current as of this call.

    Every reader uses this: ``ads-platform sql`` (which also admits one query per
    call), the dashboards, tests.  A connection keeps reading the file it opened until
    it is closed; open a new one to see a later publish.  Raises
    :class:`MartsNotFoundError` with what to do when nothing is published yet.
    """
    path = Path(path)
    if not path.exists():
        raise MartsNotFoundError(f"no marts at {path}: {MISSING_MARTS_HINT}")
    try:
        return _attach_readonly(path)
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open the marts at {path}: {_one_line(exc)}") from None
