"""The dbt marts as Dagster assets, and their publication to analysts.

One ``@dbt_assets`` definition runs ``dbt build`` (models, then their tests, which
Dagster shows as asset checks) into the private build database, in the pool
``duckdb_writer`` so only one process ever writes that DuckDB file (set the pool's
limit to 1 in ``dagster.yaml``).  Only when the whole build passed is the build
database published over ``$ADS_PLATFORM_HOME/marts.duckdb`` (copy, fsync, rename: see
:mod:`ads_platform.warehouse`), so dashboards never see a half-built or untested marts
file and never hit DuckDB's write lock.

Full or incremental: which models run is Dagster's selection - automation requests
the marts downstream of the ingestion assets that materialized (a subset run), the
hourly tick and a manual "materialize all" request them all.  What
:func:`ads_platform.warehouse.plan_marts_build` decides is whether the build is full
(every selected model, every check) or incremental: an incremental build runs every
check too, but the blocking reconciliation of fct_ad_daily with the lake compares only
the lake files changed since the last recorded build instead of every file, and the
test-less views whose build only re-defines them (tag ``definition_only``) are left
out.  A full build runs on the first build,
after a change of the dbt project or its vars, when the run config says
``full_build: true``, and at least every ``full_build_every_hours`` (24 by default):
that is the whole-lake verification, recorded after a successful build of all the
assets.  dbt_project/README.md lists which test runs when.

Why events are yielded only after dbt has exited: the row counts and column schemas
the materializations carry are read from the build database's catalog
(:mod:`.marts_metadata`), which DuckDB lets no other process open while dbt holds its
lock; waiting for dbt (``is_successful()``) also lets them carry the publish metadata.
A successful build is published first, so readers see new marts as soon as dbt is done.

Why dbt runs through :mod:`ads_platform.dbt_with_parent`: a run worker killed with
``kill -9`` cannot stop its dbt child, which then went on running orphaned and holding
DuckDB's write lock on the build database; through the wrapper the kernel kills dbt with
its parent.  The run's ``duckdb_writer`` slot is given back by the ``run_worker_guard``
sensor (:mod:`ads_platform.automation.run_guard`), so the retry or the next build can
start at once.  The publish needs nothing more: it renames a complete, fsynced copy over
the published marts, so a publish killed half-way leaves the last good marts in place.

Manifest: ``@dbt_assets`` needs ``dbt_project/target/manifest.json`` when the definitions
are built (:func:`build_marts_assets`), never at import.  CI and images run ``python -m
ads_platform.assets.marts`` (``scripts/test.sh``, the demo); and if the manifest is
missing or older than the dbt sources, :func:`prepare_manifest` runs ``dbt parse``
(local, no network: the project has no packages) before the assets are built, in
``dagster dev`` as anywhere.  Not dagster-dbt's ``prepare_if_dev()``: under ``dagster
dev`` it let dbt write the manifest in place, and a command loading the definitions at
that moment read half of it (``orjson.JSONDecodeError: unexpected end of data``, seen in
CI on 2026-11-30 while the dev-server test's code server was starting).
"""

import contextlib
import datetime as dt
import fcntl
import functools
import importlib.metadata
import json
import logging
import os
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from packaging import version
from pydantic import Field

from ads_platform import dbt_with_parent
from ads_platform.assets.marts_metadata import read_relation_metadata, relation_of
from ads_platform.datasets import ALERT_LOG, ATTEMPTS
from ads_platform.resources import PlatformResource
from ads_platform.settings import Settings, settings_environ
from ads_platform.warehouse import (
    CLOCK_TAG,
    DBT_DB_ENV,
    DEFAULT_FULL_BUILD_EVERY,
    build_db_path,
    dbt_env,
    dbt_lake_dir,
    dbt_vars,
    lake_listing_env,
    plan_marts_build,
    publish_marts,
    record_marts_build,
)

