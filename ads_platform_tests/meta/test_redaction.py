"""Tokens and proofs must not survive in URLs, headers, exceptions or log records."""

from __future__ import annotations

import logging

import pytest

from ads_platform.meta.redaction import (
    REDACTED,
    RedactingFilter,
    install_log_redaction,
    redact,
    redact_headers,
    redact_url,
    register_secret,
)
from ads_platform.meta.tokens import appsecret_proof

TOKEN = "EAAGm0PX4ZCpsBAxyz" + "Q" * 40
PROOF = appsecret_proof(TOKEN, "app-secret-value")


@pytest.mark.parametrize(
    "param",
    ["access_token", "appsecret_proof", "client_secret", "fb_exchange_token", "input_token"],
)
def test_url_query_values_are_redacted(param: str) -> None:
    url = f"https://graph.facebook.com/v25.0/act_1/insights?limit=5&{param}=s3cr3tvalue99&after=abc"
    cleaned = redact_url(url)
    assert "s3cr3tvalue99" not in cleaned
    assert "limit=5" in cleaned
    assert "after=abc" in cleaned
    assert param in cleaned
    # Also inside free text (an exception message quoting the URL).
    assert "s3cr3tvalue99" not in redact(f"GET {url} failed")


def test_percent_encoded_and_json_forms() -> None:
    text = (
        "next=https%3A%2F%2Fx%2Fme%3Faccess_token%3Dabcdefghijkl12345 "
        '{"access_token": "zyxwvutsrq987654", "token_type": "bearer"}'
    )
    cleaned = redact(text)
    assert "abcdefghijkl12345" not in cleaned
    assert "zyxwvutsrq987654" not in cleaned
    assert "token_type" in cleaned


def test_authorization_header_values() -> None:
    for text in (
        "Authorization: Bearer abcdefghij0123456789",
        "{'authorization': 'Bearer abcdefghij0123456789'}",
        "headers=[('Authorization', 'OAuth abcdefghij0123456789')]",
    ):
        assert "abcdefghij0123456789" not in redact(text), text
    headers = redact_headers([("Authorization", "Bearer abc"), ("Accept", "json")])
    assert headers == [("Authorization", REDACTED), ("Accept", "json")]


def test_explicit_and_registered_secrets() -> None:
    assert redact("x topsecretvalue y", ["topsecretvalue"]) == f"x {REDACTED} y"
    register_secret("registered-secret-123")
    assert "registered-secret-123" not in redact("value registered-secret-123 here")
    # Too short to be a credential: not registered (would mangle ordinary text).
    register_secret("abc")
    assert redact("abc") == "abc"


def test_meta_token_shape_and_app_token() -> None:
    assert "EAAB" not in redact("token EAABsbCS1iHgBAKZCXYZ0123456789abcdef is bad")
    cleaned = redact("app token 1234567890|abcdefghijklmnopqrstu used")
    assert "abcdefghijklmnopqrstu" not in cleaned
    assert "1234567890" in cleaned


def test_proof_is_redacted_once_registered() -> None:
    register_secret(PROOF)
    assert PROOF not in redact(f"proof {PROOF}")


def test_log_filter_rewrites_message_args_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    register_secret(TOKEN)
    logger = logging.getLogger("ads_platform_tests.meta.redaction")
    logger.addFilter(RedactingFilter())
    caplog.set_level(logging.DEBUG)
    logger.info("calling %s with token %s", "https://x/?access_token=" + TOKEN, TOKEN)
    try:
        raise RuntimeError(f"failed with {TOKEN}")
    except RuntimeError:
        logger.exception("boom %s", TOKEN)
    assert caplog.records
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in (record.exc_text or "")
    assert TOKEN not in caplog.text
    assert "failed with" in caplog.text


def test_install_covers_httpx_loggers(caplog: pytest.LogCaptureFixture) -> None:
    register_secret(TOKEN)
    install_log_redaction()
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore.http11", "httpcore.connection", "ads_platform.meta"):
        logging.getLogger(name).info("HTTP Request: GET http://h/?access_token=%s", TOKEN)
    assert len(caplog.records) == 4
    assert TOKEN not in caplog.text
