"""Token health end to end: debug_token, refresh of an expiring token, nothing in plain text."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.fernet import Fernet

from ads_platform.demo import demo_token_env, write_demo_settings
from ads_platform.meta.tokens import TokenStore
from ads_platform.orchestration import materialize, range_tags
from ads_platform_tests.conftest import SANDBOX_TODAY, Platform
from ads_platform_tests.e2e.helpers import ingest, lake, setup_accounts

APP_SECRET = "sandbox-app-secret-0123456789"


def test_expiring_token_is_refreshed_and_stored_encrypted(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ads_platform.definitions import defs

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
    from ads_platform.definitions import defs

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
