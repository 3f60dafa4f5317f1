"""A quiet account paused everything: no delivery, nothing active, and nobody else changes.

The ``zeros`` fault answers zeros for an account that does deliver (an API failure);
a quiet account is the real thing the all-zero guard must let through.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import httpx
import pytest

from ads_platform.sandbox import Sandbox
from ads_platform.sandbox.world import QUIET_SINCE

from .conftest import TODAY, TOKEN
from .helpers import get_all, insights

QUIET = 1
_ALL_STATUSES = '["ACTIVE","PAUSED","CAMPAIGN_PAUSED","ADSET_PAUSED","ARCHIVED","DELETED"]'


def _client(sb: Sandbox) -> httpx.Client:
    return httpx.Client(
        base_url=sb.base_url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        trust_env=False,
        timeout=30.0,
    )


def test_a_quiet_account_delivers_nothing_since_it_paused_and_has_nothing_active() -> None:
    with (
        Sandbox(seed=7, accounts=3, today=TODAY, quiet_accounts=(QUIET,)) as sb,
        _client(sb) as client,
    ):
        account = sb.account_ids[QUIET]
        assert [a["quiet"] for a in sb.info()["accounts"]] == [False, True, False]
        recent = sb.truth(account, TODAY - dt.timedelta(days=30), TODAY)
        assert all(d["impressions"] == 0 and d["spend"] == 0 for d in recent["days"])
        assert insights(client, account, TODAY - dt.timedelta(days=7), TODAY) == []
        # It did deliver before it paused: a real account with a history, not an empty one.
        history = sb.truth(account, QUIET_SINCE - dt.timedelta(days=30), QUIET_SINCE)
        assert any(d["impressions"] > 0 for d in history["days"])
        ads = get_all(
            client,
            f"{account}/ads",
            {"fields": "effective_status", "limit": 500, "effective_status": _ALL_STATUSES},
        )
        assert ads and all(a["effective_status"] != "ACTIVE" for a in ads)
        campaigns = get_all(client, f"{account}/campaigns", {"fields": "status", "limit": 500})
        assert campaigns and {c["status"] for c in campaigns} <= {"PAUSED"}


def test_quiet_accounts_leave_the_other_accounts_as_the_seed_makes_them() -> None:
    since = TODAY - dt.timedelta(days=3)
    with (
        Sandbox(seed=7, accounts=3, today=TODAY) as plain,
        Sandbox(seed=7, accounts=3, today=TODAY, quiet_accounts=(QUIET,)) as quiet,
    ):
        assert plain.account_ids == quiet.account_ids
        for index, account in enumerate(plain.account_ids):
            same = plain.truth(account, since, TODAY) == quiet.truth(account, since, TODAY)
            assert same is (index != QUIET), account
        with _client(plain) as a, _client(quiet) as b:
            account = plain.account_ids[QUIET]
            fields = {"fields": "id,name,created_time", "limit": 500}
            assert get_all(a, f"{account}/ads", fields) == get_all(b, f"{account}/ads", fields)


def test_a_quiet_account_index_outside_the_world_is_refused() -> None:
    with pytest.raises(ValueError, match="quiet_accounts are account indexes"):
        Sandbox(seed=7, accounts=3, quiet_accounts=(3,))


def test_the_command_line_starts_quiet_accounts() -> None:
    with Sandbox(seed=7, accounts=3, today=TODAY, quiet_accounts=(0, 2), subprocess=True) as sb:
        assert [a["quiet"] for a in sb.info()["accounts"]] == [True, False, True]
    bad = subprocess.run(
        [sys.executable, "-m", "ads_platform.sandbox", "--quiet-accounts", "one"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "expected comma-separated account indexes" in bad.stderr
