"""What went wrong with a Graph API call, in terms a caller can act on.

Meta reports failures in many shapes: HTTP 400 with ``code 190`` for an expired token,
HTTP 200 with an ``error`` object, HTTP 200 with the text "Service Unavailable", a 500
with a JSON body, a 503 with HTML, a cut-off JSON page.  Callers should not parse any
of that.  :func:`classify` turns a response into one exception class per *remedy*
(retry, wait, re-authorize, ask for access, shrink the request, give up), and every
exception message is redacted at construction so it can go to logs and alerts as is.
"""

from __future__ import annotations

import enum
import errno
import ipaddress
import json
import re
import socket
import urllib.parse
from collections.abc import Mapping
from typing import Any, Literal

import httpx

from ads_platform.meta.pacing import parse_usage_headers
from ads_platform.meta.redaction import redact

__all__ = [
    "THROTTLE_CODES",
    "TOKEN_SUBCODE_MEANINGS",
    "AsyncJobError",
    "ErrorKind",
    "InvalidParameterError",
    "MalformedResponseError",
    "MetaApiError",
    "NetworkError",
    "PermissionDeniedError",
    "ThrottledError",
    "TokenInvalidError",
    "TooMuchDataError",
    "TransientError",
    "classify",
    "required_field",
    "transport_error",
]


class ErrorKind(enum.StrEnum):
    """The remedy family of an error; stable strings for metrics and Dagster metadata."""

    TRANSIENT = "transient"
    NETWORK = "network"
    THROTTLED = "throttled"
    AUTH = "auth"
    PERMISSION = "permission"
    INVALID_PARAMETER = "invalid_parameter"
    TOO_MUCH_DATA = "too_much_data"
    ASYNC_JOB_FAILED = "async_job_failed"
    MALFORMED = "malformed"
    UNKNOWN = "unknown"


#: Rate-limit codes: app (4), user (17), pages (32), application (341), custom (613)
#: and the Business Use Case range 80000-80014.
THROTTLE_CODES: frozenset[int] = frozenset({4, 17, 32, 341, 613, *range(80000, 80015)})
#: "Temporarily blocked for policy reasons": retrying soon only extends the block.
BLOCKED_CODE = 368
TRANSIENT_CODES: frozenset[int] = frozenset({1, 2, -1, -2})
AUTH_CODES: frozenset[int] = frozenset({102, 190})
PERMISSION_CODES: frozenset[int] = frozenset({10, *range(200, 300)})
#: 100 invalid parameter; 3018 start date beyond the 37-month insights retention.
INVALID_PARAMETER_CODES: frozenset[int] = frozenset({100, 3018})
#: (code, subcode) pairs that mean "ask for less in one synchronous request".
TOO_MUCH_DATA: frozenset[tuple[int, int]] = frozenset({(100, 1504018), (2, 1504038)})

TOKEN_SUBCODE_MEANINGS: Mapping[int, str] = {
    458: "the app is not installed for this user",
    459: "the user is checkpointed (must log in to Facebook to unlock)",
    460: "the password changed or the token was revoked",
    463: "the token expired",
    464: "the user is unconfirmed",
    467: "the token was invalidated (user logged out)",
}

#: Default wait for code 368 when Meta gives no estimate.  Long on purpose: it is a
#: policy block, not a rate limit, and the client caps it by its retry budget.
DEFAULT_BLOCKED_WAIT_SECONDS = 900.0

_EXPIRED_ON_RE = re.compile(r"[Ss]ession has expired on ([^.]+?)(?:\.|$)")
_REDUCE_DATA_RE = re.compile(r"reduce the amount of data", re.IGNORECASE)
# Meta answers a wrong app secret with code 1 (otherwise "unknown, retry"): retrying
# a configuration error only burns the budget.
_CLIENT_SECRET_RE = re.compile(r"client secret", re.IGNORECASE)