logger = logging.getLogger(__name__)

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
#: Every writer of the build database runs in this pool (limit 1 in dagster.yaml).
DUCKDB_POOL = "duckdb_writer"
MARTS_GROUP = "marts"
#: The tick of the models whose inputs change without a materialization (:func:`ticks_hourly`).
MARTS_REFRESH_CRON = "0 * * * *"
#: Every model once a day (UTC): one run of all the marts, which is the daily whole-lake
#: verification (``full_build_every_hours``) and the only build recorded as covering the
#: lake; subset runs never are, so without it every build would stay full once it is due.
MARTS_VERIFY_CRON = "0 4 * * *"

_DBT_SOURCE_DIRS = ("models", "macros", "tests")
_DBT_SOURCE_FILES = ("dbt_project.yml", "profiles.yml")


def _manifest_is_stale(project_dir: Path, manifest: Path) -> bool:
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    paths = [project_dir / name for name in _DBT_SOURCE_FILES]
    for folder in _DBT_SOURCE_DIRS:
        paths.extend(p for p in (project_dir / folder).rglob("*") if p.is_file())
    return any(p.exists() and p.stat().st_mtime > built for p in paths)


def prepare_dbt_manifest(
    project_dir: Path = DBT_PROJECT_DIR, *, settings: Settings | None = None, force: bool = False
) -> Path:
    """Run ``dbt parse`` and install ``target/manifest.json`` atomically.

    Parses into a temporary target directory and renames the manifest into place
    under a file lock, so two processes loading the definitions at once never read a
    half-written manifest.  No network and no database connection are needed.  With
    ``settings``, it parses under the dbt environment the asset will use: dbt keys its
    partial parse on the rendered profile (which holds the build path), so every run
    reuses this parse.
    """
    from dbt.cli.main import dbtRunner

    target = project_dir / "target"
    manifest = target / "manifest.json"
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".manifest.lock", "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if not force and not _manifest_is_stale(project_dir, manifest):
            return manifest
        tmp_target = Path(tempfile.mkdtemp(prefix=".parse-", dir=target))
        try:
            # The profile as dbt renders it at run time (the build database named relative
            # to the directory dbt runs in): the partial parse saved here is then valid
            # for every home's first run (dagster-dbt copies it into the run's target).
            env = dbt_env(settings, base={}) if settings else {}
            env[DBT_DB_ENV] = build_db_path(settings or Settings()).name
            with settings_environ(env):
                result = dbtRunner().invoke(
                    [
                        "parse",
                        "--project-dir",
                        str(project_dir),
                        "--profiles-dir",
                        str(project_dir),
                        "--target-path",
                        str(tmp_target),
                        "--log-path",
                        str(tmp_target),
                        "--quiet",
                    ]
                )
            parsed = tmp_target / "manifest.json"
            if not result.success or not parsed.exists():
                raise RuntimeError(f"dbt parse failed in {project_dir}: {result.exception}")
            # dagster-dbt seeds each invocation with target/partial_parse.msgpack.
            with contextlib.suppress(FileNotFoundError):
                os.replace(tmp_target / "partial_parse.msgpack", target / "partial_parse.msgpack")
            os.replace(parsed, manifest)
        finally:
            shutil.rmtree(tmp_target, ignore_errors=True)
    return manifest


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def seed_partial_parse(target_path: Path, project_dir: Path = DBT_PROJECT_DIR) -> None:
    """Copy the project's saved parse into a dbt target directory that has none.

    What dagster-dbt does before each invocation, for dbt runs outside Dagster (the
    marts benchmark, tests that run dbt directly), so they parse as Dagster's runs do.
    """
    saved = project_dir / "target" / "partial_parse.msgpack"
    seeded = target_path / "partial_parse.msgpack"
    if saved.exists() and not seeded.exists():
        target_path.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(saved, seeded)


