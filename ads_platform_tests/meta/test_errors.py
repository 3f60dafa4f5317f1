"""Classification table: every code in META_API.md maps to one remedy class."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

from ads_platform.meta.errors import (
    AsyncJobError,
    ErrorKind,
    InvalidParameterError,
    MalformedResponseError,
    MetaApiError,
    PermissionDeniedError,
    ThrottledError,
    TokenInvalidError,
    TooMuchDataError,
    TransientError,
    classify,
    transport_error,
)

TOKEN = "EAAB" + "x" * 60


def err(code: int, subcode: int | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message": extra.pop("message", f"error {code}"),
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEf123",
    }
    if subcode is not None:
        body["error_subcode"] = subcode
    body.update(extra)
    return {"error": body}


TABLE: list[tuple[int, dict[str, Any], type[MetaApiError], ErrorKind, bool]] = [
    # (http, body, class, kind, retryable)
    (500, err(1), TransientError, ErrorKind.TRANSIENT, True),
    (500, err(2), TransientError, ErrorKind.TRANSIENT, True),
    (400, err(99, is_transient=True), TransientError, ErrorKind.TRANSIENT, True),
    (500, err(-2, 2490547), TransientError, ErrorKind.TRANSIENT, True),
    (500, err(2, 1504043), TransientError, ErrorKind.TRANSIENT, True),
    (400, err(4), ThrottledError, ErrorKind.THROTTLED, True),
    (400, err(17), ThrottledError, ErrorKind.THROTTLED, True),
    (400, err(32), ThrottledError, ErrorKind.THROTTLED, True),
    (400, err(341), ThrottledError, ErrorKind.THROTTLED, True),
    (400, err(613), ThrottledError, ErrorKind.THROTTLED, True),
    (400, err(80000, 2446079), ThrottledError, ErrorKind.THROTTLED, True),
    (400, err(80004, 2446079), ThrottledError, ErrorKind.THROTTLED, True),
    (400, err(80014), ThrottledError, ErrorKind.THROTTLED, True),
    (400, err(368), ThrottledError, ErrorKind.THROTTLED, True),
    (400, err(10), PermissionDeniedError, ErrorKind.PERMISSION, False),
    (403, err(200), PermissionDeniedError, ErrorKind.PERMISSION, False),
    (400, err(294), PermissionDeniedError, ErrorKind.PERMISSION, False),
    (400, err(299), PermissionDeniedError, ErrorKind.PERMISSION, False),
    (400, err(100), InvalidParameterError, ErrorKind.INVALID_PARAMETER, False),
    (400, err(100, 33), InvalidParameterError, ErrorKind.INVALID_PARAMETER, False),
    (400, err(3018), InvalidParameterError, ErrorKind.INVALID_PARAMETER, False),
    (
        400,
        err(1, message="Error validating client secret."),
        InvalidParameterError,
        ErrorKind.INVALID_PARAMETER,
        False,
    ),
    (400, err(100, 1504018), TooMuchDataError, ErrorKind.TOO_MUCH_DATA, False),
    (500, err(2, 1504038), TooMuchDataError, ErrorKind.TOO_MUCH_DATA, False),
    (400, err(102), TokenInvalidError, ErrorKind.AUTH, False),
    (400, err(190), TokenInvalidError, ErrorKind.AUTH, False),
    (401, err(190, 458), TokenInvalidError, ErrorKind.AUTH, False),
    (400, err(190, 459), TokenInvalidError, ErrorKind.AUTH, False),
    (400, err(190, 460), TokenInvalidError, ErrorKind.AUTH, False),
    (400, err(190, 463), TokenInvalidError, ErrorKind.AUTH, False),
    (400, err(190, 464), TokenInvalidError, ErrorKind.AUTH, False),
    (400, err(190, 467), TokenInvalidError, ErrorKind.AUTH, False),
    # HTTP 200 carrying an error object is an error, classified by its code.
    (200, err(190, 463), TokenInvalidError, ErrorKind.AUTH, False),
    (200, err(2), TransientError, ErrorKind.TRANSIENT, True),
    (200, err(17), ThrottledError, ErrorKind.THROTTLED, True),
    (400, err(12345), MetaApiError, ErrorKind.UNKNOWN, False),
    (503, err(12345), TransientError, ErrorKind.TRANSIENT, True),
]


@pytest.mark.parametrize(("status", "body", "cls", "kind", "retryable"), TABLE)
def test_classification_table(
    status: int,
    body: dict[str, Any],
    cls: type[MetaApiError],
    kind: ErrorKind,
    retryable: bool,
) -> None:
    for given in (body, json.dumps(body), json.dumps(body).encode()):
        error = classify(status, given, account_id="act_1", endpoint="act/insights")
        assert type(error) is cls
        assert error.kind is kind
        assert error.is_transient is retryable
        assert error.http_status == status
        assert error.code == body["error"]["code"]
        assert error.fbtrace_id == "AbCdEf123"
        assert error.account_id == "act_1"
        assert "act_1" in str(error)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_without_json_is_transient(status: int) -> None:
    error = classify(status, "<html>Service Unavailable</html>")
    assert isinstance(error, TransientError)
    assert error.is_transient


def test_408_and_429() -> None:
    assert isinstance(classify(408, ""), TransientError)
    throttled = classify(429, "slow down")
    assert isinstance(throttled, ThrottledError)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("Service Unavailable", "non_json"),
        ('{"data": [{"id": "1"}, {"id"', "truncated"),
        ("", "empty"),
        (b"\xff\xfe garbage", "non_json"),
    ],
)
def test_http_200_not_json_is_malformed_and_retryable(body: str | bytes, reason: str) -> None:
    error = classify(200, body)
    assert isinstance(error, MalformedResponseError)
    assert error.reason == reason
    assert error.is_transient
    assert error.kind is ErrorKind.MALFORMED


def test_success_is_none() -> None:
    assert classify(200, {"data": []}) is None
    assert classify(200, '{"data": [], "paging": {}}') is None
    assert classify(200, {"error": None, "data": []}) is None


def test_4xx_without_error_object_is_not_retried() -> None:
    error = classify(404, "Not Found")
    assert type(error) is MetaApiError
    assert not error.is_transient


def test_error_that_is_not_an_object() -> None:
    error = classify(200, {"error": "Service temporarily unavailable"})
    assert error is not None
    assert not isinstance(error, TransientError)
    assert classify(500, {"error": "boom"}).is_transient  # type: ignore[union-attr]


def test_throttle_wait_from_business_use_case_header() -> None:
    headers = {
        "X-Business-Use-Case-Usage": json.dumps(
            {
                "123": [
                    {
                        "type": "ads_insights",
                        "call_count": 100,
                        "total_cputime": 20,
                        "total_time": 30,
                        "estimated_time_to_regain_access": 7,
                    }
                ]
            }
        )
    }
    error = classify(400, err(80000, 2446079), headers=headers)
    assert isinstance(error, ThrottledError)
    assert error.wait_seconds == 7 * 60
    assert error.usage_pct == 100


def test_throttle_without_estimate_leaves_wait_to_client() -> None:
    error = classify(400, err(17), headers={"X-Business-Use-Case-Usage": "garbage{"})
    assert isinstance(error, ThrottledError)
    assert error.wait_seconds is None


def test_blocked_368_waits_long() -> None:
    error = classify(400, err(368), blocked_wait_seconds=1234)
    assert isinstance(error, ThrottledError)
    assert error.blocked
    assert error.wait_seconds == 1234


def test_reduce_amount_of_data_asks_for_smaller_pages() -> None:
    body = err(1, message="Please reduce the amount of data you're asking for, then retry")
    error = classify(500, body)
    assert isinstance(error, TooMuchDataError)
    assert error.remedy == "smaller_page"
    assert isinstance(classify(400, err(100, 1504018)), TooMuchDataError)
    assert classify(400, err(100, 1504018)).remedy == "async"  # type: ignore[union-attr]


def test_string_codes_are_understood() -> None:
    body = {"error": {"code": "190", "error_subcode": "463", "message": "x"}}
    error = classify(400, body)
    assert isinstance(error, TokenInvalidError)
    assert error.subcode == 463


@pytest.mark.parametrize(
    ("subcode", "words"),
    [
        (458, "not installed"),
        (459, "checkpointed"),
        (460, "password changed"),
        (463, "expired"),
        (464, "unconfirmed"),
        (467, "logged out"),
    ],
)
def test_token_error_names_account_and_reason(subcode: int, words: str) -> None:
    error = classify(400, err(190, subcode), account_id="act_123")
    assert isinstance(error, TokenInvalidError)
    assert "act_123" in str(error)
    assert words in str(error)
    assert "re-authorize" in error.user_action


def test_token_expired_message_carries_date_and_hint() -> None:
    message = (
        "Error validating access token: Session has expired on Tuesday, 10-Nov-26 "
        "01:00:00 PST. The current time is Wednesday, 11-Nov-26 02:00:00 PST."
    )
    error = classify(400, err(190, 463, message=message), account_id="act_123")
    assert isinstance(error, TokenInvalidError)
    assert error.expired_on == "Tuesday, 10-Nov-26 01:00:00 PST"
    assert error.is_expired
    assert error.user_action == (
        "token for act_123 expired on Tuesday, 10-Nov-26 01:00:00 PST: "
        "re-authorize the Meta user and set the new token"
    )
    error.hint = "META_TOKEN_CLIENT_A"
    assert error.user_action.endswith(
        "set the new token in META_TOKEN_CLIENT_A; the next pull uses it"
    )
    assert "META_TOKEN_CLIENT_A" in str(error)
    assert str(error).startswith("token for act_123 expired on Tuesday")


def test_messages_are_redacted() -> None:
    message = f"bad request https://graph.facebook.com/v25.0/me?access_token={TOKEN}&x=1"
    error = classify(400, err(100, message=message))
    assert error is not None
    assert TOKEN not in str(error)
    assert TOKEN not in repr(error)
    assert TOKEN not in json.dumps(error.to_dict())
    assert "access_token=" in str(error)


def test_exceptions_pickle_without_secrets() -> None:
    error = classify(400, err(190, 463, message=f"token {TOKEN} bad"), account_id="act_9")
    assert error is not None
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is TokenInvalidError
    assert clone.account_id == "act_9"
    assert TOKEN not in pickle.dumps(error).decode("latin-1")
    async_error = AsyncJobError("x", reason="stuck", report_run_id="1")
    assert pickle.loads(pickle.dumps(async_error)).reason == "stuck"


def test_transport_error_is_transient_and_redacted() -> None:
    exc = ConnectionResetError(f"reset while GET /me?access_token={TOKEN}")
    error = transport_error(exc, account_id="act_1", endpoint="account")
    assert error.is_transient
    assert error.kind is ErrorKind.TRANSIENT
    assert TOKEN not in str(error)
    assert "ConnectionResetError" in str(error)
