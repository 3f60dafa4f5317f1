"""``ads-platform dashboard``: what it serves and what it refuses, before any server starts."""

from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner

from ads_platform.cli import main
from ads_platform.dashboard.server import APP_PATH, MARTS_ENV, dashboard_env, streamlit_command


def test_the_command_is_listed_with_its_options() -> None:
    result = CliRunner().invoke(main, ["dashboard", "--help"])
    assert result.exit_code == 0
    for option in ("--port", "--host", "--config", "--marts"):
        assert option in result.output


def test_it_refuses_to_serve_dbts_private_build_database(tmp_path: Path) -> None:
    home = tmp_path / "home"
    build_db = home / "warehouse" / "marts.duckdb"
    build_db.parent.mkdir(parents=True)
    build_db.write_bytes(b"")
    result = CliRunner().invoke(
        main, ["dashboard", "--marts", str(build_db)], env={"ADS_PLATFORM_HOME": str(home)}
    )
    assert result.exit_code == 2
    assert "private build database" in result.output
    assert "Traceback" not in result.output


def test_a_broken_settings_file_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "ads_platform.yaml"
    config.write_text("accounts: [unclosed\n")
    result = CliRunner().invoke(main, ["dashboard", "--config", str(config)])
    assert result.exit_code == 2
    assert result.output.startswith("error: ")
    assert "Traceback" not in result.output


def test_streamlit_is_told_to_stay_offline_on_loopback(tmp_path: Path) -> None:
    command = streamlit_command(8765)
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(APP_PATH)]
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.address"] == "127.0.0.1"
    assert options["--server.port"] == "8765"
    assert options["--browser.gatherUsageStats"] == "false"  # no call home: offline
    assert options["--server.headless"] == "true"
    env = dashboard_env(tmp_path / "marts.duckdb", base={})
    assert env == {MARTS_ENV: str((tmp_path / "marts.duckdb").resolve())}
