"""Shared fixtures: a sandbox on loopback, demo settings pointing at it, an instance."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from ads_platform.demo import write_demo_settings
from ads_platform.sandbox import Sandbox

# The reliability recorder (the ``reliability`` fixture and docs/reliability.md): any test
# may report rows of the fault matrix's table.  ``scheduling``: how ``-n 2 --dist
# loadscope`` splits the suite.  ``pytester`` runs those plugins in a pytest of its own.
pytest_plugins = [
    "ads_platform_tests.reliability.recorder",
    "ads_platform_tests.scheduling",
    "pytester",
]

# A fixed clock makes every expectation reproducible (the sandbox's data is a pure
# function of the seed and the clock).
SANDBOX_TODAY = dt.date(2026, 11, 20)


@dataclass
class Platform:
    sandbox: Sandbox
    home: Path
    config_path: Path
    instance: dg.DagsterInstance
    tokens: dict[str, str]

    @property
    def accounts(self) -> list[str]:
        # Sorted: the order ad_accounts adds them to the dynamic partition set, so a
        # partition range from the first to the last account covers all of them.
        return sorted(self.sandbox.account_ids)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    # Async report runs take a hundredth of Meta's time: still "not done" at the first poll.
    with Sandbox(seed=11, accounts=3, today=SANDBOX_TODAY, async_delay_scale=0.01) as sb:
        yield sb


def reset_sandbox(sandbox: Sandbox) -> None:
    """The shared sandbox as every test expects to find it: no faults, its fixed today, no
    forced token expiry.

    Why one function: the session sandbox outlives each test, and a test that expired an
    account's token and ended (the backfill command's broken account) failed a later
    module's ingestion of that account in CI, far from its cause.  Fixtures that use the
    session sandbox reset it through here, before and after.
    """
    sandbox.clear_faults()
    sandbox.set_today(SANDBOX_TODAY)
    for account_id in sandbox.account_ids:
        sandbox.set_token_expiry(account_id, None)


@pytest.fixture
def fresh_sandbox(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The session sandbox, reset before and after the test (see :func:`reset_sandbox`)."""
    reset_sandbox(sandbox)
    yield sandbox
    reset_sandbox(sandbox)


def in_memory_instance(tempdir: Path) -> dg.DagsterInstance:
    """Dagster's in-memory instance, for tests whose runs stay in this process.

    The same SQL event-log and run storage code on an in-memory SQLite database.  The
    on-disk SQLite instance opens and closes a database connection for every event,
    which took a third of the CPU of an ingestion test (e2e/test_ingestion.py: 32 s
    against 20 s).  Runs that cross processes (a sensor launching runs, a daemon, a
    CLI) need the on-disk one: those tests, the CLI tests and the PostgreSQL tests keep
    the shipped storages under test.  Use it as a context manager.
    """
    return dg.DagsterInstance.ephemeral(tempdir=str(tempdir))


@pytest.fixture
def platform(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[Platform]:
    """Fresh home, settings and instance per test; the sandbox is shared and reset.

    The instance is :func:`in_memory_instance` unless the test is marked
    ``persistent_instance`` (its runs cross processes).
    """
    reset_sandbox(sandbox)
    home = tmp_path / "home"
    config_path, tokens = write_demo_settings(
        home,
        sandbox.base_url,
        sandbox.account_ids,
        start_date=dt.date(2026, 1, 1),
        extra={
            "meta": {"max_retries": 3, "retry_budget_seconds": 30.0, "read_timeout_seconds": 2.0}
        },
    )
    for key, value in {
        **tokens,
        "ADS_PLATFORM_CONFIG": str(config_path),
        "ADS_PLATFORM_HOME": str(home),
    }.items():
        monkeypatch.setenv(key, value)
    if request.node.get_closest_marker("persistent_instance"):
        instance_context: Any = dg.instance_for_test()
    else:
        instance_context = in_memory_instance(tmp_path / "dagster")
    with instance_context as instance:
        yield Platform(sandbox, home, config_path, instance, tokens)
    reset_sandbox(sandbox)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    del config, items
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


#: Variables that point the platform at a home, a settings file, a Graph API or a token.
_PLATFORM_ENV_PREFIXES = ("ADS_PLATFORM_", "META_", "DEMO_META_TOKEN_", "DAGSTER_HOME")
_SESSION_ENV = {k: v for k, v in os.environ.items() if k.startswith(_PLATFORM_ENV_PREFIXES)}


@pytest.fixture(autouse=True)
def _platform_environment_as_the_session_started() -> None:
    """Every test starts from the environment the session started with.

    A fixture or test that sets ``ADS_PLATFORM_HOME`` (or a token variable) without
    undoing it would silently point every later test at its home: a failure far from
    its cause.  Fixtures that need the variables set them after this one runs.
    """
    for key in [k for k in os.environ if k.startswith(_PLATFORM_ENV_PREFIXES)]:
        if key not in _SESSION_ENV:
            del os.environ[key]
    os.environ.update(_SESSION_ENV)
