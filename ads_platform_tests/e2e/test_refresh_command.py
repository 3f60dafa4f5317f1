"""``ads-platform refresh`` and ``backfill --no-wait``: submitted to the user's instance,
visible there, executed by Dagster's daemon (not by the command); ``refresh --wait``
with no daemon: executed by the command itself, into the lake.

The settings are a user's own file (their token variables, their home), the Graph API
is the sandbox over real HTTP.  The daemon is Dagster's own backfill daemon iteration,
driven in the test process against the instance the command wrote to.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
import yaml
from dagster._core.execution.backfill import BulkActionStatus

from ads_platform.backfill import launching_instance, refresh_window
from ads_platform.partitions import key_for
from ads_platform.sandbox import Sandbox
from ads_platform.settings import load_settings
from ads_platform_tests.conftest import SANDBOX_TODAY, reset_sandbox
from ads_platform_tests.e2e.helpers import account_timezone, stored_daily_totals, truth_daily
from ads_platform_tests.launch import (
    execute_queued_runs,
    execute_submitted_backfill,
    open_instance,
)

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
UNTIL = SANDBOX_TODAY - dt.timedelta(days=1)
SINCE = UNTIL - dt.timedelta(days=1)


@pytest.fixture
def user(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """A user's settings file for two sandbox accounts, their tokens, their shell."""
    reset_sandbox(sandbox)
    home = tmp_path / "adsdata"
    accounts = sorted(sandbox.account_ids)[:2]
    config = tmp_path / "ads_platform.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "home": str(home),
                "meta": {"graph_base_url": sandbox.base_url, "max_retries": 1},
                "accounts": [
                    {"id": a, "token_env": f"ACME_TOKEN_{i}"} for i, a in enumerate(accounts)
                ],
                # Two days of lookback: whatever the hour, the window then holds a day
                # that has started in every time zone (UTC+14 runs up to two dates ahead
                # of UTC-12, from 10:00 to 12:00 UTC), which is all a refresh asks for
                # while the accounts' zones are unknown.  With one, these tests found
                # nothing to submit in those two hours (CI of 2026-11-30 10:10 UTC).
                "ingestion": {"start_date": "2026-10-01", "lookback_days": 2},
            }
        )
    )
    for i, account in enumerate(sorted(sandbox.account_ids)):  # all: a test may enable more
        monkeypatch.setenv(f"ACME_TOKEN_{i}", f"sandbox-token-{account}")
    for name in ("ADS_PLATFORM_CONFIG", "ADS_PLATFORM_HOME", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return SimpleNamespace(config=config, home=home, accounts=accounts, sandbox=sandbox)


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it: its own process (no daemon), its output read back."""
    return subprocess.run(
        [sys.executable, "-m", "ads_platform.cli", *args],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _insights_done(instance: dg.DagsterInstance) -> set[str]:
    return set(instance.get_materialized_partitions(dg.AssetKey("ad_insights_daily")))


def test_refresh_no_wait_submits_today_and_the_lookback_of_every_account_without_running_it(
    user: SimpleNamespace,
) -> None:
    before = refresh_window(load_settings(user.config, require_tokens=False), _now())
    user.sandbox.reset_stats()
    result = _cli(user.config, "refresh", "--no-wait")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "Traceback" not in out and "Stack Trace" not in out
    assert "no Dagster daemon is running" in out and "--wait" in out
    assert user.sandbox.stats()["total"] == 0  # submitted: not one Graph API call
    with open_instance(user.home / "dagster") as instance:
        _assert_account_runs_submitted(instance, user, "cli-refresh", out)
        (backfill,) = instance.get_backfills()
        assert backfill.status == BulkActionStatus.REQUESTED  # waiting for a daemon
        assert backfill.tags["ads_platform/trigger"] == "cli-refresh"
        assert backfill.title and backfill.title.startswith("ads-platform refresh ")
        since_s, until_s = backfill.title.split()[-1].split("..")
        since, until = dt.date.fromisoformat(since_s), dt.date.fromisoformat(until_s)
        assert until - since == dt.timedelta(days=2)  # today and lookback_days = 2 before it
        assert (since, until) in {before, refresh_window(load_settings(user.config), _now())}
        assert f"refresh: {until} (the accounts' today) and 2 day(s) of lookback" in out
        # Every account's started days of the window: the grid's today (the easternmost
        # account's) has not begun for the accounts to the west, and is left out for them.
        from ads_platform.backfill import started_keys
        from ads_platform.day_grid import lake_timezones
        from ads_platform.lake import Lake

        settings = load_settings(user.config, require_tokens=False)
        zones = lake_timezones(Lake(settings.lake_dir))
        # ad_accounts is queued, not run: no zone is known, so only the days started in
        # every zone are asked (the others could leave the grid once the zones are read).
        assert zones == {}
        keys, later = started_keys(user.accounts, since, until, zones, _now(), "Etc/GMT+12")
        wanted = set(keys)
        assert wanted == {
            str(key_for(a, d))
            for a in user.accounts
            for d in (since + dt.timedelta(days=i) for i in range((until - since).days + 1))
            if d <= _now().astimezone(ZoneInfo("Etc/GMT+12")).date()
        }
        for account_id, day in later:
            assert f"{account_id} {day}: its time zone is not known yet" in out
        data = backfill.asset_backfill_data
        assert data is not None
        subset = data.target_subset.partitions_subsets_by_asset_key[
            dg.AssetKey("ad_insights_daily")
        ]
        assert set(subset.get_partition_keys()) == wanted
        runs = instance.get_runs(
            filters=dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id})
        )
        assert runs == []  # submitted, not executed
        assert _insights_done(instance) == set()

    # The next refresh re-reads the accounts (names, currencies, time zones) as the daily
    # runs do, though they are partitions now: it used to read them only on the first day.
    again = _cli(user.config, "refresh", "--no-wait")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "ad_accounts partitions" not in again.stdout  # nothing new to add
    with open_instance(user.home / "dagster") as instance:
        runs = instance.get_runs(
            filters=dg.RunsFilter(tags={"ads_platform/trigger": "cli-refresh"})
        )
        described = [r for r in runs if r.asset_selection == {dg.AssetKey("ad_accounts")}]
        assert len(described) == 2, [r.asset_selection for r in runs]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _assert_account_runs_submitted(
    instance: dg.DagsterInstance, user: SimpleNamespace, trigger: str, out: str
) -> list[dg.DagsterRun]:
    """The runs the command submitted before its backfill, queued for a daemon, said: one
    ``ad_accounts`` run (the accounts are new), one run of the per-account assets over the
    range of the two adjacent accounts; and the new accounts already partitions."""
    from ads_platform.jobs import ACCOUNT_ASSETS
    from ads_platform.partitions import range_tags

    assert list(instance.get_dynamic_partitions("ad_accounts")) == sorted(user.accounts)
    runs = sorted(
        instance.get_runs(filters=dg.RunsFilter(tags={"ads_platform/trigger": trigger})),
        key=lambda r: r.asset_selection != {dg.AssetKey("ad_accounts")},
    )
    assert len(runs) == 2, runs
    # In the run queue (the shipped instance's coordinator), for the daemon to execute.
    assert all(r.status == dg.DagsterRunStatus.QUEUED for r in runs), [r.status for r in runs]
    accounts_run, entities_run = runs
    assert accounts_run.asset_selection == {dg.AssetKey("ad_accounts")}
    assert entities_run.asset_selection == set(ACCOUNT_ASSETS)
    first, last = sorted(user.accounts)
    assert range_tags(first, last).items() <= entities_run.tags.items()
    assert "dagster/backfill" not in entities_run.tags
    for run in runs:
        assert f"submitted run {run.run_id} (QUEUED)" in out, out
    return runs


def test_a_backfill_submitted_without_waiting_is_executed_by_dagsters_daemon(
    user: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ("backfill", "--from", str(SINCE), "--to", str(UNTIL), "--no-wait", "--no-marts")
    user.sandbox.reset_stats()
    result = _cli(user.config, *args)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "Traceback" not in out and "Stack Trace" not in out
    assert user.sandbox.stats()["total"] == 0  # submitted: not one Graph API call
    dagster_home = user.home / "dagster"
    # The daemon's environment: the settings and instance the command used.
    monkeypatch.setenv("ADS_PLATFORM_CONFIG", str(user.config))
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    with open_instance(dagster_home) as instance:
        submitted = _assert_account_runs_submitted(instance, user, "cli-backfill", out)
    # The daemon's run queue executes them (ad_accounts first, as submitted).
    launched = execute_queued_runs(dagster_home)
    assert [r.run_id for r in launched] == [r.run_id for r in submitted]  # ad_accounts first
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in launched), launched
    with launching_instance(dagster_home) as instance:
        for asset in ("campaigns", "token_health"):
            done = set(instance.get_materialized_partitions(dg.AssetKey(asset)))
            assert done >= set(user.accounts), asset
        (backfill,) = instance.get_backfills()
        assert backfill.status == BulkActionStatus.REQUESTED
        assert _insights_done(instance) == set()
        status = execute_submitted_backfill(instance, backfill.backfill_id)
        assert status == BulkActionStatus.COMPLETED_SUCCESS
        keys = {
            str(key_for(a, SINCE + dt.timedelta(days=i))) for a in user.accounts for i in (0, 1)
        }
        assert keys <= _insights_done(instance)
        runs = instance.get_runs(
            filters=dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id})
        )
        assert 1 <= len(runs) <= len(user.accounts)  # range runs, not one per partition
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    for account in user.accounts:
        stored = stored_daily_totals(user, account)  # type: ignore[arg-type]
        truth = truth_daily(user, account, SINCE, UNTIL)  # type: ignore[arg-type]
        assert len(truth) == 2
        for day, expected in truth.items():
            assert stored[day]["spend"] == expected["spend"], (account, day)
            assert stored[day]["impressions"] == expected["impressions"], (account, day)


def test_refresh_no_wait_of_a_new_western_account_is_executed_by_the_daemon_without_failing(
    user: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new account far west of UTC+14, ``refresh --no-wait``: its zone is not known when
    the backfill is created (ad_accounts is only queued), and once ad_accounts has run
    the grid ends at the account's own today.  A backfill that targeted the UTC+14 today
    is refused by Dagster then ("Targeted partitions … have been removed"), nothing
    stored; so it must target only the days started everywhere, and complete.

    It attacks that from 10:00 to 05:00 UTC, when UTC+14 is a date ahead of New York.
    """
    import zoneinfo

    sandbox: Sandbox = user.sandbox
    zones = {a["id"]: a["timezone_name"] for a in sandbox.info()["accounts"]}
    now = _now()
    west = min(zones, key=lambda a: zoneinfo.ZoneInfo(zones[a]).utcoffset(now))
    index = sorted(sandbox.account_ids).index(west)
    user.config.write_text(
        yaml.safe_dump(
            {
                "home": str(user.home),
                "meta": {"graph_base_url": sandbox.base_url, "max_retries": 1},
                "accounts": [{"id": west, "token_env": f"ACME_TOKEN_{index}"}],
                # Two days, as in ``user``: one left nothing started everywhere to target
                # from 10:00 to 12:00 UTC.
                "ingestion": {"start_date": "2026-10-01", "lookback_days": 2},
            }
        )
    )
    local_today = now.astimezone(zoneinfo.ZoneInfo(zones[west])).date()
    sandbox.set_today(local_today)
    try:
        result = _cli(user.config, "refresh", "--no-wait", "--no-marts")
        out = result.stdout + result.stderr
        assert result.returncode == 0, out
        dagster_home = user.home / "dagster"
        monkeypatch.setenv("ADS_PLATFORM_CONFIG", str(user.config))
        monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
        launched = execute_queued_runs(dagster_home)
        assert [r.status for r in launched] == [dg.DagsterRunStatus.SUCCESS] * 2, out
        with launching_instance(dagster_home) as instance:
            (backfill,) = instance.get_backfills()
            status = execute_submitted_backfill(instance, backfill.backfill_id)
            stored = instance.get_backfill(backfill.backfill_id)
            error = stored.error.message if stored and stored.error else None
            assert status == BulkActionStatus.COMPLETED_SUCCESS, (error, out)
            data = backfill.asset_backfill_data
            assert data is not None
            targeted = data.target_subset.partitions_subsets_by_asset_key[
                dg.AssetKey("ad_insights_daily")
            ].get_partition_keys()
            assert targeted and set(targeted) <= _insights_done(instance), out
    finally:
        sandbox.set_today(SANDBOX_TODAY)


def test_backfill_wait_while_a_daemon_runs_hands_every_run_to_it_and_waits_for_them(
    user: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a daemon running, ``--wait`` submits the account-level runs as ``--no-wait``
    does, waits for the daemon to execute them, then submits the backfill and follows it:
    no run is executed by the command itself.  The daemon here is Dagster's run queue and
    backfill iterations in this process, with a fresh BACKFILL heartbeat."""
    import time

    from dagster._daemon.types import DaemonHeartbeat

    from ads_platform.demo import install_instance_config

    dagster_home = install_instance_config(user.home / "dagster")
    monkeypatch.setenv("ADS_PLATFORM_CONFIG", str(user.config))
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))

    def beat() -> None:
        with open_instance(dagster_home) as instance:
            instance.add_daemon_heartbeat(DaemonHeartbeat(time.time(), "BACKFILL", "test", []))

    beat()
    args = ("backfill", "--from", str(SINCE), "--to", str(UNTIL), "--wait", "--no-marts")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ads_platform.cli", *args],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},  # DAGSTER_HOME: the same
        cwd=user.config.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 600
    try:
        while proc.poll() is None:
            assert time.monotonic() < deadline, "the command did not end"
            beat()
            execute_queued_runs(dagster_home)
            with launching_instance(dagster_home) as instance:
                for backfill in instance.get_backfills(status=BulkActionStatus.REQUESTED):
                    execute_submitted_backfill(instance, backfill.backfill_id)
            time.sleep(1)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = proc.stdout.read() if proc.stdout else ""
    assert proc.returncode == 0, out
    assert "Traceback" not in out and "Stack Trace" not in out
    assert "executed by the Dagster daemon" in out, out
    assert "==> ad_accounts (new accounts become partitions)" not in out  # not run here
    with open_instance(dagster_home) as instance:
        runs = instance.get_runs(
            filters=dg.RunsFilter(tags={"ads_platform/trigger": "cli-backfill"})
        )
        account_runs = [r for r in runs if "dagster/backfill" not in r.tags]
        assert len(account_runs) == 2, account_runs  # ad_accounts, the accounts' range
        for run in account_runs:
            assert run.status == dg.DagsterRunStatus.SUCCESS
            assert run.remote_job_origin is not None  # submitted, not executed in process
            assert f"submitted run {run.run_id}" in out and f"run {run.run_id} SUCCESS" in out
        (backfill,) = instance.get_backfills()
        assert backfill.status == BulkActionStatus.COMPLETED_SUCCESS
        # The backfill was submitted once the account-level runs had ended.
        ended = max(
            r.end_time or 0.0
            for r in instance.get_run_records(
                filters=dg.RunsFilter(run_ids=[r.run_id for r in account_runs])
            )
        )
        assert backfill.backfill_timestamp >= ended
        keys = {
            str(key_for(a, SINCE + dt.timedelta(days=i))) for a in user.accounts for i in (0, 1)
        }
        assert keys <= _insights_done(instance)


#: Longer than this test takes (15-30 s) with room for a loaded machine.
MIDNIGHT_MARGIN_SECONDS = 90


def _seconds_to_next_local_midnight(tz: ZoneInfo, now: dt.datetime) -> float:
    local = now.astimezone(tz)
    tomorrow = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tz)
    return (tomorrow - local).total_seconds()


def _wait_past_a_near_midnight(sandbox: Sandbox, now: dt.datetime) -> None:
    """Sleep past any sandbox account's local midnight due within the test's run.

    The test aligns the sandbox's date with each account's real local today once, at its
    start; a midnight passing in the middle (05:00, 15:00 or 23:00 UTC for the sandbox's
    zones) would move an account's today under it and fail it for the clock's sake.
    """
    zones = [ZoneInfo(a["timezone_name"]) for a in sandbox.info()["accounts"]]
    soonest = min(_seconds_to_next_local_midnight(tz, now) for tz in zones)
    if soonest < MIDNIGHT_MARGIN_SECONDS:
        time.sleep(soonest + 2)


def test_the_refresh_test_waits_past_a_midnight_due_within_its_run() -> None:
    new_york = ZoneInfo("America/New_York")
    before = dt.datetime(2026, 11, 30, 4, 59, 30, tzinfo=dt.UTC)  # 23:59:30 in New York
    assert _seconds_to_next_local_midnight(new_york, before) == 30
    after = dt.datetime(2026, 11, 30, 5, 0, 1, tzinfo=dt.UTC)
    assert _seconds_to_next_local_midnight(new_york, after) > MIDNIGHT_MARGIN_SECONDS


def _aligned_clock(sandbox: Sandbox, now: dt.datetime) -> tuple[dt.date, list[str]]:
    """The sandbox date that puts the most accounts on their real local today, and them.

    ``refresh`` judges today by the real clock, the sandbox by its own (D at 12:00 UTC).
    Where they disagree on an account's today the pull is wrong in a test-made way:
    the sandbox has no rows yet for the platform's today (the zero guard blocks it) or
    has a day the platform does not pull yet.  No one D suits every zone at every hour
    (New York and Tokyo are on different dates from 15:00 to 05:00 UTC), but for the
    sandbox's zones some two accounts always agree on one.
    """
    zones = {a["id"]: ZoneInfo(a["timezone_name"]) for a in sandbox.info()["accounts"]}
    best: tuple[dt.date, list[str]] = (now.date(), [])
    for offset in (0, -1, 1):
        day = now.date() + dt.timedelta(days=offset)
        noon = dt.datetime.combine(day, dt.time(12), dt.UTC)
        agree = [
            a
            for a, tz in sorted(zones.items())
            if noon.astimezone(tz).date() == now.astimezone(tz).date()
        ]
        if len(agree) > len(best[1]):
            best = (day, agree)
    return best


def test_refresh_wait_pulls_today_and_the_lookback_of_every_enabled_account_into_the_lake(
    user: SimpleNamespace,
) -> None:
    sandbox: Sandbox = user.sandbox
    _wait_past_a_near_midnight(sandbox, _now())
    day, accounts = _aligned_clock(sandbox, _now())
    assert len(accounts) >= 2, accounts
    everyone = sorted(sandbox.account_ids)
    off = [a for a in everyone if a not in accounts]
    user.config.write_text(
        yaml.safe_dump(
            {
                "home": str(user.home),
                "meta": {"graph_base_url": sandbox.base_url, "max_retries": 1},
                "accounts": [
                    {"id": a, "token_env": f"ACME_TOKEN_{i}", "enabled": a in accounts}
                    for i, a in enumerate(everyone)
                ],
                "ingestion": {"start_date": "2026-10-01", "lookback_days": 2},
            }
        )
    )
    sandbox.set_today(day)
    try:
        result = _cli(user.config, "refresh", "--wait", "--no-marts")
        out = result.stdout + result.stderr
        assert result.returncode == 0, out
        assert "Traceback" not in out and "Stack Trace" not in out
        # The window: the accounts' today (the same date for all of them here) back 2 days.
        zone = account_timezone(user, accounts[0])  # type: ignore[arg-type]
        until = _now().astimezone(zone).date()
        since = until - dt.timedelta(days=2)
        assert (
            f"==> refresh: {until} (the accounts' today) and 2 day(s) of lookback, from {since}"
            in out
        ), out
        assert "executed by this process (no Dagster daemon running)" in out
        lines = result.stdout.rstrip().splitlines()
        assert lines[-1].startswith("(Dagster's and dbt's own output of this command: ")
        table = lines[-2 - len(accounts) - 1 : -1]
        assert table[0].split() == ["account", "days", "materialized", "failed"], out
        assert [line.split() for line in table[2:]] == [[a, "3", "3", "0"] for a in accounts], out
        keys = {str(key_for(a, since + dt.timedelta(days=i))) for a in accounts for i in range(3)}
        with open_instance(user.home / "dagster") as instance:
            (backfill,) = instance.get_backfills()
            assert backfill.status == BulkActionStatus.COMPLETED_SUCCESS
            assert backfill.tags["ads_platform/trigger"] == "cli-refresh"
            assert backfill.title == f"ads-platform refresh {since}..{until}"
            data = backfill.asset_backfill_data
            assert data is not None
            targets = data.target_subset.partitions_subsets_by_asset_key
            assert dg.AssetKey("ad_insights_daily") in targets
            for asset, subset in targets.items():
                assert set(subset.get_partition_keys()) == keys, asset  # none of `off`
                assert keys <= set(instance.get_materialized_partitions(asset)), asset
            runs = instance.get_runs(
                filters=dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id})
            )
            assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        for account in accounts:
            stored = stored_daily_totals(user, account)  # type: ignore[arg-type]
            truth = truth_daily(user, account, since, until)  # type: ignore[arg-type]
            assert (
                sorted(truth)
                == sorted(stored)
                == [str(d) for d in (since, since + dt.timedelta(days=1), until)]
            )
            for d, expected in truth.items():
                for metric in ("spend", "impressions", "link_clicks"):
                    assert stored[d][metric] == expected[metric], (account, d, metric)
        for account in off:  # disabled: not pulled
            assert not (user.home / "lake" / "ad_insights_daily" / f"account_id={account}").exists()
    finally:
        sandbox.set_today(SANDBOX_TODAY)  # the sandbox is shared


def test_the_refresh_window_is_the_grids_today_back_the_lookback_from_the_start_date(
    tmp_path: Path,
) -> None:
    config = tmp_path / "ads_platform.yaml"
    config.write_text("home: h\ningestion: {start_date: 2026-11-15, lookback_days: 3}\n")
    settings = load_settings(config, {}, require_tokens=False)
    # No account's zone is known yet: the grid's today is UTC+14's.
    noon = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
    assert refresh_window(settings, noon) == (dt.date(2026, 11, 18), dt.date(2026, 11, 21))
    early = dt.datetime(2026, 11, 16, 1, tzinfo=dt.UTC)
    assert refresh_window(settings, early) == (dt.date(2026, 11, 15), dt.date(2026, 11, 16))


def test_a_day_not_yet_started_for_a_western_account_is_left_out_not_counted_as_failed() -> None:
    """At 20:00 UTC Tokyo is on the 30th, New York still on the 29th: the window up to the
    grid's today (Tokyo's) must not ask New York for the 30th, which its run would skip and
    the summary would then have counted as a failed day (``refresh --wait`` exited 1)."""
    from ads_platform.backfill import started_keys
    from ads_platform.partitions import key_for

    now = dt.datetime(2026, 11, 29, 20, tzinfo=dt.UTC)
    zones = {"act_1": "America/New_York", "act_2": "Asia/Tokyo"}
    since, until = dt.date(2026, 11, 28), dt.date(2026, 11, 30)
    keys, later = started_keys(["act_1", "act_2", "act_3"], since, until, zones, now)
    days = [dt.date(2026, 11, 28), dt.date(2026, 11, 29), dt.date(2026, 11, 30)]
    assert keys == [
        *(str(key_for("act_1", d)) for d in days[:2]),
        *(str(key_for("act_2", d)) for d in days),
        # act_3's zone is not known yet: every day that has started anywhere stays.
        *(str(key_for("act_3", d)) for d in days),
    ]
    assert later == [("act_1", dt.date(2026, 11, 30))]
