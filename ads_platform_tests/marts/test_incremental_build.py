"""Full vs incremental marts builds: the plan, and what the Dagster asset does with it.

The plan tests need no dbt.  The build tests share one small lake and run the Dagster
asset like automation does (no run config): the first build is full, later builds
select what the changed lake datasets feed.  After every build the published marts
must equal the lake, every check the run selected must have run (none "Skipped"), and
at the end the incrementally maintained tables must equal a from-scratch rebuild
(``dbt build --full-refresh``) row for row, and an incremental build whose changed
slice disagrees with the lake must fail its blocking reconciliation and publish nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ads_platform.warehouse import (
    BUILD_LISTING_NAME,
    BUILD_STATE_NAME,
    LAKE_LISTING_BEFORE_ENV,
    lake_listing_env,
    open_marts_readonly,
    plan_marts_build,
    record_marts_build,
)
from ads_platform_tests.marts.lake_fixture import (
    ACCOUNTS,
    DAYS,
    DBT_PROJECT_DIR,
    LakeBuilder,
    run_dbt,
)
from ads_platform_tests.marts.test_marts import _assert_equal_to_lake, _rows

# -- the plan (no dbt) ---------------------------------------------------------------------


def _touch(path: Path, seconds_ago: float = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PAR1")  # the listing never opens a file
    when = time.time() - seconds_ago
    os.utime(path, (when, when))


@pytest.fixture
def small_lake(tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    _touch(lake / "ad_insights_daily/account_id=act_1/date=2026-01-01/data.parquet", 60)
    _touch(lake / "account_insights_daily/account_id=act_1/date=2026-01-01/data.parquet", 60)
    _touch(lake / "campaigns/account_id=act_1/data.parquet", 60)
    (tmp_path / "warehouse").mkdir()
    (tmp_path / "warehouse" / "marts.duckdb").write_bytes(b"")  # "a build database exists"
    return tmp_path


def _plan(home: Path, **kwargs: Any) -> Any:
    return plan_marts_build(
        build_db=home / "warehouse" / "marts.duckdb",
        lake_dir=home / "lake",
        project_dir=DBT_PROJECT_DIR,
        **kwargs,
    )


def test_first_build_is_full(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert plan.full and plan.dbt_args == ("build",)
    assert plan.reason == "no build database yet"


def test_no_record_means_full(small_lake: Path) -> None:
    plan = _plan(small_lake)
    assert plan.full and plan.reason == "no record of a previous build"


def test_unchanged_lake_builds_only_the_clock_models(small_lake: Path) -> None:
    record_marts_build(small_lake / "warehouse" / "marts.duckdb", _plan(small_lake))
    assert (small_lake / "warehouse" / BUILD_STATE_NAME).exists()
    plan = _plan(small_lake)
    assert not plan.full
    assert plan.changed_datasets == ()
    assert plan.dbt_args == (
        "build",
        "--select",
        "tag:clock",
        "--exclude",
        "tag:definition_only",
    )


def test_a_re_pulled_day_selects_what_its_datasets_feed(small_lake: Path) -> None:
    record_marts_build(small_lake / "warehouse" / "marts.duckdb", _plan(small_lake))
    lake = small_lake / "lake"
    _touch(lake / "ad_insights_daily/account_id=act_1/date=2026-01-01/data.parquet")
    _touch(lake / "account_insights_daily/account_id=act_1/date=2026-01-02/data.parquet")
    _touch(lake / "not_a_source/x.parquet")  # not a dbt source: ignored
    plan = _plan(small_lake)
    assert not plan.full
    assert plan.changed_datasets == ("account_insights_daily", "ad_insights_daily")
    assert plan.dbt_args[1:3] == (
        "--select",
        "source:lake.account_insights_daily+ source:lake.ad_insights_daily+ tag:clock",
    )
    # Not recorded (the build failed): the next plan sees the same changes.
    assert _plan(small_lake).changed_datasets == plan.changed_datasets


def test_a_deleted_file_is_a_change(small_lake: Path) -> None:
    record_marts_build(small_lake / "warehouse" / "marts.duckdb", _plan(small_lake))
    shutil.rmtree(small_lake / "lake" / "campaigns")
    assert _plan(small_lake).changed_datasets == ("campaigns",)


def test_project_vars_or_a_missing_database_force_a_full_build(small_lake: Path) -> None:
    build_db = small_lake / "warehouse" / "marts.duckdb"
    record_marts_build(build_db, _plan(small_lake, vars_={"attribution_windows": ["7d_click"]}))
    assert not _plan(small_lake, vars_={"attribution_windows": ["7d_click"]}).full
    changed = _plan(small_lake, vars_={"attribution_windows": ["1d_click"]})
    assert changed.full and "vars changed" in changed.reason
    build_db.unlink()
    assert _plan(small_lake, vars_={"attribution_windows": ["7d_click"]}).full


def test_the_whole_lake_verification_runs_daily(small_lake: Path) -> None:
    build_db = small_lake / "warehouse" / "marts.duckdb"
    start = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    record_marts_build(build_db, _plan(small_lake, now=start))  # a full build
    later = _plan(small_lake, now=start + dt.timedelta(hours=23))
    assert not later.full
    record_marts_build(build_db, later)  # an incremental build keeps the full build's time
    due = _plan(small_lake, now=start + dt.timedelta(hours=24))
    assert due.full and "verification due" in due.reason
    # The next day's run of every mart, ticked a few minutes earlier than yesterday's.
    early = _plan(small_lake, now=start + dt.timedelta(hours=23, minutes=45))
    assert early.full and "verification due" in early.reason
    assert _plan(small_lake, force_full=True, now=start).reason == "full build requested"


def test_only_an_incremental_build_narrows_the_reconciliation_to_the_changes(
    small_lake: Path,
) -> None:
    build_db = small_lake / "warehouse" / "marts.duckdb"
    full = _plan(small_lake)
    assert LAKE_LISTING_BEFORE_ENV not in lake_listing_env(full, build_db)  # the whole lake
    record_marts_build(build_db, full)
    recorded = small_lake / "warehouse" / BUILD_LISTING_NAME
    assert "act_1/date=2026-01-01/data.parquet" in recorded.read_text()
    incremental = _plan(small_lake)
    assert not incremental.full
    assert lake_listing_env(incremental, build_db)[LAKE_LISTING_BEFORE_ENV] == str(recorded)
    forced = _plan(small_lake, force_full=True)
    assert LAKE_LISTING_BEFORE_ENV not in lake_listing_env(forced, build_db)
    recorded.unlink()  # no record of what the last build saw: compare the whole lake
    assert LAKE_LISTING_BEFORE_ENV not in lake_listing_env(incremental, build_db)


# -- builds through the Dagster asset ------------------------------------------------------


@dataclass
class Home:
    home: Path
    builder: LakeBuilder
    config: Path
    #: dbt's run_results.json of each build (per node), by the name of its fixture.
    run_results: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The build record (marts_build_state.json) after each build.
    records: dict[str, str] = field(default_factory=dict)

    def lake_files_read(self, build: str, node: str) -> set[str]:
        """The lake files a node of a build named in its SQL (none: the whole dataset)."""
        compiled = self.run_results[build][node]["compiled_code"]
        lake = str((self.home / "lake").resolve()) + "/"
        return {f.removeprefix(lake) for f in re.findall(r"'([^']+\.parquet)'", compiled)}

    def insights_file(self, account_id: str, day: dt.date) -> str:
        """An ad_insights_daily file, as lake_files_read() names it."""
        path = self.builder.lake.partition_path("ad_insights_daily", account_id, day)
        return str(path.relative_to(self.home / "lake"))

    def seconds(self, build: str, node: str) -> float:
        return float(self.run_results[build][node]["execution_time"])

    @property
    def marts(self) -> Path:
        return self.home / "marts.duckdb"


def _age_lake(root: Path, seconds: int = 120) -> None:
    """As if ingested a while before the build (see the 2-second rule of the plan)."""
    old = time.time() - seconds
    for path in root.rglob("*.parquet"):
        if path.stat().st_mtime > old:
            os.utime(path, (old, old))


def _downstream_of(*ingestion_assets: str) -> set[Any]:
    """The marts automation requests after these ingestion assets materialized."""
    import dagster as dg

    from ads_platform_tests.platform_defs import marts_dbt_assets

    deps = marts_dbt_assets.asset_deps
    wanted = {dg.AssetKey([name]) for name in ingestion_assets}
    grown = True
    while grown:
        more = {key for key, upstream in deps.items() if upstream & wanted} - wanted
        wanted |= more
        grown = bool(more)
    return wanted & set(marts_dbt_assets.keys)


def _materialize(
    home: Home, name: str, subset: set[Any] | None = None, *, succeeds: bool = True
) -> Any:
    import dagster as dg

    from ads_platform.assets.marts import dbt_resource
    from ads_platform.resources import PlatformResource
    from ads_platform_tests.platform_defs import marts_dbt_assets

    _age_lake(home.home / "lake")
    result = dg.materialize(
        [marts_dbt_assets],
        resources={
            "dbt": dbt_resource(),
            "platform": PlatformResource(config_path=str(home.config)),
        },
        selection=dg.AssetSelection.assets(*subset) if subset is not None else None,
        raise_on_error=succeeds,
    )
    assert result.success is succeeds
    run_results = home.home / "warehouse" / "dbt_target" / "run_results.json"
    home.run_results[name] = {
        r["unique_id"].split(".")[2]: r for r in json.loads(run_results.read_text())["results"]
    }
    home.records[name] = (home.home / "warehouse" / BUILD_STATE_NAME).read_text()
    return result


def _materialized(result: Any) -> dict[str, Any]:
    return {
        m.asset_key.to_user_string(): m
        for m in result.asset_materializations_for_node("marts_dbt_assets")
    }


def _checks(result: Any) -> set[str]:
    return {c.check_name for c in result.get_asset_check_evaluations()}


RECONCILIATION = "assert_fct_ad_daily_matches_lake"


def _assert_every_selected_check_ran_and_passed(result: Any, assets: set[Any]) -> None:
    """No check of the built assets is left out ("Skipped" in Dagster), the blocking
    reconciliation of fct_ad_daily with the lake included."""
    from ads_platform_tests.platform_defs import marts_dbt_assets

    evaluations = result.get_asset_check_evaluations()
    assert all(e.passed for e in evaluations)
    selected = {s.name for s in marts_dbt_assets.check_specs if s.asset_key in assets}
    assert RECONCILIATION in selected
    assert {e.check_name for e in evaluations} == selected


def _assert_marts_equal_the_lake(home: Home) -> None:
    con = open_marts_readonly(home.marts)
    try:
        _assert_equal_to_lake(con, home.builder)
    finally:
        con.close()


@pytest.fixture(scope="module")
def lake_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    home = tmp_path_factory.mktemp("incremental_home")
    builder = LakeBuilder(home)
    builder.write_accounts()
    for account_id in ACCOUNTS:
        builder.write_entities(account_id)
        for day in DAYS:
            builder.write_day(account_id, day, builder.ad_rows(account_id, day))
        builder.write_attempts(
            account_id, [("ad_insights_daily", d, "success", None, "") for d in DAYS]
        )
        builder.write_token_check(account_id, valid=True, days_left=40)
    config = home / "ads_platform.yaml"
    config.write_text(f"home: {home}\n")
    return Home(home, builder, config)


@pytest.fixture(scope="module")
def first(lake_home: Home) -> Any:
    return _materialize(lake_home, "first")


def test_the_first_asset_build_is_full(lake_home: Home, first: Any) -> None:
    from ads_platform_tests.platform_defs import marts_dbt_assets

    built = _materialized(first)
    assert built["marts/fct_ad_daily"].metadata["marts_build_mode"].value == "full"
    assert len(built) == len(marts_dbt_assets.keys)
    _assert_every_selected_check_ran_and_passed(first, set(marts_dbt_assets.keys))
    # A full build reconciles with every lake file (the dataset), not a list of files.
    assert lake_home.lake_files_read("first", RECONCILIATION) == set()
    assert (lake_home.home / "warehouse" / BUILD_STATE_NAME).exists()
    assert (lake_home.home / "warehouse" / BUILD_LISTING_NAME).exists()
    # dbt reused the parse shipped with the project although this home is new: the
    # profile it renders (build database named relative to its directory) is the same.
    dbt_log = (lake_home.home / "warehouse" / "dbt_target" / "dbt.log").read_text()
    assert "Partial parsing enabled, no changes found, skipping parsing" in dbt_log
    _assert_marts_equal_the_lake(lake_home)


@pytest.fixture(scope="module")
def re_pulled(lake_home: Home, first: Any) -> Any:
    """Re-pull one day of act_101 (conversions matured); automation's subset run."""
    builder = lake_home.builder
    builder.write_day("act_101", DAYS[1], builder.ad_rows("act_101", DAYS[1], boost=3), "run-2")
    builder.write_attempts("act_101", [("ad_insights_daily", DAYS[1], "success", None, "")])
    return _materialize(lake_home, "re_pulled", _downstream_of("ad_insights_daily"))