def prepare_manifest(settings: Settings | None = None) -> Path:
    """The manifest the assets are built from: re-parsed (atomically) whenever it is missing
    or older than the dbt sources; a failed parse keeps a previous manifest."""
    if _manifest_is_stale(DBT_PROJECT_DIR, dbt_project.manifest_path):
        try:
            prepare_dbt_manifest(settings=settings)
        except Exception:
            if not dbt_project.manifest_path.exists():
                raise
            logger.warning("dbt parse failed; loading the previous manifest", exc_info=True)
    return dbt_project.manifest_path


def marts_automation_condition(
    cron: str | None = MARTS_REFRESH_CRON,
) -> dg.AutomationCondition[Any]:
    """Rebuild after an upstream change (and, with ``cron``, at each tick), never while a
    blocking check fails.

    The hourly tick is only for the models with an input no materialization announces
    (:func:`ticks_hourly`); the others follow their inputs, and tick once a day
    (:data:`MARTS_VERIFY_CRON`, the whole-lake verification).  With the hourly tick on
    every model, automation queued a rebuild of nearly all marts at the top of each hour
    with nothing new upstream (issue 10).  A ticking model's rebuild is an upstream change
    for what reads it (data_freshness, the alerts mart, the weekly and monthly reports:
    11 of the 59 models in all).

    Built from eager()'s parts without its ``~any_deps_missing``: the ingestion assets
    are day × account partitioned and most partitions of that grid are never
    materialized (days before an account existed), which would block eager() forever.
    """
    either: dg.AutomationCondition[Any] = (
        dg.AutomationCondition.any_deps_updated() | dg.AutomationCondition.newly_missing()
    )
    if cron is not None:
        either = either | dg.AutomationCondition.cron_tick_passed(cron)
    trigger = either.since_last_handled()
    label = "rebuild after upstream changes" + (f" or at each tick of '{cron}'" if cron else "")
    return (
        trigger
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
        & dg.AutomationCondition.all_deps_blocking_checks_passed()
    ).with_label(f"{label}, unless a blocking check failed")


def ticks_hourly(dbt_resource_props: Mapping[str, Any]) -> bool:
    """Whether a model needs the hourly tick: an input changes without a materialization.

    The clock (tag ``clock``: ``fct_reach``'s ``is_complete``, ``dim_calendar``'s days),
    or the platform's own logs, which a failed ingestion or an alert sensor appends to
    without materializing anything, and which data_freshness must still learn about
    ("data as of Tuesday: token expired").
    """
    if CLOCK_TAG in (dbt_resource_props.get("tags") or []):
        return True
    logs = {ATTEMPTS.name, ALERT_LOG.name}
    parents = (dbt_resource_props.get("depends_on") or {}).get("nodes") or []
    return any(p.startswith("source.") and p.rsplit(".", 1)[-1] in logs for p in parents)


