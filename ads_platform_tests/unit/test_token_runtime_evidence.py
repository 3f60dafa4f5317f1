"""A 190 seen by a pull is superseded by a later successful pull; a real check still counts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ads_platform import datasets as ds
from ads_platform.automation.lakeview import latest_token_row
from ads_platform.ingestion import token_health
from ads_platform.lake import Lake
from ads_platform.meta.errors import TokenInvalidError

ACCOUNT = "act_1"
TOKEN = "EAAB-secret-token-value"
EXPIRES = dt.datetime(2027, 1, 15, tzinfo=dt.UTC)


def _check(lake: Lake, *, valid: bool, token: str = TOKEN) -> None:
    """A debug_token row as check_token writes it."""
    row: dict[str, Any] = {name: None for name in ds.TOKEN_CHECKS.arrow.names} | {
        "account_id": ACCOUNT,
        "checked_at": dt.datetime.now(dt.UTC),
        "token_env": "META_TOKEN",
        "token_fingerprint": token_health.fingerprint(token),
        "token_type": "USER",
        "is_valid": valid,
        "expires_at": EXPIRES,
        "scopes": "ads_read" if valid else "",
        "missing_scopes": "" if valid else "ads_read",
        "refreshed": False,
        "checked_by": token_health.DEBUG_TOKEN,
    }
    token_health.record(lake, [row], "check")


def _runtime_190(lake: Lake) -> None:
    error = TokenInvalidError("Error validating access token", code=190, subcode=463)
    token_health.record_runtime_error(lake, ACCOUNT, "META_TOKEN", TOKEN, error, "run-1")


def test_a_successful_pull_supersedes_a_190_seen_at_run_time(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    _check(lake, valid=True)
    _runtime_190(lake)
    newest = latest_token_row(lake, ACCOUNT)
    assert newest is not None and newest["is_valid"] is False
    assert newest["checked_by"] == token_health.API_ERROR

    assert token_health.record_runtime_success(lake, ACCOUNT, "META_TOKEN", TOKEN, "run-2")
    newest = latest_token_row(lake, ACCOUNT)
    assert newest is not None
    assert newest["is_valid"] is True
    assert newest["checked_by"] == token_health.API_SUCCESS
    # The last check's details are carried forward: the expiry still counts down.
    assert newest["expires_at"] == EXPIRES and newest["scopes"] == "ads_read"
    # Nothing new to say afterwards: no file per successful run.
    files = len(list(lake.dataset_dir("token_health").rglob("*.parquet")))
    assert not token_health.record_runtime_success(lake, ACCOUNT, "META_TOKEN", TOKEN, "run-3")
    assert len(list(lake.dataset_dir("token_health").rglob("*.parquet"))) == files
    for path in lake.dataset_dir("token_health").rglob("*.parquet"):
        assert TOKEN.encode() not in path.read_bytes()


def test_a_debug_token_check_that_says_invalid_still_counts(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    _check(lake, valid=False)  # e.g. ads_read missing: pulls may still work
    assert not token_health.record_runtime_success(lake, ACCOUNT, "META_TOKEN", TOKEN, "run-1")
    _runtime_190(lake)
    assert token_health.record_runtime_success(lake, ACCOUNT, "META_TOKEN", TOKEN, "run-2")
    newest = latest_token_row(lake, ACCOUNT)
    assert newest is not None
    assert newest["is_valid"] is False and newest["missing_scopes"] == "ads_read"
    # A success row that carries an invalid verdict is not a runtime failure to supersede.
    assert not token_health.record_runtime_success(lake, ACCOUNT, "META_TOKEN", TOKEN, "run-3")


def test_a_success_without_any_check_is_itself_the_evidence(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    _check(lake, valid=False, token="an-older-token")  # a check of another token
    _runtime_190(lake)
    assert token_health.record_runtime_success(lake, ACCOUNT, "META_TOKEN", TOKEN, "run-2")
    newest = latest_token_row(lake, ACCOUNT)
    assert newest is not None and newest["is_valid"] is True and newest["expires_at"] is None
