"""What breakdowns cost the Graph API sandbox: rows, pages and seconds per pull.

Starts the sandbox in a child process and pulls one account-month of daily insights
(``time_increment=1``) at ad and at account level, without breakdowns and with each
breakdown family, following ``paging.next``, and prints rows, pages and wall time
per pull. Client and server share the machine's cores: report the load with the
figures.

    .venv/bin/python benchmarks/sandbox_breakdowns.py [--days 30] [--ads 40] [--limit 500]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

import httpx

from ads_platform.sandbox import Sandbox

TOKEN = "EAAbenchmarkTOKEN"
TODAY = dt.date(2026, 3, 15)
BREAKDOWNS = (
    None,
    "age,gender",
    "publisher_platform,platform_position",
    "country",
    "region",
)
FIELDS = "spend,impressions,reach,clicks,inline_link_clicks,actions,action_values"


def _pull(client: httpx.Client, path: str, params: dict[str, str]) -> tuple[int, int]:
    body = client.get(path, params=params).json()
    rows, pages = len(body["data"]), 1
    while "next" in body.get("paging", {}):
        body = client.get(body["paging"]["next"]).json()
        rows += len(body["data"])
        pages += 1
    return rows, pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--ads", type=int, default=40)
    parser.add_argument("--limit", type=int, default=500)
    args = parser.parse_args()
    until = TODAY - dt.timedelta(days=1)
    since = until - dt.timedelta(days=args.days - 1)
    with (
        Sandbox(
            seed=7,
            accounts=1,
            subprocess=True,
            today=TODAY,
            ads_per_account=args.ads,
            async_delay_scale=0,
        ) as sb,
        httpx.Client(
            base_url=sb.base_url,
            headers={"Authorization": f"Bearer {TOKEN}"},
            trust_env=False,
            timeout=300.0,
        ) as client,
    ):
        account = sb.account_ids[0]
        print(f"{args.ads} ads, {args.days} days ({since}..{until}), limit {args.limit}")
        print(f"{'breakdowns':<38} {'level':<8} {'rows':>7} {'pages':>6} {'seconds':>8}")
        for breakdowns in BREAKDOWNS:
            for level in ("ad", "account"):
                params = {
                    "level": level,
                    "fields": FIELDS,
                    "time_range": json.dumps(
                        {"since": since.isoformat(), "until": until.isoformat()}
                    ),
                    "time_increment": "1",
                    "limit": str(args.limit),
                }
                if breakdowns:
                    params["breakdowns"] = breakdowns
                start = time.perf_counter()
                rows, pages = _pull(client, f"/v25.0/{account}/insights", params)
                elapsed = time.perf_counter() - start
                label = breakdowns or "(none)"
                print(f"{label:<38} {level:<8} {rows:>7} {pages:>6} {elapsed:>8.2f}")


if __name__ == "__main__":
    main()
