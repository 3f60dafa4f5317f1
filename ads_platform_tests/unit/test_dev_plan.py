"""What ``ads-platform dev`` starts: ``dagster dev`` on the user's settings, with the
instance every other command uses."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from ads_platform.cli import main
from ads_platform.devserver import WORKSPACE, demo_plan, user_plan

SETTINGS = "home: data\naccounts:\n  - {id: act_11, token_env: ACME_TOKEN}\n"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_dev_runs_dagster_dev_on_the_workspace_with_the_settings_file_and_its_instance(
    folder: Path,
) -> None:
    (folder / "ads_platform.yaml").write_text(SETTINGS)
    plan = user_plan(None, 3456, {"ACME_TOKEN": "t", "PATH": "/usr/bin"})
    assert plan.argv[0].endswith("dagster")
    assert plan.argv[1:] == ["dev", "-w", str(WORKSPACE), "-p", "3456", "-h", "127.0.0.1"]
    assert WORKSPACE.exists()
    assert plan.settings_path == folder / "ads_platform.yaml"
    assert plan.env["ADS_PLATFORM_CONFIG"] == str(folder / "ads_platform.yaml")
    assert plan.env["ADS_PLATFORM_HOME"] == str(folder / "data")  # relative to the file
    assert plan.env["DAGSTER_HOME"] == str(folder / "data" / "dagster")
    assert plan.shipped_instance
    assert plan.env["ACME_TOKEN"] == "t"  # tokens reach the webserver, daemon and runs
    assert plan.env["PATH"].split(":")[0] == str(Path(plan.argv[0]).parent)
    assert plan.env["PATH"].endswith("/usr/bin")
    assert plan.marts_path == folder / "data" / "marts.duckdb"
    assert plan.notes == []


def test_the_settings_are_found_as_every_command_finds_them(folder: Path) -> None:
    other = folder / "elsewhere" / "client.yaml"
    other.parent.mkdir()
    other.write_text(SETTINGS.replace("home: data", "home: /srv/ads"))
    (folder / "ads_platform.yaml").write_text(SETTINGS)
    from_env = user_plan(None, 3000, {"ADS_PLATFORM_CONFIG": str(other)})
    assert from_env.settings_path == other and from_env.home == Path("/srv/ads")
    explicit = user_plan(str(other), 3000, {})
    assert explicit.env["ADS_PLATFORM_CONFIG"] == str(other)
    assert user_plan(None, 3000, {}).settings_path == folder / "ads_platform.yaml"


def test_an_explicit_dagster_home_is_kept(folder: Path) -> None:
    (folder / "ads_platform.yaml").write_text(SETTINGS)
    plan = user_plan(None, 3000, {"DAGSTER_HOME": "/srv/dagster"})
    assert plan.env["DAGSTER_HOME"] == "/srv/dagster" and not plan.shipped_instance


def test_an_unset_token_variable_is_said_before_the_ui_starts(folder: Path) -> None:
    (folder / "ads_platform.yaml").write_text(SETTINGS)
    (note,) = user_plan(None, 3000, {}).notes
    assert note.startswith("ACME_TOKEN is not set: act_11's runs will fail")


def test_without_a_settings_file_dev_says_how_to_get_one(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ADS_PLATFORM_CONFIG", raising=False)
    result = CliRunner().invoke(main, ["dev"])
    assert result.exit_code == 2
    assert "no settings file" in result.output and "ads-platform init" in result.output
    assert "ads-platform dev --demo" in result.output
    assert "Traceback" not in result.output


def test_an_invalid_settings_file_stops_dev_with_the_field(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ADS_PLATFORM_CONFIG", raising=False)
    (folder / "ads_platform.yaml").write_text("accounts:\n  - {id: '12', token_env: T}\n")
    result = CliRunner().invoke(main, ["dev"])
    assert result.exit_code == 2
    assert "accounts[0].id: '12' is not an ad account id" in result.output


def test_dev_demo_serves_the_sandbox_with_the_demo_settings_and_their_tokens(
    tmp_path: Path,
) -> None:
    plan = demo_plan(
        tmp_path / "home",
        "http://127.0.0.1:8765",
        ["act_1", "act_2"],
        3000,
        start_date=dt.date(2026, 9, 1),
        environ={},
    )
    assert plan.settings_path == tmp_path / "home" / "demo" / "ads_platform.yaml"
    assert plan.env["ADS_PLATFORM_CONFIG"] == str(plan.settings_path)
    assert plan.env["DAGSTER_HOME"] == str(tmp_path / "home" / "dagster")
    assert plan.env["DEMO_META_TOKEN_ACT_1"] == "sandbox-token-act_1"
    assert "http://127.0.0.1:8765" in plan.settings_path.read_text()
