"""Token health end to end: debug_token, refresh, which token a pull uses, no plain text."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from ads_platform.demo import demo_token_env, materialize, write_demo_settings
from ads_platform.meta.tokens import TokenStore
from ads_platform.partitions import range_tags
from ads_platform_tests.conftest import SANDBOX_TODAY, Platform
from ads_platform_tests.e2e.helpers import ingest, lake, setup_accounts

APP_SECRET = "sandbox-app-secret-0123456789"


def test_expiring_token_is_refreshed_and_stored_encrypted(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ads_platform_tests.platform_defs import defs

    key = Fernet.generate_key().decode()
    monkeypatch.setenv("META_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("ADS_PLATFORM_TOKEN_KEY", key)
    write_demo_settings(
        platform.home,
        platform.sandbox.base_url,
        platform.sandbox.account_ids,
        start_date=dt.date(2026, 1, 1),
        extra={"meta": {"app_id": "4242"}},
    )
    setup_accounts(platform, entities=False)
    soon, healthy = platform.accounts[0], platform.accounts[1]
    platform.sandbox.set_token_expiry(
        soon, dt.datetime.combine(SANDBOX_TODAY, dt.time(12), dt.UTC) + dt.timedelta(days=3)
    )
    result = materialize(defs, platform.instance, ["token_health"], tags=range_tags(soon, healthy))
    assert result.success

    old_token = platform.tokens[demo_token_env(soon)]
    store_path = platform.home / "secrets" / "tokens.fernet"
    raw = store_path.read_bytes()
    assert old_token.encode() not in raw
    assert demo_token_env(soon).encode() not in raw  # even names are encrypted
    new_token = TokenStore(store_path, key).get(demo_token_env(soon))
    assert new_token
    assert new_token != old_token
    assert new_token.encode() not in raw
    assert oct(store_path.stat().st_mode & 0o777) == "0o600"

    import duckdb

    glob = str(lake(platform).dataset_dir("token_health") / "**" / "*.parquet")
    health = dict(
        duckdb.sql(f"select account_id, refreshed from read_parquet('{glob}')").fetchall()
    )
    assert health[soon] is True
    assert health[healthy] is False

    # The refreshed token is what the next pull uses, and no secret reached any event.
    day = SANDBOX_TODAY - dt.timedelta(days=2)
    pulled = ingest(platform, soon, day, day)
    assert pulled.success
    secrets = [old_token, new_token, APP_SECRET]
    for run_id in (result.run_id, pulled.run_id):
        for entry in platform.instance.all_logs(run_id):
            text = str(entry)
            for secret in secrets:
                assert secret not in text


def test_revoked_token_is_recorded_by_token_health(platform: Platform) -> None:
    from ads_platform_tests.platform_defs import defs

    setup_accounts(platform, entities=False)
    bad = platform.accounts[2]
    platform.sandbox.add_fault("token_revoked", account_id=bad)
    result = materialize(defs, platform.instance, ["token_health"], tags=range_tags(bad, bad))
    assert result.success  # an invalid token is a health fact, not a crash
    import duckdb

    glob = str(lake(platform).dataset_dir("token_health") / "**" / "*.parquet")
    rows = duckdb.sql(
        f"select is_valid, last_error_subcode from read_parquet('{glob}') "
        f"where account_id = '{bad}'"
    ).fetchall()
    assert rows == [(False, 460)]


# -- which token a pull uses after a refresh -------------------------------------------------


def _refresh_one_token(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """token_health refreshes one account's token into the store; ``(account, key)``.

    The sandbox clock is put 5 days before today, so the variable's token (the sandbox
    gives every unused token 60 days from its clock) has ~55 days left: inside
    ``refresh_within_days: 59``.  The exchanged token gets an explicit 60-day expiry
    from that clock, so moving the clock ~60 days on kills it and nothing else.
    """
    from ads_platform_tests.platform_defs import defs

    key = Fernet.generate_key().decode()
    monkeypatch.setenv("META_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("ADS_PLATFORM_TOKEN_KEY", key)
    write_demo_settings(
        platform.home,
        platform.sandbox.base_url,
        platform.sandbox.account_ids,
        start_date=dt.date(2026, 1, 1),
        extra={"meta": {"app_id": "4242"}, "tokens": {"refresh_within_days": 59}},
    )
    platform.sandbox.set_today(_today() - dt.timedelta(days=5))
    setup_accounts(platform, entities=False)
    account = platform.accounts[0]
    result = materialize(
        defs, platform.instance, ["token_health"], tags=range_tags(account, account)
    )
    assert result.success
    stored = TokenStore(_store_path(platform), key).get(demo_token_env(account))
    assert stored and stored != platform.tokens[demo_token_env(account)]
    return account, key


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _store_path(platform: Platform) -> Path:
    return platform.home / "secrets" / "tokens.fernet"


def _valid_at_sandbox(platform: Platform, token: str) -> bool:
    with httpx.Client(base_url=platform.sandbox.base_url, trust_env=False) as client:
        answer = client.get(
            "/v25.0/debug_token",
            params={"input_token": token},
            headers={"Authorization": f"Bearer {token}"},
        )
    return bool(answer.json()["data"]["is_valid"])


def _rejections(platform: Platform) -> int:
    """Graph answers with HTTP 400 since the last reset (190 is a 400 at Meta)."""
    return int(platform.sandbox.stats()["by_status"].get("400", 0))


def _assert_no_secret_anywhere(platform: Platform, secrets: list[str]) -> None:
    texts = [
        str(entry)
        for run in platform.instance.get_runs()
        for entry in platform.instance.all_logs(run.run_id)
    ]
    blobs = [p.read_bytes() for p in platform.home.rglob("*") if p.is_file()]
    for secret in secrets:
        assert all(secret not in text for text in texts)
        assert all(secret.encode() not in blob for blob in blobs)


def test_a_new_token_in_the_variable_wins_over_the_refreshed_one_at_the_next_pull(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    account, key = _refresh_one_token(platform, monkeypatch)
    token_env = demo_token_env(account)
    old_token = platform.tokens[token_env]
    refreshed = TokenStore(_store_path(platform), key).get(token_env)
    assert refreshed is not None

    # The operator re-authorizes and puts the new token where the message says; then
    # the refreshed token dies (60 days later), so only a pull with the new one works.
    new_token = "EAAoperator" + "N" * 40
    monkeypatch.setenv(token_env, new_token)
    platform.sandbox.set_today(_today() + dt.timedelta(days=60))
    assert not _valid_at_sandbox(platform, refreshed)
    assert _valid_at_sandbox(platform, new_token)

    platform.sandbox.reset_stats()
    day = _today() - dt.timedelta(days=7)
    pulled = ingest(platform, account, day, day)
    assert pulled.success
    assert _rejections(platform) == 0  # the new token was used first, not after a 190
    assert TokenStore(_store_path(platform), key).get(token_env) is None  # stale: dropped
    _assert_no_secret_anywhere(platform, [old_token, refreshed, new_token, APP_SECRET])


def test_a_rejected_refreshed_token_falls_back_to_the_variable_once(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ads_platform.ingestion.token_health import fingerprint
    from ads_platform_tests.platform_defs import defs

    account, key = _refresh_one_token(platform, monkeypatch)
    token_env = demo_token_env(account)
    variable_token = platform.tokens[token_env]
    refreshed = TokenStore(_store_path(platform), key).get(token_env)
    assert refreshed is not None
    platform.sandbox.set_today(_today() + dt.timedelta(days=60))
    assert not _valid_at_sandbox(platform, refreshed)
    assert _valid_at_sandbox(platform, variable_token)

    platform.sandbox.reset_stats()
    day = _today() - dt.timedelta(days=7)
    pulled = ingest(platform, account, day, day)
    assert pulled.success
    assert _rejections(platform) == 1  # the stored token, once
    assert TokenStore(_store_path(platform), key).get(token_env) is None

    # Everything after uses the variable's token straight away (token_health included).
    platform.sandbox.reset_stats()
    assert ingest(platform, account, day, day).success
    health = materialize(
        defs, platform.instance, ["token_health"], tags=range_tags(account, account)
    )
    assert health.success
    assert _rejections(platform) == 0
    glob = str(lake(platform).dataset_dir("token_health") / "**" / "*.parquet")
    import duckdb

    latest = duckdb.sql(
        f"select is_valid, token_fingerprint from read_parquet('{glob}') "
        f"where account_id = '{account}' order by checked_at desc limit 1"
    ).fetchall()
    assert latest == [(True, fingerprint(variable_token))]
    _assert_no_secret_anywhere(platform, [variable_token, refreshed, APP_SECRET])


def test_the_recovery_probe_and_doctor_use_the_same_rule(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ads_platform.automation.sensors import platform_probe
    from ads_platform.doctor import DoctorReport, check_tokens
    from ads_platform.resources import PlatformResource
    from ads_platform.settings import load_settings

    account, key = _refresh_one_token(platform, monkeypatch)
    token_env = demo_token_env(account)
    refreshed = TokenStore(_store_path(platform), key).get(token_env)
    assert refreshed is not None
    platform.sandbox.set_today(_today() + dt.timedelta(days=60))
    assert not _valid_at_sandbox(platform, refreshed)

    settings = load_settings(platform.config_path, require_tokens=False)
    resource = PlatformResource(config_path=str(platform.config_path))
    platform_probe(resource)(settings, account)  # raises when the token cannot read it
    report = DoctorReport()
    check_tokens(report, settings, str(platform.config_path))
    [check] = [c for c in report.checks if c.name == f"token {account}"]
    assert check.status == "OK", check.detail
