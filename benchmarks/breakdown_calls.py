"""What the breakdowns cost in Graph API calls per account-day, measured on real pulls.

Starts the sandbox, then for one account pulls the same days the way a range run does:
the unbroken ad-level insights (with the account totals beside them), then each
breakdown, each through the platform's own pull functions and GraphClient (paging,
async report runs above 31 days, retries).  Prints HTTP calls and pages per pull and
the extra calls per account-day the breakdowns add, for a daily run (lookback range)
and a backfill range.  Calls counted by the client (``CallStats``), so an async report
run counts its create, polls and result pages.

    .venv/bin/python benchmarks/breakdown_calls.py [--days 1 28 90] [--ads 40]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

from ads_platform.datasets import BREAKDOWNS
from ads_platform.ingestion.breakdowns import pull_account_breakdown
from ads_platform.ingestion.insights import AccountInfo, pull_account_insights
from ads_platform.lake import Lake
from ads_platform.meta.client import GraphClient
from ads_platform.meta.stats import CallStats
from ads_platform.sandbox import Sandbox

TODAY = dt.date(2026, 3, 15)
WINDOWS = ("1d_click", "7d_click", "1d_view")


def _client(sb: Sandbox, account_id: str, stats: CallStats) -> GraphClient:
    return GraphClient(
        access_token=f"sandbox-token-{account_id}",
        base_url=sb.base_url,
        stats=stats,
        async_poll_interval=0.05,
        async_poll_max_interval=0.2,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, nargs="+", default=[1, 28, 90])
    parser.add_argument("--ads", type=int, default=40)
    args = parser.parse_args()
    with (
        Sandbox(
            seed=7,
            accounts=1,
            subprocess=True,
            today=TODAY,
            ads_per_account=args.ads,
            async_delay_scale=0,
        ) as sb,
        tempfile.TemporaryDirectory() as tmp,
    ):
        account_id = sb.account_ids[0]
        node = next(a for a in sb.info()["accounts"] if a["id"] == account_id)
        account = AccountInfo.from_node(account_id, node)
        now = dt.datetime.combine(TODAY, dt.time(12), dt.UTC)
        print(f"{args.ads} ads, account {account_id} ({account.timezone_name}), today {TODAY}")
        print(f"{'days':>5} {'pull':<14} {'calls':>6} {'pages':>6} {'calls/acct-day':>15}")
        for n in args.days:
            until = TODAY - dt.timedelta(days=1)
            days = [until - dt.timedelta(days=i) for i in range(n)]
            lake = Lake(Path(tmp) / f"lake{n}")
            stats = CallStats()
            with _client(sb, account_id, stats) as client:
                pull_account_insights(
                    client,
                    lake,
                    account,
                    days,
                    run_id="bench",
                    attribution_windows=WINDOWS,
                    now=now,
                )
            base = stats.total("calls")
            print(
                f"{n:>5} {'unbroken':<14} {base:>6.0f} {stats.total('pages'):>6.0f} "
                f"{base / n:>15.2f}"
            )
            extra = 0.0
            for breakdown in BREAKDOWNS.values():
                stats = CallStats()
                with _client(sb, account_id, stats) as client:
                    result = pull_account_breakdown(
                        client,
                        lake,
                        account,
                        days,
                        breakdown,
                        run_id="bench",
                        attribution_windows=WINDOWS,
                        now=now,
                    )
                assert all(o.ok for o in result.outcomes), [o.message for o in result.outcomes]
                calls = stats.total("calls")
                extra += calls
                print(
                    f"{n:>5} {breakdown.key:<14} {calls:>6.0f} {stats.total('pages'):>6.0f} "
                    f"{calls / n:>15.2f}"
                )
            label = f"all {len(BREAKDOWNS)} (extra)"
            print(f"{n:>5} {label:<14} {extra:>6.0f} {'':>6} {extra / n:>15.2f}")


if __name__ == "__main__":
    main()
