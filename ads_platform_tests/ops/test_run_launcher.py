"""Runs launched without a daemon execute side by side in forked children.

The property ``ads-platform backfill --wait`` relies on (ads_platform/run_launcher.py):
several accounts' runs are in flight at once, each fills the lake with the truth, and a
child killed in the middle of its run fails that run with the cause, so the backfill
ends and the next one fills the partitions it left.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from ads_platform import backfill
from ads_platform.backfill import launching_instance
from ads_platform.days import days_between
from ads_platform.demo import install_instance_config
from ads_platform.partitions import key_for
from ads_platform.run_launcher import ForkingRunLauncher
from ads_platform_tests.conftest import SANDBOX_TODAY, Platform
from ads_platform_tests.e2e.helpers import setup_accounts, stored_daily_totals, truth_daily
from ads_platform_tests.launch import backfill_through_daemon

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]

DAYS = 3
UNTIL = SANDBOX_TODAY - dt.timedelta(days=1)
SINCE = UNTIL - dt.timedelta(days=DAYS - 1)


@pytest.fixture
def forking(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dg.DagsterInstance]:
    """The instance the CLI opens to execute a backfill itself: the shipped dagster.yaml,
    runs launched in forked children."""
    dagster_home = tmp_path / "dagster_home"
    install_instance_config(dagster_home)
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    with launching_instance(dagster_home) as instance:
        platform.instance = instance
        setup_accounts(platform, entities=False)
        yield instance


def keys_of(accounts: list[str]) -> list[str]:
    return [str(key_for(a, SINCE + dt.timedelta(days=i))) for a in accounts for i in range(DAYS)]


def run_days(run: dg.DagsterRun) -> set[str]:
    """The days a range run covers (its range tags' date dimension)."""
    start = run.tags[ASSET_PARTITION_RANGE_START_TAG].split("|")[1]
    end = run.tags[ASSET_PARTITION_RANGE_END_TAG].split("|")[1]
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return {str(first + dt.timedelta(days=i)) for i in range((last - first).days + 1)}


def assert_lake_equals_truth(platform: Platform, account: str) -> None:
    stored = stored_daily_totals(platform, account)
    truth = truth_daily(platform, account, SINCE, UNTIL)
    for day, expected in truth.items():
        got = stored[day]
        assert (got["spend"], got["impressions"]) == (expected["spend"], expected["impressions"])


def test_accounts_runs_are_in_flight_at_the_same_time_and_each_fills_the_lake_with_the_truth(
    platform: Platform, forking: dg.DagsterInstance
) -> None:
    assert isinstance(forking.run_launcher, ForkingRunLauncher)
    assert forking.run_launcher.max_parallel == 4  # the shipped run queue's limit
    platform.sandbox.add_fault("timeout", seconds=0.6)  # every answer takes 0.6 s
    status = backfill_through_daemon(
        forking, keys_of(platform.accounts), ["ad_insights_daily"], backfill_id="side-by-side"
    )
    assert status == BulkActionStatus.COMPLETED_SUCCESS
    records = forking.get_run_records(
        filters=dg.RunsFilter(tags={"dagster/backfill": "side-by-side"})
    )
    assert len(records) >= 2
    spans = sorted((r.start_time, r.end_time) for r in records)
    assert all(start is not None and end is not None for start, end in spans)
    overlapping = sum(1 for (_s, end), (start, _e) in itertools.pairwise(spans) if start < end)
    assert overlapping >= 1, spans
    for account in platform.accounts:
        assert_lake_equals_truth(platform, account)


def test_a_run_whose_process_is_killed_is_failed_with_the_cause_and_the_next_backfill_fills_it(
    platform: Platform, forking: dg.DagsterInstance
) -> None:
    launcher = forking.run_launcher
    assert isinstance(launcher, ForkingRunLauncher)
    victim = platform.accounts[0]
    platform.sandbox.add_fault("timeout", account_id=victim, seconds=1.5)
    killed: list[str] = []

    def kill_the_victims_run() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            for pid, run_id in launcher.children().items():
                run = forking.get_run_by_id(run_id)
                if run is not None and victim in run.tags.get(ASSET_PARTITION_RANGE_START_TAG, ""):
                    time.sleep(0.5)  # inside its first slow request
                    os.kill(pid, signal.SIGKILL)
                    killed.append(run_id)
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_victims_run)
    killer.start()
    status = backfill_through_daemon(
        forking, keys_of(platform.accounts), ["ad_insights_daily"], backfill_id="killed"
    )
    killer.join()
    assert killed, "the victim's run was never seen running"
    assert status != BulkActionStatus.COMPLETED_SUCCESS
    run = forking.get_run_by_id(killed[0])
    assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
    failure = forking.get_records_for_run(
        killed[0], of_type=dg.DagsterEventType.RUN_FAILURE
    ).records
    assert "SIGKILL" in failure[-1].event_log_entry.dagster_event.message  # type: ignore[union-attr]
    others = forking.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": "killed"}))
    assert {r.status for r in others if r.run_id != killed[0]} == {dg.DagsterRunStatus.SUCCESS}
    materialized = set(forking.get_materialized_partitions(dg.AssetKey("ad_insights_daily")))
    missing = sorted(set(keys_of(platform.accounts)) - materialized)
    assert missing and all(victim in key or key.split("|")[1] in run_days(run) for key in missing)

    platform.sandbox.clear_faults()
    again = backfill_through_daemon(forking, missing, ["ad_insights_daily"], backfill_id="again")
    assert again == BulkActionStatus.COMPLETED_SUCCESS
    for account in platform.accounts:
        assert_lake_equals_truth(platform, account)