def test_a_re_pulled_day_is_an_incremental_build(lake_home: Home, re_pulled: Any) -> None:
    built = _materialized(re_pulled)
    assert built["marts/fct_ad_daily"].metadata["marts_build_mode"].value == "incremental"
    assert built["marts/fct_ad_daily"].metadata["marts_changed_datasets"].value == (
        "account_insights_daily, ad_insights_daily, ingestion_attempts"
    )
    expected = {k.to_user_string() for k in _downstream_of("ad_insights_daily")} - {
        "staging/stg_ad_insights_daily",  # tag definition_only: nothing to do
        "intermediate/int_ad_conversions_daily",
    }
    assert set(built) == expected
    _assert_every_selected_check_ran_and_passed(re_pulled, _downstream_of("ad_insights_daily"))
    # A subset run is not recorded as a build of the lake.
    assert lake_home.records["re_pulled"] == lake_home.records["first"]
    checks = _checks(re_pulled)
    assert "assert_reports_reconcile_across_grains" in checks
    assert any(name.startswith("matches_lake_listing_fct_ad_daily") for name in checks)
    # The reconciliation reads the one re-pulled file, like the model, not the six.
    re_pulled_file = lake_home.insights_file("act_101", DAYS[1])
    assert lake_home.lake_files_read("re_pulled", "fct_ad_daily") == {re_pulled_file}
    assert lake_home.lake_files_read("re_pulled", RECONCILIATION) == {re_pulled_file}
    _assert_marts_equal_the_lake(lake_home)


