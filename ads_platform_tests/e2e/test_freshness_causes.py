"""data_freshness names the real, latest cause of stale data, and clears it after a good pull.

The sequence a client dashboard lives through: the token expires, it is fixed but Meta
answers 503s, a pull succeeds, then Meta returns zeros.  After each step the marts are
built for real (Dagster → dbt) and read back the way a dashboard reads them.
"""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from ads_platform.ingestion.causes import CAUSE_TEXT, Cause
from ads_platform_tests.conftest import Platform
from ads_platform_tests.e2e.helpers import (
    align_sandbox_clock,
    build_freshness_marts,
    ingest,
    marts_rows,
    setup_accounts,
)

pytestmark = pytest.mark.slow


def _reason(cause: Cause) -> str:
    text = CAUSE_TEXT[cause]
    return f"{text.label} — {text.action}"


def _as_of(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def test_data_freshness_names_the_latest_cause_and_clears_it_after_a_good_pull(
    platform: Platform,
) -> None:
    # One retry: a persistent 503 burst fails in about a second, not the default budget.
    settings = yaml.safe_load(platform.config_path.read_text())
    settings["meta"]["max_retries"] = 1
    platform.config_path.write_text(yaml.safe_dump(settings))
    account_id = platform.accounts[0]
    today = align_sandbox_clock(platform, account_id)
    setup_accounts(platform)
    first_good = today - dt.timedelta(days=2)
    assert ingest(platform, account_id, first_good - dt.timedelta(days=1), first_good).success
    recent = (today - dt.timedelta(days=1), today)

    def freshness() -> dict[str, object]:
        build_freshness_marts(platform)
        rows = marts_rows(
            platform, f"select * from data_freshness where account_id = '{account_id}'"
        )
        assert len(rows) == 1
        return rows[0]

    def token_is_valid() -> object:
        rows = marts_rows(
            platform, f"select is_valid from token_health where account_id = '{account_id}'"
        )
        return rows[0]["is_valid"] if rows else None

    # 1. The token expires: a pull of the recent days fails with a 190.
    platform.sandbox.add_fault("token_expired", account_id=account_id)
    assert not ingest(platform, account_id, *recent).success
    row = freshness()
    assert row["is_stale"] is True
    assert row["stale_cause"] == "token"
    assert row["stale_reason"] == "token expired — re-authorize"
    assert row["status_message"] == f"data as of {_as_of(first_good)}: token expired — re-authorize"
    assert token_is_valid() is False

    # 2. The token works again, but Meta answers 503 to every call: API errors, not the token.
    platform.sandbox.clear_faults()
    platform.sandbox.add_fault("server_error", account_id=account_id)
    assert not ingest(platform, account_id, *recent).success
    row = freshness()
    assert row["is_stale"] is True
    assert "token" not in str(row["stale_reason"])
    assert row["stale_cause"] == "api_errors"
    assert row["stale_reason"] == _reason(Cause.API_ERRORS)
    assert row["status_message"] == f"data as of {_as_of(first_good)}: {_reason(Cause.API_ERRORS)}"

    # 3. A good pull: nothing is stale, and the 190 seen at run time is superseded.
    platform.sandbox.clear_faults()
    assert ingest(platform, account_id, *recent).success
    row = freshness()
    assert row["is_stale"] is False
    assert row["stale_cause"] is None and row["stale_reason"] is None
    assert row["last_good_day"] == today and row["days_behind"] == 0
    assert row["status_message"] == f"data as of {_as_of(today)}: up to date"
    assert row["token_is_valid"] is True
    assert token_is_valid() is True

    # 4. Errors as zeros on today: blocked, the last good data stays, and it says so.
    platform.sandbox.add_fault("zeros", account_id=account_id)
    assert not ingest(platform, account_id, today, today).success
    row = freshness()
    assert row["is_stale"] is True
    assert row["stale_cause"] == "zero_guard"
    assert row["stale_reason"] == _reason(Cause.ZERO_GUARD)
    assert row["last_good_day"] == today