class MartsTranslator(DagsterDbtTranslator):
    """dbt nodes → Dagster assets: keys by layer, one group, the marts automation.

    Keys are ``[layer, model]`` (``marts/token_health``, ``staging/stg_ads``) so that a
    mart never collides with the ingestion asset it is built from (the ``token_health``
    mart vs the ``token_health`` ingestion asset).
    """

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props.get("resource_type") == "source":
            return super().get_asset_key(dbt_resource_props)
        fqn = dbt_resource_props.get("fqn") or []
        layer = fqn[1] if len(fqn) > 2 else MARTS_GROUP
        return dg.AssetKey([layer, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return MARTS_GROUP

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition[Any] | None:
        return marts_automation_condition(
            MARTS_REFRESH_CRON if ticks_hourly(dbt_resource_props) else MARTS_VERIFY_CRON
        )


marts_translator = MartsTranslator(
    settings=DagsterDbtTranslatorSettings(
        # ad_insights_daily and account_insights_daily are written by one asset.
        enable_duplicate_source_asset_keys=True,
    )
)


def _vars_args(wanted: Mapping[str, Any], project_dir: Path = DBT_PROJECT_DIR) -> list[str]:
    """``--vars`` only for values that differ from dbt_project.yml.

    Passing vars that equal the defaults would still invalidate dbt's partial parse
    (a few seconds per run), because the manifest was parsed without them.
    """
    declared = yaml.safe_load((project_dir / "dbt_project.yml").read_text()).get("vars", {})
    changed = {k: v for k, v in wanted.items() if declared.get(k) != v}
    return ["--vars", json.dumps(changed)] if changed else []


class MartsBuildConfig(dg.Config):
    """Run config of the marts asset (the defaults are what automation runs)."""

    full_build: bool = Field(
        default=False,
        description="Build every model and run every test, the reconciliation of "
        "fct_ad_daily with every lake file included, whatever changed.",
    )
    full_build_every_hours: float = Field(
        default=DEFAULT_FULL_BUILD_EVERY.total_seconds() / 3600,
        gt=0,
        description="A full build (the whole-lake verification) runs at least this often; "
        "the builds in between are incremental.",
    )


def _with_metadata(event: Any, metadata: Mapping[str, Any]) -> Any:
    if isinstance(event, dg.Output):
        return event.with_metadata({**event.metadata, **metadata})
    return event


def build_marts_assets(settings: Settings | None = None) -> dg.AssetsDefinition:
    """``marts_dbt_assets`` from a current manifest (see :func:`prepare_manifest`)."""
    manifest = prepare_manifest(settings)

    @dbt_assets(
        manifest=manifest,
        project=dbt_project,
        dagster_dbt_translator=marts_translator,
        pool=DUCKDB_POOL,
        name="marts_dbt_assets",
    )
    def marts_dbt_assets(
        context: dg.AssetExecutionContext,
        dbt: DbtCliResource,
        platform: PlatformResource,
        config: MartsBuildConfig,
    ) -> Iterator[Any]:
        """``dbt build`` (full or incremental) into the build database, then publish it."""
        settings = platform.settings()
        env = dbt_env(settings, base={})
        build_db = build_db_path(settings)
        # A subset run (automation after an ingestion requests what it feeds; the UI can
        # pick any) builds only some models: it is not recorded as a build of the lake.
        # Not a comparison with ``context.assets_def``'s keys: in a subset run that is the
        # subset itself.
        subset = bool(context.is_subset)
        plan = plan_marts_build(
            build_db=build_db,
            lake_dir=dbt_lake_dir({**os.environ, **env}),
            project_dir=DBT_PROJECT_DIR,
            vars_=dbt_vars(settings),
            force_full=config.full_build,
            full_build_every=dt.timedelta(hours=config.full_build_every_hours),
        )
        context.log.info(("subset " if subset else "") + plan.describe())
        # dagster-dbt adds the selection of the run's assets and checks; --exclude composes
        # with it (a --select here would be unioned with it instead).
        args = ["build", *plan.exclude_args, *_vars_args(dbt_vars(settings))]
        env.update(lake_listing_env(plan, build_db))  # dbt need not list the lake again
        env.update(_dbt_child_env())
        # A stable target path (runs are serialized by the pool) keeps dbt's partial parse.
        target_path = build_db.parent / "dbt_target"
        with settings_environ(env):
            invocation = dbt.cli(
                args, context=context, raise_on_error=False, target_path=target_path
            )
        succeeded = invocation.is_successful()  # waits: dbt and its DuckDB lock are gone
        if not succeeded:
            yield from _events_with_metadata(invocation, build_db)
            error = invocation.get_error()
            raise dg.Failure(
                description="dbt build failed; the published marts were left unchanged.",
                metadata={"error": str(error) if error else "unknown"},
            )
        if not subset:
            record_marts_build(build_db, plan)
        result = publish_marts(build_db, settings.marts_path)
        context.log.info(
            f"published {result.tables} tables and {result.views} views to {result.target} "
            f"({result.size_bytes / 1e6:.1f} MB in {result.seconds:.2f}s)"
        )
        events = _events_with_metadata(invocation, build_db)
        published = {
            "published_path": str(result.target),
            "published_bytes": result.size_bytes,
            **plan.as_metadata(),
        }
        for event in events:
            yield _with_metadata(event, published)

    return marts_dbt_assets


def _events_with_metadata(invocation: Any, build_db: Path) -> list[Any]:
    """dbt's events, each model's with its row count and column schema.

    Read from the build database in one connection (:mod:`.marts_metadata`), not by
    dagster-dbt's per-model fetchers.  No column lineage: dagster-dbt derives it by
    parsing each model's SQL with sqlglot, which cannot follow every model (``select *``
    over a view: "projection_reachability requires star-free selections", issue 10) and
    logged a traceback into a healthy run.  The lineage between models (the asset
    graph) is unaffected.
    """
    events = list(invocation.stream())
    relations = read_relation_metadata(build_db)
    manifest = invocation.manifest
    return [
        _with_metadata(event, relations.get(relation_of(event, manifest) or ("", ""), {}))
        for event in events
    ]


def _dbt_executable() -> str:
    """The dbt installed beside this Python (a venv that is not activated has no PATH)."""
    scripts = Path(sysconfig.get_path("scripts"))  # the venv's bin, even via a symlinked python
    for candidate in (scripts / "dbt", Path(sys.executable).with_name("dbt")):
        if candidate.exists():
            return str(candidate)
    return "dbt"


def _dbt_child_env() -> dict[str, str]:
    """What :mod:`ads_platform.dbt_with_parent` needs: the real dbt, and who its parent is."""
    return {
        dbt_with_parent.DBT_EXECUTABLE_ENV: _dbt_executable(),
        dbt_with_parent.PARENT_PID_ENV: str(os.getpid()),
    }


def _guarded_dbt_executable() -> str:
    """dbt started through :mod:`ads_platform.dbt_with_parent`, so it dies with the run.

    Falls back to plain dbt (with a warning) if the wrapper lost its executable bit, e.g.
    in a copy that did not keep file modes: the marts still build, but a killed run
    worker would leave its dbt running.
    """
    wrapper = Path(dbt_with_parent.__file__)
    if os.access(wrapper, os.X_OK):
        return str(wrapper)
    logger.warning("%s is not executable: dbt will not die with a killed run worker", wrapper)
    return _dbt_executable()


class MartsDbtCliResource(DbtCliResource):
    """dagster-dbt's CLI resource without the dbt adapter it starts in the run worker.

    That in-process adapter only serves dagster-dbt's metadata fetchers, which the marts
    do not use (:mod:`.marts_metadata` reads the catalog instead); starting it loaded
    the profile and the adapter again in every marts run (2.4 s of a build, measured
    with py-spy) and opened the build database from the run worker.  The override of a
    private method is pinned by the lock and attacked by
    ``test_a_marts_run_starts_no_dbt_adapter_in_the_run_worker``.
    """

    def _initialize_dbt_core_adapter(self, args: Any) -> Any:
        del args
        return None

    @functools.cached_property
    def _cli_version(self) -> version.Version:
        """dbt-core's version from this environment's package metadata.

        dagster-dbt asks the executable (``dbt --version``: a whole dbt start-up, about
        2 s before every marts build, because the resource is made anew per run).  The
        executable here is always this environment's dbt-core, started by
        :mod:`ads_platform.dbt_with_parent`, so its version is the installed package's.
        """
        return version.parse(importlib.metadata.version("dbt-core"))


def dbt_resource() -> DbtCliResource:
    """The dbt CLI resource for ``marts_dbt_assets`` (resource key ``dbt``).

    Every dbt it starts dies with the process that started it (see
    :mod:`ads_platform.dbt_with_parent`): a killed run worker must not leave a dbt
    holding DuckDB's write lock on the build database.
    """
    return MartsDbtCliResource(
        project_dir=dbt_project,  # type: ignore[arg-type]  # its __init__ takes a DbtProject
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=_guarded_dbt_executable(),
    )


if __name__ == "__main__":
    from ads_platform.settings import definition_settings

    print(prepare_manifest(definition_settings()))