@pytest.fixture(scope="module")
def hourly(lake_home: Home, re_pulled: Any) -> Any:
    """The hourly tick (every marts asset) after entity and insight changes.

    A campaign and an ad set renamed, a day whose file is gone, a failed attempt.
    """
    builder = lake_home.builder
    builder.write_entities("act_101", {"1001": "Summer sale", "2002": "Retargeting"})
    builder.lake.delete(builder.lake.partition_path("ad_insights_daily", "act_202", DAYS[0]))
    del builder.state.rows[("act_202", DAYS[0])]
    builder.write_attempts(
        "act_202", [("ad_insights_daily", DAYS[2], "failed", "auth", "token expired")]
    )
    return _materialize(lake_home, "hourly")


def test_the_hourly_build_of_every_asset_is_incremental_too(lake_home: Home, hourly: Any) -> None:
    from ads_platform_tests.platform_defs import marts_dbt_assets

    built = _materialized(hourly)
    assert built["marts/fct_ad_daily"].metadata["marts_build_mode"].value == "incremental"
    assert len(built) == len(marts_dbt_assets.keys) - 2  # the definition_only views
    _assert_every_selected_check_ran_and_passed(hourly, set(marts_dbt_assets.keys))
    # Changed since the last recorded build (the first: subset runs are not recorded):
    # the day re-pulled before, and the deleted day (none of its rows may be left).
    assert lake_home.lake_files_read("hourly", RECONCILIATION) == {
        lake_home.insights_file("act_101", DAYS[1]),
        lake_home.insights_file("act_202", DAYS[0]),
    }
    _assert_marts_equal_the_lake(lake_home)
    con = open_marts_readonly(lake_home.marts)
    try:
        freshness = _rows(
            con, "select last_attempt_status from data_freshness where account_id = 'act_202'"
        )
        assert freshness == [{"last_attempt_status": "failed"}]
    finally:
        con.close()