class MetaApiError(Exception):
    """Root of every error the Graph client raises.

    All context travels as attributes so callers branch on ``kind``/``is_transient``
    instead of parsing text.  ``str()`` is rebuilt on demand (so subclasses can let the
    caller enrich it, see :attr:`TokenInvalidError.hint`) and always redacted.
    """

    default_kind: ErrorKind = ErrorKind.UNKNOWN

    def __init__(
        self,
        detail: str,
        *,
        kind: ErrorKind | None = None,
        code: int | None = None,
        subcode: int | None = None,
        http_status: int | None = None,
        fbtrace_id: str | None = None,
        account_id: str | None = None,
        endpoint: str | None = None,
        is_transient: bool = False,
        meta_message: str | None = None,
        error_type: str | None = None,
        user_title: str | None = None,
        user_message: str | None = None,
    ) -> None:
        self.kind = kind or self.default_kind
        self.detail = redact(detail)
        self.code = code
        self.subcode = subcode
        self.http_status = http_status
        self.fbtrace_id = fbtrace_id
        self.account_id = account_id
        self.endpoint = endpoint
        self.is_transient = is_transient
        self.meta_message = redact(meta_message) if meta_message else None
        self.error_type = error_type
        self.user_title = redact(user_title) if user_title else None
        self.user_message = redact(user_message) if user_message else None
        #: Retries the client spent on the call before raising (set by the client).
        self.retries = 0
        super().__init__(str(self))

    def _headline(self) -> str:
        return self.detail

    def __str__(self) -> str:
        context = []
        if self.account_id:
            context.append(f"account={self.account_id}")
        if self.endpoint:
            context.append(f"endpoint={self.endpoint}")
        if self.http_status is not None:
            context.append(f"http={self.http_status}")
        if self.code is not None:
            code = f"{self.code}/{self.subcode}" if self.subcode is not None else str(self.code)
            context.append(f"code={code}")
        if self.fbtrace_id:
            context.append(f"fbtrace_id={self.fbtrace_id}")
        text = self._headline()
        if self.meta_message and self.meta_message not in text:
            text = f"{text} (Meta: {self.meta_message})"
        if context:
            text = f"{text} [{' '.join(context)}]"
        return redact(text)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def to_dict(self) -> dict[str, Any]:
        """Plain, redacted fields for Dagster metadata and structured logs."""
        return {
            "type": type(self).__name__,
            "kind": str(self.kind),
            "message": str(self),
            "code": self.code,
            "subcode": self.subcode,
            "http_status": self.http_status,
            "fbtrace_id": self.fbtrace_id,
            "account_id": self.account_id,
            "endpoint": self.endpoint,
            "is_transient": self.is_transient,
        }


class TransientError(MetaApiError):
    """Meta or the network hiccuped; the same request should work if retried later."""

    default_kind = ErrorKind.TRANSIENT

    def __init__(self, detail: str, **kwargs: Any) -> None:
        kwargs.setdefault("is_transient", True)
        super().__init__(detail, **kwargs)


NetworkReason = Literal["dns", "refused", "unreachable"]

_REASON_TEXT: Mapping[str, str] = {
    "dns": "name resolution failed",
    "refused": "the connection was refused",
    "unreachable": "the network is unreachable",
}


