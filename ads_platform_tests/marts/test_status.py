"""``ads-platform status``: the facts of data_freshness and the open alerts, per account.

One world with a real dbt build: act_101 pulled up to today with a valid token;
act_202 two days behind because its token expired, with an incident alert open (raised
by the real Alerter), plus one open alert of the platform itself.  The command must say
the same as the marts, read through the same settings as every other command.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from ads_platform.automation.alerts import Alert, Alerter
from ads_platform.cli import main
from ads_platform.settings import Settings
from ads_platform.status import read_status
from ads_platform.warehouse import open_marts_readonly, publish_marts
from ads_platform_tests.marts.lake_fixture import ACCOUNTS, DAYS, LakeBuilder, run_dbt


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("status_home")
    builder = LakeBuilder(home)
    builder.write_accounts()
    for account_id in ACCOUNTS:
        builder.write_entities(account_id)
    for day in DAYS:
        builder.write_day("act_101", day, builder.ad_rows("act_101", day))
    builder.write_day("act_202", DAYS[0], builder.ad_rows("act_202", DAYS[0]))
    builder.write_attempts("act_101", [("ad_insights_daily", d, "success", None, "") for d in DAYS])
    builder.write_attempts("act_202", [("ad_insights_daily", DAYS[0], "success", None, "")])
    builder.write_attempts(
        "act_202",
        [
            ("ad_insights_daily", d, "failed", "token_invalid", "Error validating access token")
            for d in DAYS[1:]
        ],
    )
    builder.write_token_check("act_101", valid=True, days_left=40)
    builder.write_token_check("act_202", valid=False, days_left=-1)
    Alerter(Settings(home=home)).emit(
        [
            Alert(
                key="incident:act_202:token_invalid",
                kind="incident",
                severity="error",
                title="act_202: token expired",
                message="re-authorize",
                account_id="act_202",
                cause="token_invalid",
            ),
            Alert(
                key="run_failed:x",
                kind="run_failed",
                severity="warning",
                title="a run failed",
                message="see the run",
            ),
        ]
    )
    result = run_dbt(home, "build")
    assert result.returncode == 0, result.stdout[-4000:]
    publish_marts(home / "warehouse" / "marts.duckdb", home / "marts.duckdb")
    return home


def _freshness(home: Path) -> dict[str, dict[str, Any]]:
    con = open_marts_readonly(home / "marts.duckdb")
    try:
        cursor = con.execute("select * from data_freshness")
        names = [d[0] for d in cursor.description or []]
        rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    finally:
        con.close()
    return {r["account_id"]: r for r in rows}


def behind(account_id: str, last_good_day: dt.date) -> str:
    """How the status says an account's lag, counted in its own time zone."""
    today = dt.datetime.now(ZoneInfo(ACCOUNTS[account_id][1])).date()
    days = (today - last_good_day).days
    return f"{days} day{'' if days == 1 else 's'} behind"


def test_status_shows_each_accounts_last_good_day_freshness_token_and_open_alerts(
    home: Path,
) -> None:
    result = CliRunner().invoke(main, ["status", "--marts", str(home / "marts.duckdb")])
    assert result.exit_code == 1, result.output  # act_202 is stale
    lines = result.output.splitlines()
    truth = _freshness(home)
    row_101 = next(line for line in lines if line.startswith("act_101 "))
    row_202 = next(line for line in lines if line.startswith("act_202 "))
    assert str(truth["act_101"]["last_good_day"]) in row_101
    # Days behind count from each account's own today (Berlin, New York), not UTC's:
    # near UTC midnight they differ from DAYS' UTC dates by one.
    assert f"fresh ({behind('act_101', DAYS[-1])})" in row_101 and "40 days left" in row_101
    assert row_101.rstrip().endswith("| 0")
    assert str(truth["act_202"]["last_good_day"]) == DAYS[0].isoformat()
    assert DAYS[0].isoformat() in row_202 and f"STALE ({behind('act_202', DAYS[0])})" in row_202
    assert "INVALID" in row_202 and "1 (error)" in row_202
    assert f"  act_202: {truth['act_202']['status_message']}" in lines
    assert "1 open alert(s) not tied to an account" in lines


def test_status_as_json_carries_the_marts_values(home: Path) -> None:
    result = CliRunner().invoke(
        main, ["status", "--marts", str(home / "marts.duckdb"), "--format", "json"]
    )
    assert result.exit_code == 1
    data = json.loads(result.output)
    truth = _freshness(home)
    by_id = {a["account_id"]: a for a in data["accounts"]}
    for account_id, row in truth.items():
        got = by_id[account_id]
        assert got["last_good_day"] == row["last_good_day"].isoformat()
        assert got["days_behind"] == row["days_behind"]
        assert got["is_stale"] == row["is_stale"]
        assert got["status_message"] == row["status_message"]
    assert by_id["act_202"]["open_alerts"] == 1 and by_id["act_101"]["open_alerts"] == 0
    assert data["platform_alerts"] == 1


def test_status_reads_the_marts_the_settings_name_like_every_command(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "ads_platform.yaml"
    config.write_text(f"home: {home}\n")
    by_flag = CliRunner().invoke(main, ["status", "--config", str(config)])
    assert by_flag.exit_code == 1 and "act_202" in by_flag.output
    monkeypatch.setenv("ADS_PLATFORM_CONFIG", str(config))
    monkeypatch.delenv("ADS_PLATFORM_HOME", raising=False)
    by_env = CliRunner().invoke(main, ["status"])
    assert by_env.output.splitlines()[1:] == by_flag.output.splitlines()[1:]


def test_status_without_marts_says_what_to_run(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["status", "--marts", str(tmp_path / "marts.duckdb")])
    assert result.exit_code == 2
    assert "no marts at" in result.output and "materialize the marts" in result.output
    assert "Traceback" not in result.output


def test_the_exit_code_is_zero_only_when_no_account_is_stale(home: Path) -> None:
    status = read_status(home / "marts.duckdb")
    assert status.exit_code == 1
    fresh = dataclasses.replace(
        status, accounts=[a for a in status.accounts if a.account_id == "act_101"]
    )
    assert fresh.exit_code == 0
