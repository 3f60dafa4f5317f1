"""The DuckDB 1.x command line that the dev extras install (package ``duckdb-cli``).

The published marts must open in the DuckDB clients users have, not only in the
DuckDB 2.0 Python package the platform runs on.  ``duckdb-cli`` pinned at 1.4 (the
oldest version the published storage format supports) puts a real DuckDB 1.4 binary
beside the venv's Python: the tests run it as a separate process, with no network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def duckdb_cli() -> Path:
    """The venv's ``duckdb`` binary; skips when it is missing, fails under CI."""
    found = shutil.which("duckdb", path=str(Path(sys.executable).parent))
    if found is None:
        reason = (
            "no DuckDB 1.x command line beside this Python: install the dev extras "
            "(`bash scripts/bootstrap.sh`, which installs duckdb-cli from requirements.lock)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return Path(found)


def cli_version(cli: Path) -> str:
    return subprocess.run(
        [str(cli), "--version"], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()[0]


def cli_query(cli: Path, database: Path, sql: str) -> list[dict[str, Any]]:
    """Rows of ``sql`` as the DuckDB command line reads them from ``database``, read-only."""
    done = subprocess.run(
        [str(cli), "-readonly", "-json", str(database), "-c", sql],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"duckdb {database} refused: {done.stderr.strip()}"
    out = done.stdout.strip()
    rows: list[dict[str, Any]] = json.loads(out) if out else []
    return rows