def test_renames_reach_every_day_of_the_incremental_reports(lake_home: Home, hourly: Any) -> None:
    con = open_marts_readonly(lake_home.marts)
    try:
        for table in ("rpt_campaign_daily", "rpt_ad_set_daily", "rpt_ad_daily"):
            names = _rows(
                con, f"select distinct campaign_name from {table} where campaign_id = '1001'"
            )
            assert names == [{"campaign_name": "Summer sale"}], table
        ad_sets = _rows(
            con, "select distinct ad_set_name from rpt_ad_set_daily where ad_set_id = '2002'"
        )
        assert ad_sets == [{"ad_set_name": "Retargeting"}]
        for table in ("fct_ad_daily", "rpt_account_daily", "rpt_campaign_daily", "rpt_ad_daily"):
            gone = _rows(
                con,
                f"select count(*) as n from {table} "
                f"where account_id = 'act_202' and date_day = date '{DAYS[0]}'",
            )
            assert gone == [{"n": 0}], table
    finally:
        con.close()


#: Columns that record when something was built, not what: they differ after a rebuild.
BOOKKEEPING = {"built_at", "source_built_at", "account_level_built_at"}
INCREMENTAL_TABLES = (
    "fct_ad_daily",
    "staging.stg_account_insights_daily",
    "rpt_account_daily",
    "rpt_campaign_daily",
    "rpt_ad_set_daily",
)


