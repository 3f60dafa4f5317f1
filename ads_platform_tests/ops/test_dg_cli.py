"""``dg check defs`` loads the project's definitions ([tool.dg] in pyproject.toml).

dagster-dg-cli is a dev dependency pinned in requirements.lock with dagster; this test
runs it the way a developer does, with the active environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_dg_check_defs_loads_every_definition_of_the_project(tmp_path: Path) -> None:
    pytest.importorskip("dagster_dg_cli", reason="dagster-dg-cli is not installed (.[dev])")
    env = {
        **os.environ,
        # dbt and dagster from this environment, a throw-away Dagster home and settings.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DAGSTER_HOME": str(tmp_path),
        "ADS_PLATFORM_HOME": str(tmp_path / "home"),
        "DO_NOT_TRACK": "1",
    }
    env.pop("ADS_PLATFORM_CONFIG", None)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from dagster_dg_cli.cli import main; main()",
            "check",
            "defs",
            "--use-active-venv",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "All definitions loaded successfully." in done.stdout
