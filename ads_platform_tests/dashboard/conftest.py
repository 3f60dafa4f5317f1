"""One marts file for every dashboard test, built once per session from the sandbox.

Three accounts, each a case the dashboard must get right:

* ``normal``: delivered every day, pulled through its local today;
* ``stale``: pulled until four days ago, then its token expired (the sandbox rejects it
  with Meta's 190 and ``debug_token`` says expired): later days are missing with the
  reason, never zeros;
* ``quiet``: a truly quiet account.  The sandbox's world has no account without
  delivery (campaign 0 of every account never stops), so the quiet account is made with
  the sandbox's ``zeros`` fault on an account whose entities were never pulled: every
  pull returns rows with zero spend, impressions and clicks, and the zero guard lets
  them through as a quiet account (no active ad known, no recent delivery).  The pulls
  succeed, so the marts hold real zeros for every day.

The sandbox's clock is the real date (``data_freshness`` judges staleness with the real
clock in each account's time zone), and the truth for any period comes from the same
sandbox, so expectations are computed, never hard-coded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from ads_platform.demo import materialize, materialize_marts, write_demo_settings
from ads_platform.partitions import key_for, range_tags
from ads_platform.sandbox import Sandbox
from ads_platform.sandbox.clock import ClockView
from ads_platform_tests.conftest import in_memory_instance
from ads_platform_tests.platform_defs import defs

#: Days pulled before the sandbox's today (the stale account stops STALE_DAYS earlier).
HISTORY_DAYS = 20
STALE_DAYS = 4
#: ECB-style reference rates (units per euro) for the world's rates file, fixed per
#: currency so a converted total can be recomputed; the reporting currency is USD.
EURO_RATES = {
    "USD": "1.1000",
    "JPY": "165.00",
    "GBP": "0.8500",
    "BRL": "5.5000",
    "AUD": "1.6500",
    "INR": "91.300",
    "NZD": "1.8000",
}


def write_rates_file(path: Path, first: dt.date, last: dt.date) -> Path:
    """An ECB-format rates file with every day from ``first`` to ``last``."""
    lines = ["Date," + ",".join(EURO_RATES)]
    day = last
    while day >= first:
        lines.append(day.isoformat() + "," + ",".join(EURO_RATES.values()))
        day -= dt.timedelta(days=1)
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass(frozen=True)
class DashboardWorld:
    home: Path
    marts: Path
    config_path: Path
    sandbox: Sandbox
    today: dt.date
    normal: str
    stale: str
    quiet: str
    #: First day pulled for every account.
    since: dt.date

    @property
    def stale_last_good_day(self) -> dt.date:
        return self.today - dt.timedelta(days=STALE_DAYS)

    def truth(self, account_id: str, since: dt.date, until: dt.date) -> dict[str, Any]:
        return self.sandbox.truth(account_id, since, until)

    def account_today(self, account_id: str) -> dt.date:
        """The account's today by the real clock in its time zone (from the marts), as the
        page and the pulls judge it."""
        from ads_platform.ingestion.insights import local_today
        from ads_platform.warehouse import open_marts_readonly

        con = open_marts_readonly(self.marts)
        try:
            row = con.execute(
                "select timezone_name from dim_ad_accounts where account_id = ?", [account_id]
            ).fetchone()
        finally:
            con.close()
        assert row is not None, account_id
        return local_today(str(row[0]))


def _ingest(
    instance: dg.DagsterInstance, accounts: tuple[str, str], since: dt.date, until: dt.date
) -> bool:
    """One range run over the accounts from ``accounts[0]`` to ``accounts[1]`` × the days."""
    first, last = accounts
    result = materialize(
        defs,
        instance,
        ["ad_insights_daily"],
        tags=range_tags(str(key_for(first, since)), str(key_for(last, until))),
        log_level="ERROR",
    )
    return bool(result.success)


@pytest.fixture(scope="session")
def dashboard_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardWorld]:
    today = dt.datetime.now(dt.UTC).date()
    home = tmp_path_factory.mktemp("dashboard") / "home"
    # The environment is set only while the marts are built: a session fixture that kept
    # it would point every later test of the session at this home.
    with (
        Sandbox(seed=11, accounts=3, today=today, async_delay_scale=0.01) as sandbox,
        in_memory_instance(home.parent / "dagster") as instance,
    ):
        with pytest.MonkeyPatch.context() as mp:
            accounts = sorted(sandbox.account_ids)
            normal, stale, quiet = accounts
            config_path, tokens = write_demo_settings(
                home,
                sandbox.base_url,
                accounts,
                start_date=today - dt.timedelta(days=90),
                extra={
                    "meta": {"max_retries": 1, "retry_budget_seconds": 5.0},
                    "fx": {
                        "reporting_currency": "USD",
                        "rates_file": str(
                            write_rates_file(
                                home.parent / "rates.csv", today - dt.timedelta(days=90), today
                            )
                        ),
                    },
                },
            )
            for key, value in {
                **tokens,
                "ADS_PLATFORM_CONFIG": str(config_path),
                "ADS_PLATFORM_HOME": str(home),
            }.items():
                mp.setenv(key, value)
            since = today - dt.timedelta(days=HISTORY_DAYS)
            assert materialize(defs, instance, ["ad_accounts"], log_level="ERROR").success
            assert materialize(defs, instance, ["fx_rates"], log_level="ERROR").success
            # Entities, monthly reach and token health of the first two accounts only: the
            # quiet account must have no entity state (see the module docstring).
            assert materialize(
                defs,
                instance,
                ["campaigns", "ad_sets", "ads", "reach_monthly", "token_health"],
                tags=range_tags(normal, stale),
                log_level="ERROR",
            ).success
            # Two range runs over every account (a run covers a box of accounts × days): the
            # quiet account's pulls all return zeros, the stale account's token expires in
            # between, so the second run fails for that account only.
            sandbox.add_fault("zeros", account_id=quiet)
            last_good = today - dt.timedelta(days=STALE_DAYS)
            assert _ingest(instance, (normal, quiet), since, last_good)
            # An hour before the sandbox's "now" (12:00 UTC of its date), not the real now:
            # after 13:00 UTC the real now minus an hour lies after the sandbox's instant.
            expired = ClockView(today).instant - dt.timedelta(hours=1)
            sandbox.set_token_expiry(stale, expired)
            assert not _ingest(instance, (normal, quiet), last_good + dt.timedelta(days=1), today)
            sandbox.clear_faults()
            assert materialize_marts(defs, instance).success
        yield DashboardWorld(
            home=home,
            marts=home / "marts.duckdb",
            config_path=config_path,
            sandbox=sandbox,
            today=today,
            normal=normal,
            stale=stale,
            quiet=quiet,
            since=since,
        )