def _table_contents(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for table in INCREMENTAL_TABLES:
            columns = [
                r[0] for r in con.execute(f"describe {table}").fetchall() if r[0] not in BOOKKEEPING
            ]
            listed = ", ".join(f'"{c}"' for c in sorted(columns))
            out[table] = con.execute(f"select {listed} from {table} order by all").fetchall()
        return out
    finally:
        con.close()


def test_incremental_tables_equal_a_rebuild_from_scratch(
    lake_home: Home, hourly: Any, tmp_path: Path
) -> None:
    build_db = lake_home.home / "warehouse" / "marts.duckdb"
    incremental = tmp_path / "incremental.duckdb"
    shutil.copy(build_db, incremental)
    rebuilt = run_dbt(lake_home.home, "build", "--full-refresh")
    assert rebuilt.returncode == 0, rebuilt.stdout[-4000:]
    scratch = _table_contents(build_db)
    kept = _table_contents(incremental)
    for table in INCREMENTAL_TABLES:
        assert kept[table], table
        assert kept[table] == scratch[table], table


def _published(path: Path) -> tuple[int, int, list[tuple[Any, ...]]]:
    con = open_marts_readonly(path)
    try:
        totals = con.execute(
            "select account_id, date_day, sum(spend), sum(impressions) from fct_ad_daily "
            "group by all order by all"
        ).fetchall()
    finally:
        con.close()
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns, totals


def test_an_incremental_build_whose_changed_slice_disagrees_with_the_lake_publishes_nothing(
    lake_home: Home, hourly: Any
) -> None:
    """The attack: a day is re-pulled with new numbers, and fct_ad_daily is made to
    believe it already holds that version of the file (its rows get the new file's
    modification time, in the build database) - a plan that misses a changed file.  The
    model then re-reads nothing, and its lineage test (metadata only) sees nothing wrong;
    only the reconciliation, whose scope comes from the lake listings (changed since the
    last recorded build) and not from what the model re-read, compares the slice.  It
    must fail, be a blocking check, and leave the published marts and the build record
    as they were."""
    from ads_platform_tests.platform_defs import marts_dbt_assets

    home = lake_home.home
    build_db = home / "warehouse" / "marts.duckdb"
    before = _published(lake_home.marts)
    state = (home / "warehouse" / BUILD_STATE_NAME).read_text()
    builder = lake_home.builder
    day = DAYS[2]
    path = builder.lake.partition_path("ad_insights_daily", "act_101", day)
    pulled_before = path.stat().st_mtime
    builder.write_day("act_101", day, builder.ad_rows("act_101", day, boost=7), "run-3")
    moved = int(pulled_before) - 1000  # whole seconds, older than any build: no 2 s rule
    os.utime(path, (moved, moved))
    con = duckdb.connect(str(build_db))
    try:
        con.execute(
            "update fct_ad_daily set lake_file_modified_at = to_timestamp(?) "
            "where account_id = 'act_101' and date_day = ?",
            [moved, day],
        )
    finally:
        con.close()

    result = _materialize(lake_home, "tampered", succeeds=False)  # the hourly tick: all assets

    assert lake_home.lake_files_read("tampered", "fct_ad_daily") == set()
    assert lake_home.lake_files_read("tampered", RECONCILIATION) == {
        lake_home.insights_file("act_101", day)
    }
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not evaluations[RECONCILIATION].passed
    lineage = [e for name, e in evaluations.items() if name.startswith("matches_lake_listing_fct")]
    assert lineage and all(e.passed for e in lineage)
    spec = next(s for s in marts_dbt_assets.check_specs if s.name == RECONCILIATION)
    assert spec.blocking
    assert _published(lake_home.marts) == before
    assert lake_home.records["tampered"] == state
