"""Auth, debug_token, token exchange, expiry per account and appsecret_proof."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

import httpx

from ads_platform.sandbox import Sandbox

from .conftest import TODAY, TOKEN
from .helpers import VERSION, ok

NOW = dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC)


def _debug(client: httpx.Client, token: str) -> dict[str, Any]:
    data: dict[str, Any] = ok(client.get(f"/{VERSION}/debug_token", params={"input_token": token}))[
        "data"
    ]
    return data


def test_token_required_in_header_or_param(sb: Sandbox) -> None:
    account = sb.account_ids[0]
    with httpx.Client(base_url=sb.base_url, trust_env=False) as bare:
        for kwargs in (
            {},
            {"headers": {"Authorization": "Bearer"}},
            {"params": {"access_token": ""}},
        ):
            resp = bare.get(f"/{VERSION}/{account}", **kwargs)  # type: ignore[arg-type]
            assert resp.status_code == 400
            error = resp.json()["error"]
            assert error["code"] == 190
            assert error["message"].startswith("An active access token must be used")
        assert bare.get(f"/{VERSION}/{account}", params={"access_token": "x"}).status_code == 200
        assert (
            bare.get(f"/{VERSION}/{account}", headers={"Authorization": "OAuth y"}).status_code
            == 200
        )


def test_debug_token_defaults(sb: Sandbox, client: httpx.Client) -> None:
    data = _debug(client, "some-fresh-token")
    assert data["is_valid"] is True
    assert data["type"] == "USER"
    assert set(data["scopes"]) == {"ads_read", "ads_management", "business_management"}
    assert data["expires_at"] == int((NOW + dt.timedelta(days=60)).timestamp())
    assert {
        "app_id",
        "application",
        "issued_at",
        "data_access_expires_at",
        "granular_scopes",
        "user_id",
    } <= set(data)
    missing = client.get(f"/{VERSION}/debug_token")
    assert missing.status_code == 400


def test_token_expiry_follows_the_accounts_it_was_used_with(sb: Sandbox) -> None:
    account = sb.account_ids[1]
    soon = NOW + dt.timedelta(days=5)
    sb.set_token_expiry(account, soon)
    try:
        with httpx.Client(
            base_url=sb.base_url, trust_env=False, headers={"Authorization": "Bearer used"}
        ) as c:
            assert _debug(c, "used")["expires_at"] == int((NOW + dt.timedelta(days=60)).timestamp())
            assert c.get(f"/{VERSION}/{account}").status_code == 200  # associates "used"
            assert _debug(c, "used")["expires_at"] == int(soon.timestamp())
            assert _debug(c, "never-used")["expires_at"] == int(
                (NOW + dt.timedelta(days=60)).timestamp()
            )
            sb.set_today(TODAY + dt.timedelta(days=6))
            info = _debug(c, "used")
            assert info["is_valid"] is False
            expired = c.get(f"/{VERSION}/{account}")
            assert expired.status_code == 400
            assert (expired.json()["error"]["code"], expired.json()["error"]["error_subcode"]) == (
                190,
                463,
            )
            refused = c.get(
                f"/{VERSION}/oauth/access_token",
                params={
                    "grant_type": "fb_exchange_token",
                    "client_id": "1",
                    "client_secret": "s",
                    "fb_exchange_token": "used",
                },
            )
            assert refused.status_code == 400
            assert refused.json()["error"]["code"] == 190
    finally:
        sb.set_token_expiry(account, None)


def test_exchange_for_long_lived_token(sb: Sandbox, client: httpx.Client) -> None:
    params = {
        "grant_type": "fb_exchange_token",
        "client_id": "123",
        "client_secret": "s",
        "fb_exchange_token": TOKEN,
    }
    first = ok(client.get(f"/{VERSION}/oauth/access_token", params=params))
    second = ok(client.get("/oauth/access_token", params=params))
    assert first == second
    assert first["token_type"] == "bearer" and first["expires_in"] == 5184000
    assert first["access_token"] != TOKEN
    new = first["access_token"]
    with httpx.Client(
        base_url=sb.base_url, trust_env=False, headers={"Authorization": f"Bearer {new}"}
    ) as c:
        assert c.get(f"/{VERSION}/{sb.account_ids[0]}").status_code == 200
        assert _debug(c, new)["expires_at"] == int((NOW + dt.timedelta(days=60)).timestamp())
    bad = client.get(
        f"/{VERSION}/oauth/access_token", params={**params, "grant_type": "client_credentials"}
    )
    assert bad.status_code == 400


def test_token_fault_blocks_exchange(sb: Sandbox, client: httpx.Client) -> None:
    account = sb.account_ids[0]
    assert client.get(f"/{VERSION}/{account}").status_code == 200  # TOKEN now tied to account
    sb.add_fault("token_revoked", account_id=account)
    params = {
        "grant_type": "fb_exchange_token",
        "client_id": "1",
        "client_secret": "s",
        "fb_exchange_token": TOKEN,
    }
    resp = client.get(f"/{VERSION}/oauth/access_token", params=params)
    assert resp.status_code == 400
    assert (resp.json()["error"]["code"], resp.json()["error"]["error_subcode"]) == (190, 460)
    info = _debug(client, TOKEN)
    assert info["is_valid"] is False
    assert info["error"]["subcode"] == 460


def test_appsecret_proof_checked_when_configured() -> None:
    secret = "app-secret"
    with Sandbox(seed=3, accounts=1, app_secret=secret, today=TODAY) as sb:
        account = sb.account_ids[0]
        proof = hmac.new(secret.encode(), b"tok", hashlib.sha256).hexdigest()
        with httpx.Client(
            base_url=sb.base_url, trust_env=False, headers={"Authorization": "Bearer tok"}
        ) as c:
            assert (
                c.get(f"/{VERSION}/{account}", params={"appsecret_proof": proof}).status_code == 200
            )
            assert c.get(f"/{VERSION}/{account}").status_code == 200  # proof optional
            wrong = c.get(f"/{VERSION}/{account}", params={"appsecret_proof": "00" * 32})
            assert wrong.status_code == 400
            assert wrong.json()["error"]["code"] == 100
            assert (
                wrong.json()["error"]["message"]
                == "Invalid appsecret_proof provided in the API argument"
            )
            params = {
                "grant_type": "fb_exchange_token",
                "client_id": "1",
                "fb_exchange_token": "tok",
            }
            assert (
                c.get("/oauth/access_token", params={**params, "client_secret": "nope"}).status_code
                == 400
            )
            assert (
                c.get("/oauth/access_token", params={**params, "client_secret": secret}).status_code
                == 200
            )
