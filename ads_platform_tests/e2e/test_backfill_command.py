"""``ads-platform backfill`` with a user's own settings file, against the sandbox.

The settings are written the way a user writes them (their own token variable names,
their own home), not by the demo.  No Dagster daemon runs, so ``--wait`` executes the
backfill in the command's process; the backfill is still a real Dagster backfill on the
instance under ``$ADS_PLATFORM_HOME/dagster``, visible through the instance API.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import duckdb
import pytest
import yaml
from dagster._core.execution.backfill import BulkActionStatus

from ads_platform.partitions import key_for
from ads_platform.sandbox import Sandbox
from ads_platform_tests.conftest import SANDBOX_TODAY
from ads_platform_tests.e2e.helpers import stored_daily_totals, truth_daily
from ads_platform_tests.launch import open_instance
from ads_platform_tests.processes import children, cmdline, process_running, wait_for

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]

UNTIL = SANDBOX_TODAY - dt.timedelta(days=1)
SINCE = UNTIL - dt.timedelta(days=2)


def _user_settings(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path, list[str]]:
    home = tmp_path / "adsdata"
    accounts = sorted(sandbox.account_ids)[:2]
    config = tmp_path / "ads_platform.yaml"
    config.write_text(
        "# my accounts\n"
        + yaml.safe_dump(
            {
                "home": str(home),
                "meta": {"graph_base_url": sandbox.base_url, "max_retries": 1},
                "accounts": [
                    {"id": a, "token_env": f"ACME_TOKEN_{i}", "label": f"client {i}"}
                    for i, a in enumerate(accounts)
                ],
                "ingestion": {"start_date": "2026-10-01"},
            }
        )
    )
    for i, account in enumerate(accounts):
        monkeypatch.setenv(f"ACME_TOKEN_{i}", f"sandbox-token-{account}")
    for name in ("ADS_PLATFORM_CONFIG", "ADS_PLATFORM_HOME", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return config, home, accounts


def _backfill(
    config: Path, *extra: str, since: dt.date = SINCE
) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it: its own process, its terminal output read back."""
    args = ["backfill", "--config", str(config), "--from", str(since), "--to", str(UNTIL)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "ads_platform.cli", *args, *extra],
        env=env,
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_backfill_creates_a_dagster_backfill_and_fills_every_partition_with_the_truth(
    fresh_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, home, accounts = _user_settings(tmp_path, fresh_sandbox, monkeypatch)
    result = _backfill(config, "--no-marts")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "partitions materialized" in out  # progress
    assert "executed by this process (no Dagster daemon running)" in out
    assert "Traceback" not in out and "Stack Trace" not in out
    for noise in ("code server", "BetaWarning", "RuntimeWarning", "dagster - "):
        assert noise not in out, out
    assert (home / "logs").is_dir() and any((home / "logs").glob("backfill-*.log"))
    with open_instance(home / "dagster") as instance:
        (backfill,) = instance.get_backfills()
        assert backfill.status == BulkActionStatus.COMPLETED_SUCCESS
        keys = {str(key_for(a, SINCE + dt.timedelta(days=i))) for a in accounts for i in range(3)}
        done = set(instance.get_materialized_partitions(dg.AssetKey("ad_insights_daily")))
        assert keys <= done
        runs = instance.get_runs(
            filters=dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id})
        )
        assert 1 <= len(runs) <= len(accounts)
    view = SimpleNamespace(home=home, sandbox=fresh_sandbox)  # what the helpers read
    for account in accounts:
        assert any(line.split() == [account, "3", "3", "0"] for line in out.splitlines()), out
        stored = stored_daily_totals(view, account)  # type: ignore[arg-type]
        truth = truth_daily(view, account, SINCE, UNTIL)  # type: ignore[arg-type]
        assert len(truth) == 3
        for day, expected in truth.items():
            got = stored[day]
            assert got["spend"] == expected["spend"], (account, day)
            assert got["impressions"] == expected["impressions"], (account, day)
            assert got["link_clicks"] == expected["link_clicks"], (account, day)


