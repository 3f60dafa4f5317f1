"""``ads-platform demo`` as a newcomer runs it: a real process, the sandbox, real runs.

A healthy demo prints its steps, dbt's summary and the summary table: no Python
traceback, no Dagster error block, no line per dbt model.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_a_healthy_demo_prints_steps_and_summaries_and_no_traceback(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ADS_PLATFORM_", "DAGSTER_HOME", "DEMO_META_TOKEN_"))
    }
    env["PYTHONPATH"] = str(REPO_ROOT)
    command = ["demo", "--days", "3", "--accounts", "2", "--home", str(tmp_path / "home")]
    done = subprocess.run(
        [sys.executable, "-m", "ads_platform.cli", *command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    for noise in ("Traceback", "Stack Trace", "column lineage", "Error", "Warning:"):
        assert noise not in output, f"{noise!r} in:\n{output}"
    assert not re.search(r"^\d+ of \d+ (START|OK|PASS)", output, re.MULTILINE), output
    assert re.search(r"^Done\. PASS=\d+ WARN=0 ERROR=0", output, re.MULTILINE), output
    assert "Steps:" in output and "FAIL" not in output
    assert len(output.splitlines()) < 80, output
