"""An offline platform home (two accounts: Tokyo and Los Angeles) and a real instance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from ads_platform_tests.automation.helpers import (
    LOS_ANGELES,
    TOKYO,
    Env,
    Receiver,
    token_env,
    write_settings,
)


@pytest.fixture(scope="session")
def shared_instance() -> Iterator[dg.DagsterInstance]:
    """One SQLite instance for the session (creating one costs ~2 s), wiped per test."""
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_instance: dg.DagsterInstance
) -> Env:
    home = tmp_path / "home"
    config = write_settings(home, [TOKYO, LOS_ANGELES])
    for account in (TOKYO, LOS_ANGELES):
        monkeypatch.setenv(token_env(account), f"token-for-{account}-0123456789")
    monkeypatch.setenv("ADS_PLATFORM_CONFIG", str(config))
    monkeypatch.setenv("ADS_PLATFORM_HOME", str(home))
    monkeypatch.delenv("ADS_PLATFORM_ALERT_WEBHOOK_URL", raising=False)
    shared_instance.wipe()  # runs, events and dynamic partitions
    return Env(home, config, shared_instance)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on loopback (answers 200, 500 or hangs; records the bodies)."""
    r = Receiver()
    yield r
    r.close()
