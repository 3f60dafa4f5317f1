"""CallStats snapshots/diffs, TokenInfo parsing, appsecret_proof and the encrypted TokenStore."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import stat
import threading
from pathlib import Path

import pytest

from ads_platform.meta.stats import CallStats, diff
from ads_platform.meta.tokens import (
    TokenInfo,
    TokenStore,
    TokenStoreError,
    appsecret_proof,
)


def test_stats_per_account_and_endpoint() -> None:
    stats = CallStats()
    stats.record_call("act_1", "act/insights")
    stats.record_call("1", "act/insights", ok=False)
    stats.record_page("act_1", "act/insights", rows=10)
    stats.record_retry("act_1", "act/insights")
    stats.record_throttle_wait("act_1", "act/insights", 2.5)
    stats.record_call(None, "debug_token")
    one = stats.for_account("act_1")
    assert one["totals"]["calls"] == 2
    assert one["totals"]["errors"] == 1
    assert one["by_endpoint"]["act/insights"] == {
        "calls": 2,
        "errors": 1,
        "pages": 1,
        "retries": 1,
        "throttle_waits": 1,
        "throttle_seconds": 2.5,
        "rows": 10,
    }
    snap = stats.snapshot()
    assert snap["totals"]["calls"] == 3
    assert set(snap["by_account"]) == {"act_1", "_none"}
    assert stats.total("calls", "act_1") == 2


def test_stats_diff_reports_only_new_work() -> None:
    stats = CallStats()
    stats.record_call("act_1", "account")
    before = stats.snapshot()
    stats.record_call("act_1", "act/campaigns")
    stats.record_page("act_1", "act/campaigns", rows=3)
    stats.record_call("act_2", "account")
    used = diff(before, stats.snapshot())
    assert used["totals"] == {"calls": 2, "pages": 1, "rows": 3}
    assert used["by_account"]["act_1"]["by_endpoint"] == {
        "act/campaigns": {"calls": 1, "pages": 1, "rows": 3}
    }
    assert used["by_account"]["act_2"]["totals"]["calls"] == 1
    assert diff(stats.snapshot(), stats.snapshot()) == {}


def test_stats_thread_safe() -> None:
    stats = CallStats()

    def work() -> None:
        for _ in range(1000):
            stats.record_call("act_1", "act/insights")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stats.for_account("act_1")["totals"]["calls"] == 8000


def test_appsecret_proof_matches_hmac_sha256() -> None:
    expected = hmac.new(b"secret", b"token", hashlib.sha256).hexdigest()
    assert appsecret_proof("token", "secret") == expected
    assert len(expected) == 64


NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_token_info_from_debug_token() -> None:
    expires = NOW + dt.timedelta(days=10)
    info = TokenInfo.from_debug_token(
        {
            "app_id": 42,
            "type": "USER",
            "is_valid": True,
            "expires_at": int(expires.timestamp()),
            "data_access_expires_at": int((NOW + dt.timedelta(days=80)).timestamp()),
            "issued_at": int((NOW - dt.timedelta(days=50)).timestamp()),
            "scopes": ["ads_read", "business_management"],
            "granular_scopes": [{"scope": "ads_read", "target_ids": ["111", 222]}],
            "user_id": "9",
        },
        now=NOW,
    )
    assert info.is_valid
    assert info.expires_at == expires
    assert info.days_left == pytest.approx(10)
    assert info.data_access_days_left == pytest.approx(80)
    assert info.missing_scopes == ()
    assert info.granular_scopes == {"ads_read": ("111", "222")}
    assert info.app_id == "42"
    assert info.healthy


def test_token_info_never_expiring_and_missing_scope() -> None:
    info = TokenInfo.from_debug_token(
        {"is_valid": True, "expires_at": 0, "scopes": ["business_management"]}, now=NOW
    )
    assert info.expires_at is None  # 0 read as "never" (unconfirmed by Meta's docs)
    assert info.days_left is None
    assert info.missing_scopes == ("ads_read",)
    assert not info.healthy


def test_token_info_invalid_with_error() -> None:
    info = TokenInfo.from_debug_token(
        {
            "is_valid": False,
            "expires_at": int((NOW - dt.timedelta(days=1)).timestamp()),
            "error": {"code": 190, "subcode": 463, "message": "Session has expired"},
            "scopes": "garbage",
        },
        now=NOW,
    )
    assert not info.is_valid
    assert info.days_left == pytest.approx(-1)
    assert info.error_subcode == 463
    assert info.scopes == ()
    assert not info.healthy


def test_token_store_round_trip(tmp_path: Path) -> None:
    key = TokenStore.generate_key()
    path = tmp_path / "state" / "tokens.enc"
    store = TokenStore(path, key)
    assert store.get("client_a") is None
    token = "EAAsecret" + "Z" * 50
    store.put("client_a", token)
    store.put("client_b", "EAAother" + "Y" * 50)
    assert store.get("client_a") == token
    assert store.names() == ["client_a", "client_b"]
    raw = path.read_bytes()
    assert token.encode() not in raw
    assert b"client_a" not in raw
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["tokens.enc"]  # no temp left
    reopened = TokenStore(path, key)
    assert reopened.get("client_b") == "EAAother" + "Y" * 50
    assert reopened.delete("client_b")
    assert not reopened.delete("client_b")
    assert TokenStore(path, key).names() == ["client_a"]


def test_token_store_wrong_key_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "tokens.enc"
    TokenStore(path, TokenStore.generate_key()).put("a", "tokenvalue-123456")
    with pytest.raises(TokenStoreError, match="cannot decrypt"):
        TokenStore(path, TokenStore.generate_key()).get("a")
    with pytest.raises(TokenStoreError, match="not a valid Fernet key"):
        TokenStore(path, "short")
    monkeypatch.delenv("ADS_PLATFORM_TOKEN_KEY", raising=False)
    with pytest.raises(TokenStoreError, match="ADS_PLATFORM_TOKEN_KEY"):
        TokenStore.from_env(path)
    key = TokenStore.generate_key()
    monkeypatch.setenv("ADS_PLATFORM_TOKEN_KEY", key)
    store = TokenStore.from_env(tmp_path / "other.enc")
    store.put("x", "tokenvalue-abcdef")
    assert store.get("x") == "tokenvalue-abcdef"


def test_token_store_rejects_plain_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.enc"
    path.write_text('{"a": "plain"}')
    with pytest.raises(TokenStoreError):
        TokenStore(path, TokenStore.generate_key()).get("a")