def test_while_every_slot_is_taken_the_command_still_says_its_progress(
    platform: Platform, forking: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    launcher = forking.run_launcher
    assert isinstance(launcher, ForkingRunLauncher)
    launcher.max_parallel = 1
    platform.sandbox.add_fault("timeout", seconds=0.6)
    launching = [False]
    said_while_launching: list[bool] = []
    launch = launcher.launch_run

    def watched_launch(context: Any) -> None:
        launching[0] = True
        try:
            launch(context)
        finally:
            launching[0] = False

    monkeypatch.setattr(launcher, "launch_run", watched_launch)
    status = backfill_through_daemon(
        forking,
        keys_of(platform.accounts),
        ["ad_insights_daily"],
        backfill_id="one-slot",
        on_iteration=lambda: said_while_launching.append(launching[0]),
    )
    assert status == BulkActionStatus.COMPLETED_SUCCESS
    # Said while a run held the only slot and the next one waited in launch_run (inside
    # the backfill loop's one iteration that launches every run), not only between
    # iterations.
    assert any(said_while_launching), said_while_launching
    assert launcher.progress is None


def test_a_backfill_cut_into_account_groups_runs_every_group_and_each_account_as_one_range(
    platform: Platform, forking: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three accounts over three days would be cut per day by Dagster (ties go to the
    # days); with the floor lowered, the command splits it into groups of fewer accounts
    # than days, as it does for 50 accounts over a 29-day refresh.
    monkeypatch.setattr(backfill, "MIN_DAYS_FOR_ACCOUNT_RUNS", 2)
    said: list[str] = []

    report = backfill.run_backfill(
        forking, accounts=platform.accounts, since=SINCE, until=UNTIL, echo=said.append
    )

    assert report is not None and report.ok, "\n".join(said)
    assert any("2 backfills of at most 2 account(s)" in line for line in said), said
    backfills = forking.get_backfills()
    assert len(backfills) == 2
    assert {b.status for b in backfills} == {BulkActionStatus.COMPLETED_SUCCESS}
    runs = [
        run
        for b in backfills
        for run in forking.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": b.backfill_id}))
    ]
    assert sorted(
        run.tags[ASSET_PARTITION_RANGE_START_TAG].split("|")[0] for run in runs
    ) == sorted(platform.accounts)
    assert all(run_days(run) == {str(d) for d in days_between(SINCE, UNTIL)} for run in runs)
    for account in platform.accounts:
        assert_lake_equals_truth(platform, account)


def test_a_parent_that_froze_its_heap_for_its_children_exits_without_leak_reports(
    tmp_path: Path,
) -> None:
    """DuckDB's bindings report every object still alive at exit as a leak: the freeze
    the launcher does before its first fork must not leave the user a wall of them."""
    script = (
        "import duckdb\n"
        "from ads_platform.run_launcher import freeze_heap_for_children\n"
        "con = duckdb.connect()\n"
        "con.execute('select 42').fetchall()\n"
        "freeze_heap_for_children()\n"
        "print('exiting')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "exiting"
    assert "leaked" not in done.stderr, done.stderr[:500]
