"""Requests per second the Graph API sandbox serves on loopback.

Starts the sandbox in a child process (``python -m ads_platform.sandbox``), then
fires N simple ``GET /v25.0/act_<id>`` requests (1) sequentially from one
keep-alive ``httpx.Client`` and (2) from a thread pool, each worker with its own
keep-alive client, and prints the rates. A last, smaller round measures a
realistic ad-level daily insights page. Client and server share the machine's
cores, so the figures are a floor for the server.

    .venv/bin/python benchmarks/sandbox_throughput.py [--requests 3000] [--workers 4]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from ads_platform.sandbox import Sandbox

TOKEN = "EAAbenchmarkTOKEN"


def _run(
    base_url: str, n: int, workers: int, make_request: Callable[[httpx.Client, int], int]
) -> float:
    local = threading.local()
    clients: list[httpx.Client] = []
    lock = threading.Lock()

    def client() -> httpx.Client:
        c = getattr(local, "client", None)
        if c is None:
            c = httpx.Client(
                base_url=base_url,
                headers={"Authorization": f"Bearer {TOKEN}"},
                trust_env=False,
                timeout=30.0,
            )
            local.client = c
            with lock:
                clients.append(c)
        return c

    def one(i: int) -> int:
        return make_request(client(), i)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(min(n, workers * 4))))  # warm-up: open connections
        start = time.perf_counter()
        statuses = list(pool.map(one, range(n)))
        elapsed = time.perf_counter() - start
    for c in clients:
        c.close()
    bad = [s for s in statuses if s != 200]
    if bad:
        raise SystemExit(f"{len(bad)} requests failed (first status {bad[0]})")
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--ads", type=int, default=100)
    args = parser.parse_args()

    today = dt.date(2026, 3, 15)
    with Sandbox(
        seed=7, accounts=args.accounts, subprocess=True, today=today, ads_per_account=args.ads
    ) as sb:
        accounts = sb.account_ids

        def simple(c: httpx.Client, i: int) -> int:
            return c.get(f"/v25.0/{accounts[i % len(accounts)]}").status_code

        rate = _run(sb.base_url, args.requests, 1, simple)
        print(
            f"simple GET act_<id>: {args.requests} requests, one keep-alive client: "
            f"{rate:,.0f} requests/s"
        )
        rate = _run(sb.base_url, args.requests, args.workers, simple)
        print(
            f"simple GET act_<id>: {args.requests} requests, {args.workers} keep-alive "
            f"clients: {rate:,.0f} requests/s"
        )

        day_range = json.dumps({"since": "2026-03-01", "until": "2026-03-01"})

        def insights(c: httpx.Client, i: int) -> int:
            params = {
                "level": "ad",
                "time_range": day_range,
                "time_increment": "1",
                "fields": "ad_id,spend,impressions,reach,clicks,actions,action_values",
                "limit": "100",
            }
            return c.get(
                f"/v25.0/{accounts[i % len(accounts)]}/insights", params=params
            ).status_code

        n = max(50, args.requests // 10)
        rate = _run(sb.base_url, n, args.workers, insights)
        print(
            f"ad-level daily insights page ({args.ads} ads, limit 100): {n} requests: "
            f"{rate:,.0f} requests/s"
        )
        print(f"usage after the run: {sb.stats()['total']} Graph calls counted")


if __name__ == "__main__":
    main()
