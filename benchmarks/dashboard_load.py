"""Twenty people open a client's account page at once: a load test in real browsers.

Usage::

    .venv/bin/python benchmarks/dashboard_load.py --marts .ads_platform/marts.duckdb
        [--users 20] [--account act_…] [--no-publish]

Why browsers: a Streamlit page is rendered over a websocket session (the page script
runs in a thread of the server per session, then streams its elements), so a plain HTTP
``GET /`` only fetches the static shell and proves nothing.  AppTest sessions cannot
run concurrently in one process (each patches Streamlit's global runtime) and skip the
server.  So this script starts ``ads-platform dashboard`` on loopback exactly as a user
does and drives ``--users`` headless chromium sessions (Debian's ``/usr/bin/chromium``,
one browser, one isolated context per user) that all open the same account link at
the same moment, and waits until each page is fully rendered.

It checks what every user sees: the page has no error, shows the account's spend as
the data layer computes it from the marts, and the same for all.  Unless
``--no-publish``, it then publishes the marts again (``publish_marts``, what a dbt build
does: a new file renamed over the served one) while a second wave of ``--users``
sessions is loading, and checks that no session errors and all of them render.

The marts file is copied to a temporary directory first: the served copy is the one
republished, the file given is never touched.  Traffic goes to 127.0.0.1 only; every
wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from ads_platform.dashboard import data
from ads_platform.dashboard.model import fmt_metric
from ads_platform.dashboard.reader import MartsReader
from ads_platform.warehouse import publish_marts

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
PAGE_TIMEOUT_MS = 180_000
#: What the page says when the marts could not be read (ads_platform.dashboard.reader).
DATA_ERRORS = ("cannot open the marts", "no marts at", "keep changing", "Error:")


@dataclass
class Visit:
    user: int
    seconds: float
    ok: bool
    spend: str = ""
    error: str = ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def expected_spend(marts: Path, account_id: str) -> tuple[str, str]:
    """The spend KPI of the default period as the data layer computes it, and the name."""
    reader = MartsReader(marts)
    try:
        loaded = data.Marts.load(reader)
        summary = data.account_summary(loaded, data.PeriodChoice("last_7d"), account_id)
        text = fmt_metric("spend", summary.current.get("spend"), summary.currency)
        return text, loaded.accounts[account_id].display_name
    finally:
        reader.close()


def first_account(marts: Path) -> str:
    reader = MartsReader(marts)
    try:
        return next(iter(data.Marts.load(reader).accounts))
    finally:
        reader.close()


async def visit(browser: object, url: str, user: int, start: asyncio.Event) -> Visit:
    context = await browser.new_context(viewport={"width": 1280, "height": 1400})  # type: ignore[attr-defined]
    page = await context.new_page()
    await start.wait()
    began = time.perf_counter()
    try:
        await page.goto(url, timeout=PAGE_TIMEOUT_MS)
        await page.get_by_text("Reach and frequency").wait_for(timeout=PAGE_TIMEOUT_MS)
        metric = page.locator("[data-testid='stMetricValue']").first
        await metric.wait_for(timeout=PAGE_TIMEOUT_MS)
        # Rendered: the last section is there and the script has finished running.
        await page.locator("[data-testid='stStatusWidget']").wait_for(
            state="hidden", timeout=PAGE_TIMEOUT_MS
        )
        spend = (await metric.inner_text()).strip()
        exceptions = await page.locator("[data-testid='stException']").count()
        body = await page.locator("body").inner_text()
        seconds = time.perf_counter() - began
        broken = [m for m in DATA_ERRORS if m in body]
        if exceptions or broken:
            return Visit(user, seconds, False, spend, f"{exceptions} exception(s) {broken}")
        return Visit(user, seconds, True, spend)
    except Exception as exc:
        return Visit(
            user, time.perf_counter() - began, False, error=" ".join(str(exc).split())[:200]
        )
    finally:
        await context.close()


async def wave(url: str, users: int, during: object | None = None) -> list[Visit]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            start = asyncio.Event()
            tasks = [asyncio.create_task(visit(browser, url, i, start)) for i in range(users)]
            await asyncio.sleep(2)  # every context is ready: start them together
            start.set()
            if during is not None:
                await asyncio.sleep(1.0)
                await asyncio.to_thread(during)  # type: ignore[arg-type]
            return list(await asyncio.gather(*tasks))
        finally:
            await browser.close()


def report(title: str, visits: list[Visit], expected: str) -> bool:
    times = sorted(v.seconds for v in visits)
    ok = [v for v in visits if v.ok]
    right = [v for v in ok if v.spend == expected]
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    print(
        f"{title}: {len(ok)}/{len(visits)} pages rendered without error, "
        f"{len(right)}/{len(visits)} show spend {expected}; time to fully rendered "
        f"p50 {statistics.median(times):.1f}s p95 {p95:.1f}s max {times[-1]:.1f}s "
        f"(load {os.getloadavg()[0]:.2f})"
    )
    for v in visits:
        if not v.ok or v.spend != expected:
            print(f"   user {v.user}: {v.error or 'spend shown ' + v.spend}")
    return len(right) == len(visits)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--marts", type=Path, required=True)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--account", default=None)
    parser.add_argument("--no-publish", action="store_true")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")
    work = Path(tempfile.mkdtemp(prefix="dashboard_load_"))
    served = work / "marts.duckdb"
    shutil.copyfile(args.marts, served)
    account_id = args.account or first_account(served)
    expected, name = expected_spend(served, account_id)
    port = free_port()
    cli = Path(sys.executable).with_name("ads-platform")
    server = subprocess.Popen(
        [str(cli), "dashboard", "--marts", str(served), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/account?account={account_id}"
    ok = True
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the dashboard did not start")
            time.sleep(0.3)
        print(f"{args.users} users open {url} ({name}) at once; server pid {server.pid}")
        ok &= report("cold cache", asyncio.run(wave(url, args.users)), expected)
        if not args.no_publish:
            build = work / "warehouse" / "marts.duckdb"
            build.parent.mkdir()
            shutil.copyfile(args.marts, build)

            def publish() -> None:
                result = publish_marts(build, served)
                print(f"   published a new marts file during the wave ({result.seconds:.2f}s)")

            ok &= report(
                "publish during the wave", asyncio.run(wave(url, args.users, publish)), expected
            )
        ok &= report("warm cache", asyncio.run(wave(url, args.users)), expected)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