class NetworkError(TransientError):
    """The Graph API host could not be reached at all (DNS, refused, no route).

    Unlike a 5xx this is not Meta hiccuping: a DNS or network outage outlasts any
    retry budget, so the client retries it at most once, and the person reading the
    message must fix the network, not the token.  A refused connection to a loopback
    address means nothing listens on this machine (the sandbox or a local proxy is
    down), and the message says so instead of blaming DNS.
    """

    default_kind = ErrorKind.NETWORK

    def __init__(
        self,
        detail: str,
        *,
        host: str,
        port: int | None = None,
        reason: NetworkReason = "dns",
        **kwargs: Any,
    ) -> None:
        self.host = host
        self.port = port
        self.reason = reason
        super().__init__(detail, **kwargs)

    @property
    def loopback(self) -> bool:
        """Whether the host is this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
        if self.host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host.strip("[]")).is_loopback
        except ValueError:
            return False

    @property
    def user_action(self) -> str:
        """One sentence for the attempts log, alerts and ``doctor``."""
        tries = self.retries + 1
        attempts = f"after {tries} attempt" + ("s" if tries > 1 else "")
        if self.loopback and self.reason == "refused":
            where = f"{self.host}:{self.port}" if self.port else self.host
            return (
                f"cannot reach {where} (connection refused: nothing listens there on this "
                f"machine, {attempts}): start the local Graph API (sandbox) or point "
                "meta.graph_base_url at the Graph API"
            )
        return (
            f"cannot reach {self.host} (DNS / network): {_REASON_TEXT[self.reason]} "
            f"({self.detail}) {attempts}; check the network and DNS"
        )

    def _headline(self) -> str:
        return self.user_action


class ThrottledError(MetaApiError):
    """A rate limit (or a 368 policy block) was hit: wait, do not hammer.

    ``wait_seconds`` is Meta's estimate when it gave one (``estimated_time_to_regain_access``),
    else ``None`` and the client backs off on its own.  When the client gives up because
    the wait exceeds its budget, callers can use ``wait_seconds`` to reschedule.
    """

    default_kind = ErrorKind.THROTTLED

    def __init__(
        self,
        detail: str,
        *,
        wait_seconds: float | None = None,
        blocked: bool = False,
        usage_pct: float | None = None,
        **kwargs: Any,
    ) -> None:
        self.wait_seconds = wait_seconds
        self.blocked = blocked
        self.usage_pct = usage_pct
        kwargs.setdefault("is_transient", True)
        super().__init__(detail, **kwargs)


class TokenInvalidError(MetaApiError):
    """The token cannot be used any more; only a person can fix it.

    The message names the account and the reason so the alert tells the operator what
    to do.  ``hint`` is where the token lives (e.g. the environment variable name), which
    the client does not know; callers set it and ``str()`` / :attr:`user_action` pick it up.
    """

    default_kind = ErrorKind.AUTH

    def __init__(
        self, detail: str, *, expired_on: str | None = None, hint: str | None = None, **kwargs: Any
    ) -> None:
        self.expired_on = expired_on
        self.hint = hint
        super().__init__(detail, **kwargs)

    @property
    def reason(self) -> str:
        """Human meaning of the subcode (458 app not installed … 467 logged out)."""
        if self.subcode is not None and self.subcode in TOKEN_SUBCODE_MEANINGS:
            return TOKEN_SUBCODE_MEANINGS[self.subcode]
        if self.expired_on:
            return TOKEN_SUBCODE_MEANINGS[463]
        if self.code == 102:
            return "the session is invalid"
        return "the token is invalid"

    @property
    def is_expired(self) -> bool:
        return self.subcode == 463 or self.expired_on is not None

    @property
    def user_action(self) -> str:
        """One sentence an operator can act on, e.g. for an alert."""
        who = f"token for {self.account_id}" if self.account_id else "token"
        if self.is_expired:
            what = f"{who} expired" + (f" on {self.expired_on}" if self.expired_on else "")
        else:
            what = f"{who} is no longer valid: {self.reason}"
        if self.hint:
            # A new token in the variable replaces one the platform refreshed and
            # stored (TokenStore.choose), so this is the whole fix.
            return (
                f"{what}: re-authorize the Meta user and set the new token in {self.hint}; "
                "the next pull uses it"
            )
        return f"{what}: re-authorize the Meta user and set the new token"

    def _headline(self) -> str:
        return self.user_action


class PermissionDeniedError(MetaApiError):
    """The token works but lacks access to this account or object (codes 10, 200-299)."""

    default_kind = ErrorKind.PERMISSION


class InvalidParameterError(MetaApiError):
    """The request itself is wrong (code 100); retrying the same request cannot help."""

    default_kind = ErrorKind.INVALID_PARAMETER


class TooMuchDataError(MetaApiError):
    """The request asks for too much at once (100/1504018, 2/1504038, "reduce the amount of data").

    ``remedy`` tells callers how to shrink: ``"async"`` (use an async report run or a
    smaller date range) or ``"smaller_page"`` (same request with a lower ``limit``).
    """

    default_kind = ErrorKind.TOO_MUCH_DATA

    def __init__(
        self, detail: str, *, remedy: Literal["async", "smaller_page"] = "async", **kwargs: Any
    ) -> None:
        self.remedy = remedy
        super().__init__(detail, **kwargs)


class AsyncJobError(MetaApiError):
    """An async report run failed, was skipped, or did not finish in time."""

    default_kind = ErrorKind.ASYNC_JOB_FAILED

    def __init__(
        self,
        detail: str,
        *,
        reason: Literal["failed", "skipped", "stuck", "timed_out", "no_report_run_id"] = "failed",
        report_run_id: str | None = None,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.reason = reason
        self.report_run_id = report_run_id
        self.status = status
        self.since = since
        self.until = until
        super().__init__(detail, **kwargs)


class MalformedResponseError(MetaApiError):
    """Meta answered something that is not a valid Graph response.

    Never treated as empty data: a quiet account and a broken answer must not look alike.
    Non-JSON and truncated bodies are usually a proxy or overloaded front end and are
    marked transient (the client retries a few times); structural problems such as a
    looping ``paging.next`` are not.
    """

    default_kind = ErrorKind.MALFORMED

    def __init__(
        self,
        detail: str,
        *,
        reason: str = "unexpected_shape",
        field: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.reason = reason
        #: The missing or unusable field, when one is to blame (see :func:`required_field`).
        self.field = field
        super().__init__(detail, **kwargs)


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _as_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _regain_seconds(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    report = parse_usage_headers(headers)
    return report.regain_seconds if report.regain_seconds > 0 else None


def _usage_pct(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    report = parse_usage_headers(headers)
    pct = max(report.account_pct, report.app_pct)
    return pct if pct > 0 else None


def _decode(body: object) -> tuple[object, str | None]:
    """Parse raw text; return (parsed, problem) where problem names why parsing failed."""
    if isinstance(body, bytes | bytearray):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return None, "non_json"
    if not isinstance(body, str):
        return body, None
    text = body.strip()
    if not text:
        return None, "empty"
    try:
        return json.loads(text), None
    except ValueError:
        return None, "truncated" if text[0] in "{[" else "non_json"


def classify(
    http_status: int,
    body: object | None,
    *,
    headers: Mapping[str, str] | None = None,
    account_id: str | None = None,
    endpoint: str | None = None,
    blocked_wait_seconds: float = DEFAULT_BLOCKED_WAIT_SECONDS,
) -> MetaApiError | None:
    """Map one HTTP response to the error it represents, or ``None`` if it is a success.

    ``body`` is either the raw text/bytes (parsed here, so truncation is detected) or an
    already parsed JSON value.  Pure: no I/O, no clock, so the whole table is unit-tested.
    A ``None`` result means "no error"; whether the JSON has the expected shape (a dict
    with ``data``) is the caller's check.
    """
    parsed, problem = _decode(body)
    ctx: dict[str, Any] = {
        "http_status": http_status,
        "account_id": account_id,
        "endpoint": endpoint,
    }

    error = parsed.get("error") if isinstance(parsed, dict) else None
    if error:
        return _classify_error_object(error, headers, ctx, blocked_wait_seconds)

    if http_status == 429:
        return ThrottledError(
            "HTTP 429 Too Many Requests",
            wait_seconds=_regain_seconds(headers),
            usage_pct=_usage_pct(headers),
            **ctx,
        )
    if http_status >= 500 or http_status == 408:
        snippet = _snippet(body) if problem else "no error object"
        return TransientError(f"HTTP {http_status} from Meta: {snippet}", **ctx)
    if http_status >= 400:
        return MetaApiError(
            f"HTTP {http_status} without a Graph error object: {_snippet(body)}", **ctx
        )
    if http_status >= 300:
        return MetaApiError(f"unexpected redirect (HTTP {http_status})", **ctx)
    if problem is not None:
        what = {
            "empty": "an empty body",
            "truncated": "truncated JSON",
            "non_json": f"a non-JSON body ({_snippet(body)})",
        }[problem]
        return MalformedResponseError(
            f"HTTP {http_status} with {what}", reason=problem, is_transient=True, **ctx
        )
    return None


def _snippet(body: object, limit: int = 80) -> str:
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8", "replace")
    text = " ".join(str(body).split()) if body is not None else ""
    return redact(text[:limit] + ("…" if len(text) > limit else "")) or "<empty>"


def _classify_error_object(
    error: object,
    headers: Mapping[str, str] | None,
    ctx: dict[str, Any],
    blocked_wait_seconds: float,
) -> MetaApiError:
    if not isinstance(error, dict):
        transient = ctx["http_status"] >= 500
        cls = TransientError if transient else MetaApiError
        return cls(f"Graph error: {_snippet(error)}", **ctx)

    code = _as_int(error.get("code"))
    subcode = _as_int(error.get("error_subcode"))
    message = _as_str(error.get("message")) or "no message"
    flagged_transient = error.get("is_transient") is True
    ctx = {
        **ctx,
        "code": code,
        "subcode": subcode,
        "fbtrace_id": _as_str(error.get("fbtrace_id")),
        "meta_message": message,
        "error_type": _as_str(error.get("type")),
        "user_title": _as_str(error.get("error_user_title")),
        "user_message": _as_str(error.get("error_user_msg")),
    }

    if code in AUTH_CODES:
        match = _EXPIRED_ON_RE.search(message)
        return TokenInvalidError(
            "token invalid", expired_on=match.group(1).strip() if match else None, **ctx
        )
    if code in PERMISSION_CODES:
        return PermissionDeniedError("permission denied for this token", **ctx)
    if code is not None and subcode is not None and (code, subcode) in TOO_MUCH_DATA:
        return TooMuchDataError("too much data for one synchronous request", remedy="async", **ctx)
    if code in TRANSIENT_CODES and _CLIENT_SECRET_RE.search(message):
        return InvalidParameterError("Meta rejected the app credentials", **ctx)
    if code in TRANSIENT_CODES and _REDUCE_DATA_RE.search(message):
        return TooMuchDataError(
            "Meta asks to reduce the amount of data", remedy="smaller_page", **ctx
        )
    if code in THROTTLE_CODES:
        return ThrottledError(
            "rate limited",
            wait_seconds=_regain_seconds(headers),
            usage_pct=_usage_pct(headers),
            **ctx,
        )
    if code == BLOCKED_CODE:
        regain = _regain_seconds(headers)
        return ThrottledError(
            "temporarily blocked (368)",
            wait_seconds=regain if regain is not None else blocked_wait_seconds,
            blocked=True,
            **ctx,
        )
    if code in TRANSIENT_CODES or flagged_transient or ctx["http_status"] >= 500:
        return TransientError("temporary Meta error", **ctx)
    if code in INVALID_PARAMETER_CODES:
        return InvalidParameterError("invalid parameter", **ctx)
    return MetaApiError("unrecognized Graph error", **ctx)


def _network_reason(exc: BaseException) -> tuple[NetworkReason, BaseException] | None:
    """Why a connection could not be opened, from the exception chain httpx keeps.

    ``httpx.ConnectError`` wraps ``socket.gaierror`` (DNS), ``ConnectionRefusedError``
    and "no route" ``OSError``s alike; TLS and other connect failures stay transient.
    """
    if not isinstance(exc, httpx.ConnectError):
        return None
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        candidates = [cause, *(a for a in cause.args if isinstance(a, BaseException))]
        for item in candidates:
            if isinstance(item, socket.gaierror):
                return "dns", item
            if isinstance(item, ConnectionRefusedError):
                return "refused", item
            if isinstance(item, OSError) and item.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
                return "unreachable", item
        cause = cause.__cause__ or cause.__context__
    return None


def transport_error(
    exc: BaseException,
    *,
    account_id: str | None = None,
    endpoint: str | None = None,
    url: str | None = None,
) -> TransientError:
    """Wrap a network-level failure (timeout, reset, refused, DNS) as a retryable error.

    Failures to reach the host at all (DNS, refused, unreachable) become
    :class:`NetworkError`; timeouts and resets stay :class:`TransientError`.  Only the
    exception type and redacted text are kept: httpx exceptions can carry the request,
    whose URL may hold the token.
    """
    detail = redact(str(exc)) or "no detail"
    network = _network_reason(exc)
    if network is not None and url:
        reason, root = network
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or "the Graph API host"
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return NetworkError(
            redact(str(root)) or detail,
            host=host,
            port=port,
            reason=reason,
            account_id=account_id,
            endpoint=endpoint,
        )
    return TransientError(
        f"transport error {type(exc).__name__}: {detail}",
        account_id=account_id,
        endpoint=endpoint,
    )


def _excerpt(value: object, limit: int = 160) -> str:
    """A short, redacted, one-line rendering of an API object for error messages."""
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return _snippet(text, limit)


def required_field(
    obj: object,
    field: str,
    *,
    endpoint: str,
    account_id: str | None = None,
    what: str = "response",
    error: type[MalformedResponseError] = MalformedResponseError,
) -> Any:
    """The value of a field the platform relies on, or an error naming endpoint and field.

    The one place that reads a *required* field of a Graph API object: indexing with
    ``obj[field]`` turns Meta's (or a proxy's) deviation into a bare ``KeyError`` that
    names neither the endpoint nor the object.  Absent, ``null`` and empty-string values
    all count as missing (Meta omits fields it has no value for).  The message carries a
    redacted excerpt of the object so the operator sees what came instead.
    """
    if isinstance(obj, Mapping):
        value = obj.get(field)
        if value is not None and value != "":
            return value
        problem = f"has no {field!r}" if field not in obj else f"has an empty {field!r}"
    else:
        problem = f"is not an object (expected one with {field!r})"
    raise error(
        f"{endpoint} {what} {problem}: {_excerpt(obj)}",
        reason="missing_field",
        field=field,
        account_id=account_id,
        endpoint=endpoint,
    )
