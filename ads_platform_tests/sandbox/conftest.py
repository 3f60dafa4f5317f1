"""Fixtures for the sandbox's own tests: one shared sandbox (thread mode) per session.

Tests that move the clock or add faults are put back by ``_reset`` so the order of
tests never matters; tests needing other start-up options start their own sandbox.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest

from ads_platform.sandbox import Sandbox

TODAY = dt.date(2026, 3, 15)
TOKEN = "EAAsandboxTESTtoken"


@pytest.fixture(scope="session")
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=7, accounts=3, latency_ms=0, today=TODAY, async_delay_scale=0.01) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def _reset(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sb" in request.fixturenames:
        sandbox: Sandbox = request.getfixturevalue("sb")
        sandbox.clear_faults()
        sandbox.set_today(TODAY)


@pytest.fixture
def client(sb: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=sb.base_url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        trust_env=False,
        timeout=30.0,
    ) as c:
        yield c
