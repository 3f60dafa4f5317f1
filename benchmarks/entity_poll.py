"""Entity poll benchmark: what one ``entity_changes`` tick costs at many accounts.

Why: the ``entity_changes`` sensor asks Meta, per account, whether its campaigns, ad
sets or ads changed since its last poll (up to three cheap calls an account), and
Dagster fails a sensor evaluation that takes more than 60 s; a failed tick stores no
cursor, so no change would ever be found.  One poll after another, a tick's time grows
with the accounts times Meta's latency.  The sensor now polls ``POLL_WORKERS`` accounts
at once, oldest poll first, and starts no poll after ``POLL_BUDGET_SECONDS`` of a tick
(``ads_platform/automation/polling.py``).  This script shows what that buys over real
HTTP against the local Graph API sandbox (started in a subprocess, as
``backfill_benchmark.py`` starts it).

It calls ``plan_entity_changes`` (the sensor's own logic, with the sensor's own
``platform_poller(PlatformResource(...))``) directly, without the daemon, with a cursor
in which every account was last polled an hour before the sandbox's instant, so every
account is due.  Rows:

* one at a time (``workers=1``, the behaviour before) within the shipped budget;
* ``POLL_WORKERS`` at once within the shipped budget (what ships);
* one at a time with no budget: the old tick's full time.  When that would take longer
  than ``--full-max-seconds`` (estimated from the first row), it polls only the first
  accounts that fit, and the row says so; ``--no-full`` skips it.

For each: the tick's wall seconds, accounts polled / deferred to the next tick /
failed, changed, the API calls the sandbox served (its stats are reset before each
row), the most polls in flight at once, and whether the tick stayed
under Dagster's 60 s.  The tick measured is the polls plus the cursor's bookkeeping; a
real tick also loads the settings and hands its run requests to the daemon.

Latency: Meta's Graph calls take a few hundred milliseconds each (more for big
accounts or under load), so the default ``--latency-ms 100`` is on the kind side; the
sandbox sleeps that long in every request.  The sandbox serves at most 999 accounts:
a larger ``--accounts`` is lowered to that, and the output says so.

    .venv/bin/python benchmarks/entity_poll.py [--accounts 200] [--latency-ms 100]
        [--ads 5] [--full-max-seconds 150] [--no-full] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ads_platform.automation.common import ACCOUNTS_PARTITION_SET
from ads_platform.automation.polling import POLL_BUDGET_SECONDS, POLL_LIMIT_SECONDS, POLL_WORKERS
from ads_platform.automation.sensors import Poller, plan_entity_changes, platform_poller
from ads_platform.demo import write_demo_settings
from ads_platform.resources import PlatformResource
from ads_platform.sandbox.config import MAX_ACCOUNTS
from ads_platform.settings import Settings
from benchmarks.backfill_benchmark import bench_sandbox
from benchmarks.figures import Figure, load_average, write_json

#: Dagster fails a sensor evaluation after this many seconds.
DAGSTER_SENSOR_SECONDS = 60.0
#: Every account was last polled this long before the tick.
LAST_POLLED = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Mode:
    name: str
    workers: int
    budget_seconds: float
    #: When the tick stops waiting (the shipped limit, or none for the old tick).
    limit_seconds: float = POLL_LIMIT_SECONDS


@dataclass
class Row:
    """What one tick did."""

    mode: Mode
    accounts: int
    wall: float
    poll_seconds: float
    polled: int
    deferred: int
    failed: int
    changed: int
    calls: int
    not_ok: int
    most_at_once: int
    reasons: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def under_limit(self) -> bool:
        return self.wall < DAGSTER_SENSOR_SECONDS

    @property
    def seconds_per_poll(self) -> float:
        """Wall seconds per poll, one at a time (the polls this tick started)."""
        started = self.polled + self.failed
        return self.poll_seconds * self.mode.workers / started if started else 0.0


class InFlight:
    """The sensor's poller, counting the most polls in flight at once.

    Counted here, as the poller sees it: polls, not HTTP requests (the sandbox's
    ``max_in_flight`` counts those, latency included).
    """

    def __init__(self, poller: Poller) -> None:
        self.poller = poller
        self.now = 0
        self.most = 0
        self._lock = threading.Lock()

    def poll(self, settings: Settings, account_id: str, since: dt.datetime) -> bool:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            return self.poller(settings, account_id, since)
        finally:
            with self._lock:
                self.now -= 1


class FailureLog(logging.Handler):
    """Collects the (redacted) warnings of failed polls during one tick."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def tick(
    mode: Mode,
    accounts: list[str],
    *,
    sandbox: Any,
    platform: PlatformResource,
    instance: dg.DagsterInstance,
    now: dt.datetime,
) -> Row:
    """One ``entity_changes`` tick over ``accounts`` (all due), the sandbox's stats reset."""
    settings = platform.settings()
    since = (now - LAST_POLLED).isoformat()
    cursor = {"polled": dict.fromkeys(accounts, since)}
    counted = InFlight(platform_poller(platform))
    failures = FailureLog()
    automation_log = logging.getLogger("ads_platform.automation")
    automation_log.addHandler(failures)
    sandbox.reset_stats()
    started = time.perf_counter()
    try:
        _requests, after, found = plan_entity_changes(
            now,
            settings,
            instance,
            cursor,
            counted.poll,
            workers=mode.workers,
            budget_seconds=mode.budget_seconds,
            limit_seconds=mode.limit_seconds,
        )
    finally:
        wall = time.perf_counter() - started
        automation_log.removeHandler(failures)
    stats = sandbox.stats()
    # The cursor moved exactly the accounts polled without an error.
    moved = {a for a in accounts if after["polled"][a] != since}
    assert moved == set(found.polled), "the cursor moved other accounts than those polled"
    not_ok = sum(n for status, n in stats.get("by_status", {}).items() if status != "200")
    reasons = sorted({m.split(": ", 1)[-1][:160] for m in failures.messages})
    return Row(
        mode=mode,
        accounts=len(accounts),
        wall=wall,
        poll_seconds=found.seconds,
        polled=len(found.polled),
        deferred=len(found.deferred),
        failed=len(found.failed),
        changed=len(found.changed),
        calls=int(stats["total"]),
        not_ok=not_ok,
        most_at_once=counted.most,
        reasons=reasons,
    )


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'mode':<34} {'accounts':>8} {'wall s':>7} {'polled':>6} {'deferred':>8} "
        f"{'failed':>6} {'changed':>7} {'API calls':>9} {'polls at once':>13}  < 60 s"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.mode.name:<34} {r.accounts:>8} {r.wall:>7.1f} {r.polled:>6} {r.deferred:>8} "
            f"{r.failed:>6} {r.changed:>7} {r.calls:>9} {r.most_at_once:>13}  "
            f"{'yes' if r.under_limit else 'NO'}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument(
        "--ads",
        type=int,
        default=5,
        help="ads per account (only the entity edges are read: a few are enough)",
    )
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument(
        "--full-max-seconds",
        type=float,
        default=150.0,
        help="the no-budget row polls only as many accounts as fit in about this long",
    )
    parser.add_argument("--no-full", action="store_true", help="skip the no-budget row")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()

    notes: list[str] = []
    accounts_asked = args.accounts
    n_accounts = min(max(accounts_asked, 1), MAX_ACCOUNTS)
    if n_accounts != accounts_asked:
        notes.append(
            f"--accounts {accounts_asked} lowered to {n_accounts}: the sandbox serves "
            f"1..{MAX_ACCOUNTS} accounts"
        )

    logging.getLogger("dagster").setLevel(logging.WARNING)
    home = Path(tempfile.mkdtemp(prefix="ads_entity_poll_"))
    rows: list[Row] = []
    began = time.monotonic()
    with bench_sandbox(n_accounts, args.ads, args.latency_ms) as sandbox:
        accounts = list(sandbox.account_ids)
        now = dt.datetime.combine(sandbox.today(), dt.time(12), tzinfo=dt.UTC)
        config_path, tokens = write_demo_settings(
            home, sandbox.base_url, accounts, start_date=sandbox.today() - dt.timedelta(days=30)
        )
        os.environ.update(tokens)
        os.environ["ADS_PLATFORM_HOME"] = str(home)
        platform = PlatformResource(config_path=str(config_path))
        with dg.DagsterInstance.ephemeral() as instance:
            instance.add_dynamic_partitions(ACCOUNTS_PARTITION_SET, accounts)

            def run(mode: Mode, due: list[str]) -> Row:
                return tick(
                    mode, due, sandbox=sandbox, platform=platform, instance=instance, now=now
                )

            one = Mode(f"1 at a time, {POLL_BUDGET_SECONDS:.0f} s budget", 1, POLL_BUDGET_SECONDS)
            shipped = Mode(
                f"{POLL_WORKERS} at once, {POLL_BUDGET_SECONDS:.0f} s budget (shipped)",
                POLL_WORKERS,
                POLL_BUDGET_SECONDS,
            )
            rows.append(run(one, accounts))
            rows.append(run(shipped, accounts))
            if not args.no_full:
                per_poll = rows[0].seconds_per_poll
                estimate = per_poll * len(accounts)
                fit = len(accounts)
                if estimate > args.full_max_seconds and per_poll > 0:
                    fit = max(1, math.floor(args.full_max_seconds / per_poll))
                full = run(
                    Mode("1 at a time, no budget (before)", 1, math.inf, math.inf), accounts[:fit]
                )
                if fit < len(accounts):
                    full.note = (
                        f"the first {fit} of {len(accounts)} accounts only: all would take "
                        f"about {estimate:.0f} s ({per_poll * 1000:.0f} ms a poll), past "
                        f"--full-max-seconds {args.full_max_seconds:.0f}"
                    )
                    notes.append(f"no-budget row: {full.note}")
                rows.append(full)
            else:
                notes.append("no-budget row skipped (--no-full)")

    size = f"{n_accounts} accounts, {args.latency_ms} ms"
    print(f"entity_changes tick, {size} a request, every account due (last polled 1 h ago)")
    print(
        f"shipped: {POLL_WORKERS} polls at once, no poll started after "
        f"{POLL_BUDGET_SECONDS:.0f} s, none waited for after {POLL_LIMIT_SECONDS:.0f} s; "
        "Dagster fails a sensor evaluation at "
        f"{DAGSTER_SENSOR_SECONDS:.0f} s"
    )
    print()
    print_table(rows)
    print()
    for r in rows:
        started = r.polled + r.failed
        calls_each = r.calls / started if started else 0.0
        line = (
            f"{r.mode.name}: polls took {r.poll_seconds:.1f} s, "
            f"{r.seconds_per_poll * 1000:.0f} ms a poll, "
            f"{calls_each:.2f} API calls a poll"
        )
        if r.not_ok:
            line += f", {r.not_ok} answers other than 200"
        print(line)
        for reason in r.reasons[:3]:
            print(f"  failed poll: {reason}")
    shipped_row = rows[1]
    if shipped_row.polled:
        rate = shipped_row.polled / shipped_row.poll_seconds
        print(
            f"at this latency a shipped tick polls about {rate * POLL_BUDGET_SECONDS:.0f} "
            f"accounts within its {POLL_BUDGET_SECONDS:.0f} s budget ({rate:.1f} a second)"
        )
    for note in notes:
        print(f"note: {note}")
    print(f"machine: {load_average()}; benchmark {time.monotonic() - began:.0f} s in all")

    figures = [
        Figure(
            f"entity_changes tick wall s, {r.mode.name} ({r.accounts} accounts, "
            f"{args.latency_ms} ms)",
            f"{r.wall:.1f}",
            note=(
                f"{r.polled} polled, {r.deferred} deferred to the next tick, {r.failed} "
                f"failed; {r.calls} API calls; under Dagster's 60 s: "
                f"{'yes' if r.under_limit else 'no'}" + (f"; {r.note}" if r.note else "")
            ),
        )
        for r in rows
    ]
    write_json(args.json, figures)
    return 0 if all(r.failed == 0 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
