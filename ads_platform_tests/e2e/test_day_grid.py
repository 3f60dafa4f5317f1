"""The definitions' date grid follows the time zones the Graph API gave the accounts."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from ads_platform_tests.conftest import Platform
from ads_platform_tests.e2e.helpers import account_timezone, setup_accounts

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]

#: What a fresh process that loads the definitions sees as the grid.
_PROBE = """
import json
from ads_platform.definitions import load_definitions
grid = load_definitions().resolve_assets_def("ad_insights_daily").partitions_def
days = next(d.partitions_def for d in grid.partitions_defs if d.name == "date")
print(json.dumps({"zone": days.timezone, "last": days.get_last_partition_key()}))
"""


def _grid(config: Path, home: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "ADS_PLATFORM_CONFIG": str(config),
        "ADS_PLATFORM_HOME": str(home),
    }
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    grid: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return grid


def _today(zone: str) -> str:
    return dt.datetime.now(dt.UTC).astimezone(ZoneInfo(zone)).date().isoformat()


def test_the_grid_ends_at_the_accounts_latest_today_once_the_api_described_them(
    platform: Platform, tmp_path: Path
) -> None:
    # Before the first pull nothing says where the accounts are: every today stays on.
    before = _grid(platform.config_path, platform.home)
    assert before["zone"] == "Etc/GMT-14"
    setup_accounts(platform, entities=False)
    zones = {str(account_timezone(platform, a)): a for a in platform.accounts}
    assert {"America/New_York", "Asia/Tokyo"} <= set(zones)
    after = _grid(platform.config_path, platform.home)
    assert after == {"zone": "Asia/Tokyo", "last": _today("Asia/Tokyo")}
    # A user's own settings with the New York account only: the grid ends at its today.
    user = yaml.safe_load(platform.config_path.read_text())
    user["accounts"] = [a for a in user["accounts"] if a["id"] == zones["America/New_York"]]
    user_config = tmp_path / "ads_platform.yaml"
    user_config.write_text(yaml.safe_dump(user))
    assert _grid(user_config, platform.home) == {
        "zone": "America/New_York",
        "last": _today("America/New_York"),
    }
