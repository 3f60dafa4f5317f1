"""The systemd units in deploy/systemd start what the deploy README says, with the right env.

They cannot run under systemd here; what can be checked is that every unit is
well-formed, runs a program the project installs (with arguments that program accepts),
reads its environment from the one env file, and that the env file names exactly the
variables the platform and Dagster read.
"""

from __future__ import annotations

import configparser
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
ENV_FILE = ROOT / "deploy" / "systemd" / "ads-platform.env.example"
VENV_BIN = Path(sys.executable).parent
INSTALL_DIR = "/opt/ads_platform"


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser


def test_there_is_a_unit_for_the_webserver_the_daemon_and_the_dashboard() -> None:
    assert [p.name for p in UNITS] == [
        "ads-platform-daemon.service",
        "ads-platform-dashboard.service",
        "ads-platform-webserver.service",
    ]
    readme = (ROOT / "deploy" / "README.md").read_text()
    for path in UNITS:
        assert path.name in readme


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_each_unit_runs_an_installed_program_with_arguments_it_accepts(path: Path) -> None:
    unit = _unit(path)
    assert set(unit.sections()) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    assert service["EnvironmentFile"] == "/etc/ads_platform/ads_platform.env"
    assert service["WorkingDirectory"] == INSTALL_DIR
    assert service["User"] == "ads_platform"  # never root
    argv = shlex.split(service["ExecStart"])
    program = Path(argv[0])
    assert program.parent == Path(INSTALL_DIR) / ".venv" / "bin"
    installed = VENV_BIN / program.name
    assert installed.exists(), f"{program.name} is not installed by the project"
    if "workspace.yaml" in argv:
        assert (ROOT / "workspace.yaml").exists()
    # The arguments parse: every option the unit passes is one the program lists.
    helped = subprocess.run(
        [str(installed), *argv[1:2], "--help"]
        if program.name != "dagster-webserver"
        else [str(installed), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert helped.returncode == 0, helped.stderr[-2000:]
    for option in (a for a in argv[1:] if a.startswith("-")):
        assert option in helped.stdout, f"{path.name}: {option} not accepted by {program.name}"


def test_the_env_file_names_what_the_platform_reads_and_holds_no_secret() -> None:
    keys = {}
    for line in ENV_FILE.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            keys[key] = value
    source = "\n".join(p.read_text() for p in (ROOT / "ads_platform").rglob("*.py"))
    source += (ROOT / "deploy" / "dagster.postgres.yaml").read_text()
    for key in keys:
        if key.startswith("META_TOKEN_"):
            continue  # an account's token_env: named in ads_platform.yaml
        assert re.search(rf"\b{key}\b", source), f"{key} is read by nothing"
    for key, value in keys.items():
        if key.endswith(("_KEY", "_URL")) or key.startswith("META_TOKEN_"):
            assert "CHANGE_ME" in value, f"{key} must be a placeholder, not a value"
