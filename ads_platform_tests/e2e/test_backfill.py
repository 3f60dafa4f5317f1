"""A 30-day × 3-account backfill through Dagster's own backfill daemon path.

Proves the design: few runs (at most one per account), few API calls (about the pages
needed: one ad-level range request per account plus its pages, one account-level
reconciliation request, one reachability check), and every partition materialized.
"""

from __future__ import annotations

import datetime as dt
import math
import signal

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus

from ads_platform.interrupts import forget_interrupt, raise_interrupt
from ads_platform.partitions import key_for
from ads_platform_tests.conftest import SANDBOX_TODAY, Platform
from ads_platform_tests.e2e.helpers import setup_accounts, stored_daily_totals
from ads_platform_tests.launch import SYNC_LAUNCH_OVERRIDES, backfill_through_daemon

DAYS = 30
PAGE_LIMIT = 500

pytestmark = pytest.mark.slow


def test_backfill_is_few_runs_and_few_calls(platform: Platform) -> None:
    with dg.instance_for_test(overrides=SYNC_LAUNCH_OVERRIDES) as instance:
        platform.instance = instance
        setup_accounts(platform, entities=False)
        until = SANDBOX_TODAY - dt.timedelta(days=1)
        since = until - dt.timedelta(days=DAYS - 1)
        keys = [
            key_for(account, since + dt.timedelta(days=i))
            for account in platform.accounts
            for i in range(DAYS)
        ]
        runs_before = len(instance.get_runs())
        platform.sandbox.reset_stats()
        status = backfill_through_daemon(
            instance, [str(k) for k in keys], ["ad_insights_daily"], backfill_id="backfill30x3"
        )
        assert status == BulkActionStatus.COMPLETED_SUCCESS
        runs = instance.get_runs()[: len(instance.get_runs()) - runs_before]
        assert 1 <= len(runs) <= len(platform.accounts)
        materialized = set(instance.get_materialized_partitions(dg.AssetKey("ad_insights_daily")))
        assert {str(k) for k in keys} <= materialized

        # API calls stay near the pages strictly needed.
        stats = platform.sandbox.stats()
        insight_calls = sum(n for path, n in stats["by_path"].items() if path.endswith("/insights"))
        account_calls = sum(
            n
            for path, n in stats["by_path"].items()
            if path.startswith("/act_") and path.count("/") == 1
        )
        needed = 0
        for account in platform.accounts:
            ad_rows = sum(int(d["rows"]) for d in stored_daily_totals(platform, account).values())
            needed += max(1, math.ceil(ad_rows / PAGE_LIMIT)) + 1  # ad-level pages + account level
        assert account_calls <= len(platform.accounts) + 1
        assert insight_calls <= needed + len(platform.accounts), (insight_calls, needed)


class _LosesItsInterrupt:
    """An object whose finalizer meets the interrupt: Python ignores what ``__del__``
    raises ("Exception ignored in"), as it ignores an at-fork hook's."""

    def __del__(self) -> None:
        raise_interrupt(signal.SIGTERM, None)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_interrupt_python_ignored_still_stops_the_backfill_loop(platform: Platform) -> None:
    with dg.instance_for_test(overrides=SYNC_LAUNCH_OVERRIDES) as instance:
        platform.instance = instance
        setup_accounts(platform, entities=False)
        until = SANDBOX_TODAY - dt.timedelta(days=1)
        keys = [
            str(key_for(a, until - dt.timedelta(days=i))) for a in platform.accounts for i in (0, 1)
        ]

        def lose_an_interrupt() -> None:
            _LosesItsInterrupt()  # collected at once: its KeyboardInterrupt goes nowhere

        try:
            with pytest.raises(KeyboardInterrupt):
                backfill_through_daemon(
                    instance,
                    keys,
                    ["ad_insights_daily"],
                    backfill_id="lost-interrupt",
                    on_iteration=lose_an_interrupt,
                )
        finally:
            forget_interrupt()
        backfill = instance.get_backfill("lost-interrupt")
        assert backfill is not None
        assert backfill.status != BulkActionStatus.REQUESTED  # no daemon resumes it later


def test_an_interrupt_just_after_the_backfill_is_added_cancels_it(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where a held interrupt is delivered: as the storage write that added the backfill
    # ends.  Before the loop's own handling began, the backfill stayed REQUESTED.
    with dg.instance_for_test(overrides=SYNC_LAUNCH_OVERRIDES) as instance:
        platform.instance = instance
        setup_accounts(platform, entities=False)
        until = SANDBOX_TODAY - dt.timedelta(days=1)
        keys = [str(key_for(a, until)) for a in platform.accounts]
        add_backfill = instance.add_backfill

        def add_then_interrupted(backfill: object) -> None:
            add_backfill(backfill)  # type: ignore[arg-type]
            raise_interrupt(signal.SIGTERM, None)

        monkeypatch.setattr(instance, "add_backfill", add_then_interrupted)
        try:
            with pytest.raises(KeyboardInterrupt):
                backfill_through_daemon(
                    instance, keys, ["ad_insights_daily"], backfill_id="stopped-at-once"
                )
        finally:
            forget_interrupt()
        backfill = instance.get_backfill("stopped-at-once")
        assert backfill is not None and backfill.status == BulkActionStatus.CANCELED
        assert not instance.get_runs(
            filters=dg.RunsFilter(tags={"dagster/backfill": "stopped-at-once"})
        )
