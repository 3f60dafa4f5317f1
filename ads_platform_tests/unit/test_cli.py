"""The command line: clear errors, exit codes, no stack traces."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ads_platform.cli import main


def test_settings_command_validates_and_hides_tokens(tmp_path: Path) -> None:
    config = tmp_path / "ads_platform.yaml"
    config.write_text("accounts:\n  - {id: act_42, token_env: CLIENT_TOKEN}\n")
    runner = CliRunner()
    ok = runner.invoke(
        main, ["settings", "--config", str(config)], env={"CLIENT_TOKEN": "secret-token-value"}
    )
    assert ok.exit_code == 0, ok.output
    assert "act_42" in ok.output
    assert "$CLIENT_TOKEN" in ok.output
    assert "secret-token-value" not in ok.output
    missing = runner.invoke(main, ["settings", "--config", str(config)], env={"CLIENT_TOKEN": ""})
    assert missing.exit_code == 2
    assert "accounts[0].token_env: environment variable CLIENT_TOKEN is not set" in missing.output
    assert "Traceback" not in missing.output


def test_malformed_account_id_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "ads_platform.yaml"
    config.write_text("accounts:\n  - {id: '1234', token_env: T}\n")
    result = CliRunner().invoke(main, ["settings", "--config", str(config)], env={"T": "x" * 12})
    assert result.exit_code == 2
    assert "accounts[0].id: '1234' is not an ad account id" in result.output


def test_sql_without_marts_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["sql", "select 1", "--marts", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 2
    assert "no marts" in result.output.lower()
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "command",
    [
        "init",
        "demo",
        "sandbox",
        "dev",
        "sql",
        "status",
        "backfill",
        "refresh",
        "doctor",
        "settings",
    ],
)
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_the_top_level_help_lists_the_commands_of_running_your_own_accounts() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = {
        line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()
    }
    assert {"init", "dev", "backfill", "refresh", "status", "doctor"} <= listed