def test_the_marts_are_built_only_after_every_run_the_backfill_started_has_ended(
    fresh_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The per-account runs (campaigns, ad sets, ads, …) are forked beside the insights
    backfill and may end after it: the marts join both, so they wait for every run.

    Two guards keep it: the backfill loop waits for every child of the launcher, and the
    command waits for the per-account runs by id.  With both removed the marts started
    10.6 s before the slow account's run ended, and this test failed (2026-11-30)."""
    config, home, accounts = _user_settings(tmp_path, fresh_sandbox, monkeypatch)
    # Every answer about the first account takes 1.5 s: its insights run asks twice, its
    # per-account run (entities, token, reach) about ten times, so that run ends last.
    fresh_sandbox.add_fault("timeout", account_id=accounts[0], seconds=1.5)
    result = _backfill(config)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "==> marts" in out, out
    with open_instance(home / "dagster") as instance:
        records = instance.get_run_records()
    marts = [
        r
        for r in records
        if any("fct_ad_daily" in k.to_user_string() for k in r.dagster_run.asset_selection or ())
    ]
    assert len(marts) == 1, [r.dagster_run.asset_selection for r in records]
    others = [r for r in records if r is not marts[0]]
    kinds = {k.to_user_string() for r in others for k in r.dagster_run.asset_selection or ()}
    assert {"ad_insights_daily", "campaigns", "reach_monthly"} <= kinds, kinds
    assert all(r.end_time is not None for r in others)
    assert marts[0].start_time is not None
    assert marts[0].start_time >= max(r.end_time for r in others if r.end_time is not None)
    # And the marts hold what those runs wrote: each account's campaigns, by name.
    with contextlib.closing(duckdb.connect(str(home / "marts.duckdb"), read_only=True)) as con:
        named = con.execute(
            "select account_id, count(*) from dim_campaigns where campaign_name is not null "
            "group by 1 order by 1"
        ).fetchall()
    assert [a for a, n in named if n > 0] == accounts


def test_a_failing_account_makes_the_backfill_exit_non_zero_naming_it_and_the_cause(
    fresh_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, _home, accounts = _user_settings(tmp_path, fresh_sandbox, monkeypatch)
    broken = accounts[1]
    fresh_sandbox.set_token_expiry(broken, dt.datetime(2020, 1, 1))
    result = _backfill(config, "--no-marts")
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    failed = [line for line in out.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 1 and failed[0].startswith(f"FAILED {broken} {SINCE}")
    assert "ACME_TOKEN_1" in failed[0]
    assert "Traceback" not in out and "Stack Trace" not in out


def test_one_account_failing_in_runs_over_both_accounts_is_the_only_one_said_failed(
    fresh_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One account's token has expired and every run of the backfill covers both
    accounts: the summary blames that account alone, with its cause and its days; the
    other, stored, shows no failed day and no cause.  (A failed run's cause and the days
    of its range went to every account its range covers.)

    Why two days: Dagster's single-run backfill policy cuts a multi-partition backfill
    along the dimension with fewer distinct keys.  With no more days than accounts that
    is the day: each run is one day of every account (``act_a|day..act_b|day``), as a
    daily ``refresh`` with a short lookback over many accounts is.
    """
    config, home, accounts = _user_settings(tmp_path, fresh_sandbox, monkeypatch)
    healthy, broken = accounts
    fresh_sandbox.set_token_expiry(broken, dt.datetime(2020, 1, 1))
    days = [UNTIL - dt.timedelta(days=1), UNTIL]
    result = _backfill(config, "--no-marts", since=days[0])
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "Traceback" not in out and "Stack Trace" not in out
    with open_instance(home / "dagster") as instance:
        (backfill,) = instance.get_backfills()
        runs = instance.get_runs(
            filters=dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id})
        )
        # The premise: runs over both accounts, failed, the healthy account's days stored.
        ranges = {
            (
                r.tags["dagster/asset_partition_range_start"],
                r.tags["dagster/asset_partition_range_end"],
            )
            for r in runs
        }
        assert ranges == {(f"{healthy}|{d}", f"{broken}|{d}") for d in days}, ranges
        assert {r.status for r in runs} == {dg.DagsterRunStatus.FAILURE}
        done = set(instance.get_materialized_partitions(dg.AssetKey("ad_insights_daily")))
        assert {str(key_for(healthy, d)) for d in days} <= done
        assert not {str(key_for(broken, d)) for d in days} & done
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("act_")}
    assert rows[healthy] == [healthy, "2", "2", "0"], out
    assert rows[broken] == [broken, "2", "0", "2"], out
    failed = [line for line in out.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 1, out
    assert failed[0].startswith(f"FAILED {broken} {days[0]}, {days[1]}: token for {broken}"), out
    assert failed[0].count("ACME_TOKEN_1") == 1  # its cause, said once for its two runs
    assert healthy not in failed[0] and "ACME_TOKEN_0" not in out


def _start_backfill(config: Path) -> subprocess.Popen[str]:
    args = ["backfill", "--config", str(config), "--from", str(SINCE), "--to", str(UNTIL)]
    return subprocess.Popen(
        [sys.executable, "-m", "ads_platform.cli", *args, "--no-marts"],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        cwd=config.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _forked(command: subprocess.Popen[str]) -> list[int]:
    """The runs the command forked: children with its own command line, still there
    0.2 s later.

    Why twice: any child the command starts (a ``subprocess`` it runs, a library
    probing the system) carries the command's own command line between its fork and
    its exec, a few milliseconds; seen once, such a child passed for a run and was gone
    when the test looked again (``no run forked yet``, seen on 2026-11-30).
    """

    def once() -> set[int]:
        return {c for c in children(command.pid) if cmdline(c) == cmdline(command.pid)}

    first = once()
    if not first:
        return []
    time.sleep(0.2)
    return sorted(first & once())


def _stopped_with_sigterm(
    command: subprocess.Popen[str], what: str, ready: Callable[[], bool]
) -> str:
    """SIGTERM to the command alone (as `kill` or a service manager sends it) once
    ``ready``; its output.  It must exit 130, say so, and leave no forked run going."""
    try:
        wait_for(what, ready, 300, poll=0.02)
        forked = _forked(command)
        assert forked, "no run forked yet"
        os.kill(command.pid, signal.SIGTERM)
        out, _ = command.communicate(timeout=120)
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()
    assert command.returncode == 130, out
    assert "interrupted: the days already stored stay as they are" in out, out
    assert "Traceback" not in out
    assert not [pid for pid in forked if process_running(pid)]  # no run left going
    return out


def test_a_backfill_stopped_with_sigterm_before_its_backfill_stops_the_accounts_runs(
    fresh_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The per-account runs (campaigns … reach) are forked before the backfill loop starts,
    # which stops only what it launched: the command itself must stop them.
    config, home, _accounts = _user_settings(tmp_path, fresh_sandbox, monkeypatch)
    fresh_sandbox.add_fault("timeout", seconds=0.6)
    command = _start_backfill(config)
    _stopped_with_sigterm(command, "the accounts' run forked", lambda: bool(_forked(command)))
    with open_instance(home / "dagster") as instance:
        runs = instance.get_runs()
        assert runs and all(r.is_finished for r in runs), [r.status for r in runs]
        (accounts_run,) = [r for r in runs if dg.AssetKey("campaigns") in (r.asset_selection or ())]
        assert accounts_run.status == dg.DagsterRunStatus.FAILURE  # stopped, not finished
        for backfill in instance.get_backfills():  # if it was created in time
            assert backfill.status == BulkActionStatus.CANCELED


def test_a_backfill_stopped_with_sigterm_stops_its_runs_and_the_next_one_fills_every_day(
    fresh_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, home, accounts = _user_settings(tmp_path, fresh_sandbox, monkeypatch)
    fresh_sandbox.add_fault("timeout", seconds=0.6)  # every answer slow: runs stay in flight
    command = _start_backfill(config)

    def insights_in_flight() -> bool:
        # Read with SQLite itself, read-only: opening a Dagster instance here would race
        # the command's own first migration of the same files.
        runs_db = home / "dagster" / "history" / "runs.db"
        try:
            with contextlib.closing(sqlite3.connect(f"file:{runs_db}?mode=ro", uri=True)) as db:
                (count,) = db.execute(
                    "select count(*) from runs join run_tags on run_tags.run_id = runs.run_id "
                    "where runs.status = 'STARTED' and run_tags.key = 'dagster/backfill'"
                ).fetchone()
        except sqlite3.Error:
            return False  # not created, or not migrated yet
        return bool(count)

    out = _stopped_with_sigterm(command, "an insights run of the backfill", insights_in_flight)
    assert "stopped: the runs in flight ended FAILURE and the backfill is cancelled" in out, out
    with open_instance(home / "dagster") as instance:
        (backfill,) = instance.get_backfills()
        assert backfill.status == BulkActionStatus.CANCELED  # no daemon will resume it
        runs = instance.get_runs(
            filters=dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id})
        )
        assert runs and all(r.is_finished for r in runs), [r.status for r in runs]
        assert any(r.status == dg.DagsterRunStatus.FAILURE for r in runs)

    fresh_sandbox.clear_faults()
    again = _backfill(config, "--no-marts")
    assert again.returncode == 0, again.stdout + again.stderr
    view = SimpleNamespace(home=home, sandbox=fresh_sandbox)
    for account in accounts:
        stored = stored_daily_totals(view, account)  # type: ignore[arg-type]
        truth = truth_daily(view, account, SINCE, UNTIL)  # type: ignore[arg-type]
        assert {d: stored[d]["spend"] for d in truth} == {d: t["spend"] for d, t in truth.items()}
