"""``ads-platform doctor``: exit 0 on a healthy setup, non-zero with a hint when broken."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._daemon.types import DaemonHeartbeat

from ads_platform.demo import SHIPPED_DAGSTER_YAML
from ads_platform.doctor import DoctorReport, doctor_command, run_doctor
from ads_platform_tests.conftest import Platform


@pytest.fixture
def dagster_home(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = platform.home / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SHIPPED_DAGSTER_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def status(report: DoctorReport) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def test_healthy_setup_exits_zero(
    platform: Platform, dagster_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with dg.DagsterInstance.get() as instance:
        for daemon in instance.get_required_daemon_types():
            instance.add_daemon_heartbeat(DaemonHeartbeat(time.time(), daemon, "test", []))
    report = run_doctor()
    got = status(report)
    assert got["settings"] == "OK"
    for account in platform.accounts:
        assert got[f"token {account}"] == "OK"
    assert got["lake"] == "OK"
    assert got["marts"] == "WARN"  # fresh install: nothing ingested yet
    assert got["dagster instance"] == "OK"
    assert got["dagster daemon"] == "OK"
    assert report.exit_code == 0
    assert "SQLite storage" in report.table()
    assert doctor_command(None) == 0
    out = capsys.readouterr().out
    assert "exit code 0" in out and "token" in out
    assert not any(
        ".doctor" in str(p) and p.suffix == ".parquet" for p in (platform.home / "lake").rglob("*")
    )  # probe removed


def test_broken_setup_fails_with_hints(
    platform: Platform, dagster_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing, expiring, revoked = platform.accounts
    monkeypatch.delenv(f"DEMO_META_TOKEN_{missing.upper()}")
    platform.sandbox.set_token_expiry(expiring, dt.datetime.now(dt.UTC) + dt.timedelta(days=3))
    platform.sandbox.add_fault("token_revoked", account_id=revoked)
    lake = platform.home / "lake"
    shutil.rmtree(lake, ignore_errors=True)
    lake.parent.mkdir(parents=True, exist_ok=True)
    lake.write_text("not a directory")  # the lake cannot be written
    report = run_doctor()
    got = status(report)
    assert got[f"token {missing}"] == "FAIL"
    assert got[f"token {expiring}"] == "WARN", report.table()
    assert got[f"token {revoked}"] == "FAIL"
    assert got["lake"] == "FAIL"
    assert got["dagster daemon"] == "WARN"  # no heartbeat at all
    assert report.exit_code == 1
    hints = {c.name: c.hint for c in report.checks}
    assert f"DEMO_META_TOKEN_{missing.upper()}" in hints[f"token {missing}"]
    assert "writable" in hints["lake"]
    table = report.table()
    assert "hint:" in table and "exit code 1" in table
    for token in platform.tokens.values():
        assert token not in table


def test_marts_missing_after_ingestion_fails_and_old_marts_warn(
    platform: Platform, dagster_home: Path
) -> None:
    day = platform.home / "lake" / "ad_insights_daily" / "account_id=act_1" / "date=2026-01-01"
    day.mkdir(parents=True)
    (day / "data.parquet").write_bytes(b"x")
    assert status(run_doctor())["marts"] == "FAIL"
    marts = platform.home / "marts.duckdb"
    marts.write_bytes(b"")
    old = time.time() - 48 * 3600
    os.utime(marts, (old, old))
    assert status(run_doctor())["marts"] == "WARN"
    os.utime(marts, None)
    assert status(run_doctor())["marts"] == "OK"


def test_unreadable_settings_and_no_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "ads_platform.yaml"
    bad.write_text("accounts:\n  - {id: 123, token_env: X}\n")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    report = run_doctor(str(bad))
    got = status(report)
    assert got["settings"] == "FAIL" and got["dagster instance"] == "WARN"
    assert report.exit_code == 1
    assert doctor_command(str(bad)) == 1


@pytest.mark.parametrize("where", ["unresolvable", "closed_loopback_port"])
def test_an_unreachable_graph_api_is_reported_as_network_not_as_the_token(
    platform: Platform, dagster_home: Path, where: str
) -> None:
    import socket

    import yaml

    if where == "unresolvable":
        base_url, expected = "https://graph.facebook.invalid", "DNS / network"
    else:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        base_url, expected = f"http://127.0.0.1:{port}", f"nothing listens at 127.0.0.1:{port}"
    data = yaml.safe_load(platform.config_path.read_text())
    data["meta"]["graph_base_url"] = base_url
    platform.config_path.write_text(yaml.safe_dump(data))
    report = run_doctor()
    tokens = [c for c in report.checks if c.name.startswith("token ")]
    assert len(tokens) == len(platform.accounts)
    for check in tokens:
        assert check.status == "FAIL"
        assert "cannot reach" in check.detail
        assert expected in check.hint, check.hint
        assert "issue a new one" not in check.hint  # the token is not what is wrong
        assert "the token was not checked" in check.hint
    assert report.exit_code == 1


def test_doctor_on_an_invalid_file_names_every_wrong_field_and_how_to_write_the_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad_id.yaml"
    bad.write_text(
        "accounts:\n"
        "  - id: 1234567\n"  # unquoted: YAML reads a number
        "    token_env: META_TOKEN_A\n"
        "ingestion:\n"
        "  lookback_days: 500\n"
        "  colour: blue\n"
    )
    report = run_doctor(str(bad))
    settings = next(c for c in report.checks if c.name == "settings")
    assert settings.status == "FAIL" and report.exit_code == 1
    assert settings.detail.startswith(f"invalid settings in {bad}: ")
    assert "accounts[0].id: 1234567 is a number: quote it and prefix act_: 'act_1234567'" in (
        settings.detail
    )
    assert "ingestion.lookback_days: Input should be less than or equal to 90" in settings.detail
    assert "ingestion.colour: unknown setting" in settings.detail
    assert "\n" not in settings.detail
    assert doctor_command(str(bad)) == 1
    printed = capsys.readouterr().out
    assert "'act_1234567'" in printed and "Traceback" not in printed
