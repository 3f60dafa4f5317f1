"""Dashboard benchmark: each page's queries, and each page rendered, on the 1.1 M-row marts.

Usage::

    .venv/bin/python benchmarks/dashboard_benchmark.py [--accounts 20 --ads 150 --days 365]
        [--home /tmp/ads_marts_bench] [--keep] [--runs 15]

The marts come from ``marts_benchmark.py``'s lake builder (20 accounts × 150 ads × 365
days = 1,095,000 ad-day rows) and one full dbt build, published as the marts asset
publishes them; ``--keep`` reuses a published ``marts.duckdb`` under ``--home``.

Per page, p50 / p95 / max over ``--runs`` runs of:

1. **queries, cold**: every query the page runs (``ads_platform.dashboard.data``, the
   functions the pages call) on a new reader: the connection is opened and nothing is
   cached - the first visitor after a publish;
2. **queries, warm**: the same on the shared reader - every later visitor (cache hits);
3. **page, cold**: the whole page rendered by Streamlit (``AppTest``: script, queries,
   layout, charts) with the reader's cache cleared before each run.

Target: every page's cold queries under 1 s (p95) on a 2-core machine.  The 1-minute
load average is printed with every block: the machine is shared.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import marts_benchmark

from ads_platform.dashboard import data, queries
from ads_platform.dashboard.reader import MartsReader
from ads_platform.dashboard.server import MARTS_ENV
from ads_platform.warehouse import publish_marts

VIEWS = Path(__file__).resolve().parents[1] / "ads_platform" / "dashboard" / "views"


def ensure_marts(home: Path, accounts: int, ads: int, days: int, keep: bool) -> Path:
    marts = home / "marts.duckdb"
    if keep and marts.exists():
        print(f"reusing {marts} ({marts.stat().st_size / 1e6:.0f} MB)")
        return marts
    import shutil

    shutil.rmtree(home, ignore_errors=True)
    started = time.perf_counter()
    rows, _ = marts_benchmark.build_lake(home, accounts, ads, days)
    print(f"lake: {rows:,} ad-day rows in {time.perf_counter() - started:.1f}s")
    seconds = marts_benchmark.build(home, "full build")
    published = publish_marts(home / "warehouse" / "marts.duckdb", marts)
    print(f"   full build {seconds:.1f}s + publish {published.seconds:.2f}s")
    return marts


def page_queries(reader: MartsReader, account_id: str) -> dict[str, Callable[[], object]]:
    """Exactly what each page asks the data layer (the default period, last 7 days)."""
    choice = data.PeriodChoice("last_7d")

    def overview() -> object:
        return data.overview(data.Marts.load(reader), choice)

    def account() -> object:
        marts = data.Marts.load(reader)
        summary = data.account_summary(marts, choice, account_id)
        return data.account(marts, summary, queries.LEVELS["campaign"], {})

    def account_ads() -> object:
        marts = data.Marts.load(reader)
        summary = data.account_summary(marts, choice, account_id)
        data.parents(marts, account_id, summary.period, "campaign")
        data.parents(marts, account_id, summary.period, "ad_set")
        return data.account(marts, summary, queries.LEVELS["ad"], {})

    def health() -> object:
        return data.health(data.Marts.load(reader))

    return {
        "overview": overview,
        "account (campaigns)": account,
        "account (ads level)": account_ads,
        "data health": health,
    }


def _stats(samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return f"p50 {statistics.median(samples):7.1f} ms  p95 {p95:7.1f} ms  max {samples[-1]:7.1f} ms"


def time_queries(marts: Path, account_id: str, runs: int) -> None:
    print(f"page queries, cold (new reader: open + every query; {runs} runs; {load()}):")
    for name in page_queries(MartsReader(marts), account_id):
        samples = []
        for _ in range(runs):
            reader = MartsReader(marts)
            started = time.perf_counter()
            page_queries(reader, account_id)[name]()
            samples.append((time.perf_counter() - started) * 1000)
            reader.close()
        print(f"   {name:22s} {_stats(samples)}")
    print(f"page queries, warm (shared reader, cached; {runs} runs; {load()}):")
    shared = MartsReader(marts)
    for name, run in page_queries(shared, account_id).items():
        run()
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            run()
            samples.append((time.perf_counter() - started) * 1000)
        print(f"   {name:22s} {_stats(samples)}")
    shared.close()


def time_pages(marts: Path, account_id: str, runs: int) -> None:
    """Whole pages through Streamlit's AppTest (script + queries + layout)."""
    from streamlit.testing.v1 import AppTest

    from ads_platform.dashboard.common import shared_reader

    os.environ[MARTS_ENV] = str(marts)
    # The shared reader is reached outside a script run here: Streamlit warns on each call.
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    print(f"pages rendered by Streamlit, cold cache ({runs} runs; {load()}):")
    for name, view, params in (
        ("overview", "overview", {}),
        ("account (campaigns)", "account", {"account": account_id}),
        ("account (ads level)", "account", {"account": account_id, "level": "ad"}),
        ("data health", "health", {}),
    ):
        samples = []
        for i in range(runs + 1):
            shared_reader(str(marts)).clear_cache()
            at = AppTest.from_file(str(VIEWS / f"{view}.py"), default_timeout=120)
            for key, value in params.items():
                at.query_params[key] = value
            started = time.perf_counter()
            at.run()
            if i:  # the first run imports Streamlit's machinery
                samples.append((time.perf_counter() - started) * 1000)
            assert not at.exception, [e.value for e in at.exception]
        print(f"   {name:22s} {_stats(samples)}")


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--ads", type=int, default=150)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--home", type=Path, default=Path("/tmp/ads_marts_bench"))
    parser.add_argument("--keep", action="store_true", help="reuse a published marts file")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    marts = ensure_marts(args.home.resolve(), args.accounts, args.ads, args.days, args.keep)
    reader = MartsReader(marts)
    rows = int(reader.frame("select count(*) as n from fct_ad_daily")["n"].iloc[0])
    account_id = marts_benchmark.account_ids(args.accounts)[3]
    reader.close()
    print(f"marts: {rows:,} rows in fct_ad_daily; account page for {account_id}")
    time_queries(marts, account_id, args.runs)
    time_pages(marts, account_id, args.runs)


if __name__ == "__main__":
    main()
