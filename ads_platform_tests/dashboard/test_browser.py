"""One test in a real browser: ``ads-platform dashboard`` on loopback, Debian's chromium.

What a person sees on the overview and on a client's account page (reached by the link
an agency sends), read from the rendered page; screenshots are kept as test artifacts
(``$ADS_PLATFORM_TEST_ARTIFACTS`` or ``.test-artifacts/`` at the repository root).

Chromium comes from Debian's package (``.ci/run`` installs it), never from
``playwright install``.  Without it the test skips with the reason, except in CI
(``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ads_platform.dashboard.model import resolve_period
from ads_platform_tests.dashboard.conftest import DashboardWorld


def _stale_coverage_of_last_7_days(world: DashboardWorld) -> tuple[int, int]:
    """(covered, days) of the stale account's "last 7 days" as the dashboard sees it now.

    Its periods follow the account's own today by the real clock: for a Tokyo account
    that is already tomorrow after 15:00 UTC, so the count depends on the hour.
    """
    today = world.account_today(world.stale)
    period = resolve_period("last_7d", today)
    days = (period.end - period.start).days + 1
    last_good = world.stale_last_good_day
    covered = sum(1 for n in range(days) if period.start + dt.timedelta(days=n) <= last_good)
    return covered, days


pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
LOAD_TIMEOUT_MS = 90_000


def artifacts_dir() -> Path:
    path = Path(os.environ.get("ADS_PLATFORM_TEST_ARTIFACTS") or REPO / ".test-artifacts")
    path = path / "dashboard"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _require_chromium() -> None:
    if Path(CHROMIUM).exists() or shutil.which("chromium"):
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run must apt-get install chromium")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); CI installs it")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def dashboard_url(dashboard_world: DashboardWorld) -> Iterator[str]:
    """``ads-platform dashboard`` serving the session's marts on a free loopback port."""
    port = _free_port()
    cli = Path(sys.executable).with_name("ads-platform")
    proc = subprocess.Popen(
        [str(cli), "dashboard", "--marts", str(dashboard_world.marts), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the dashboard did not start within 60 s"
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_a_person_sees_the_overview_and_a_clients_account_page_in_a_browser(
    dashboard_world: DashboardWorld, dashboard_url: str
) -> None:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    world, shots = dashboard_world, artifacts_dir()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1600})
            page.goto(f"{dashboard_url}/")
            # exact: the download button below the table says "Download totals per currency".
            page.get_by_text("Totals per currency", exact=True).wait_for(timeout=LOAD_TIMEOUT_MS)
            grid = page.locator("[data-testid='stDataFrame']").first
            grid.wait_for(timeout=LOAD_TIMEOUT_MS)
            body = page.locator("body").inner_text()
            page.screenshot(path=str(shots / "overview.png"), full_page=True)
            assert "Overview" in body
            assert "1 of 3 account(s) have stale data" in body
            assert "token expired — re-authorize" in body
            assert not page.locator("[data-testid='stException']").count()
            assert "Page not found" not in body

            # The link an agency sends a client: the account and the period in the URL.
            page.goto(f"{dashboard_url}/account?account={world.stale}&period=last_7d")
            page.get_by_text("Reach and frequency", exact=True).wait_for(timeout=LOAD_TIMEOUT_MS)
            page.locator("[data-testid='stMetric']").first.wait_for(timeout=LOAD_TIMEOUT_MS)
            body = page.locator("body").inner_text()
            page.screenshot(path=str(shots / "account_stale.png"), full_page=True)
            assert world.stale in body
            assert "Page not found" not in body
            assert "token expired — re-authorize" in body
            covered, days = _stale_coverage_of_last_7_days(world)
            assert f"This period covers {covered} of {days} days" in body
            # Streamlit renders in passes: wait for the KPI row, then read it.
            wanted = ["Spend", "Impressions", "Link clicks"]
            labels: list[str] = []
            deadline = time.monotonic() + LOAD_TIMEOUT_MS / 1000
            while time.monotonic() < deadline:
                texts = page.locator("[data-testid='stMetricLabel']").all_inner_texts()
                labels = [label.strip() for label in texts[:3]]
                if labels == wanted:
                    break
                page.wait_for_timeout(250)
            assert labels == wanted
            assert not page.locator("[data-testid='stException']").count()

            page.goto(f"{dashboard_url}/account?account={world.quiet}")
            page.get_by_text("No delivery in this period").wait_for(timeout=LOAD_TIMEOUT_MS)
            page.screenshot(path=str(shots / "account_quiet.png"), full_page=True)
        finally:
            browser.close()
