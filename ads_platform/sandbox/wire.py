"""Graph API wire format: errors, responses, cursors, number and time formatting.

Everything a client can observe about *how* an answer is encoded lives here, so
the handlers only decide *what* to answer. Meta sends scalars as strings, times
as ``2026-01-05T10:11:12+0000``, paging cursors as opaque base64 and errors as
``{"error": {...}}`` objects; these helpers keep that consistent everywhere.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import orjson

JSON_TYPE = "application/json; charset=UTF-8"
TEXT_TYPE = "text/plain; charset=UTF-8"
HTML_TYPE = "text/html; charset=UTF-8"


def dumps(obj: object) -> bytes:
    """Compact JSON bytes (what Graph sends).

    orjson where it can (a page of breakdown rows is megabytes: the standard encoder
    was a sixth of the sandbox's CPU serving breakdowns), the standard encoder for what
    orjson refuses (integers past 64 bits).  Same bytes for what the sandbox sends
    (strings, integers, plain floats; ``test_wire`` compares every body of a set of
    pulls): they would differ only on NaN and on floats written with an exponent, which
    Meta's scalars-as-strings never are.
    """
    try:
        return orjson.dumps(obj)
    except TypeError:
        return _standard_dumps(obj)


def _standard_dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(slots=True)
class Response:
    """One answer, before the HTTP layer writes it.

    ``sleep_s``, ``drop`` and ``reset`` carry the transport-level faults (timeout,
    dropped connection, connection reset) so that the batch endpoint can reuse the same
    dispatcher without having to know about sockets.
    """

    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)
    sleep_s: float = 0.0
    drop: bool = False
    reset: bool = False


def param_text(value: object) -> str:
    """A decoded JSON value as Graph parameter text: strings as they are, anything else
    as JSON (``["a","b"]``, ``true``, ``{"since":..}``), which is how the SDK encodes
    lists, maps and booleans, so a JSON body or a batch ``body`` object is read exactly
    like the same parameters sent in a query string.
    """
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def json_response(obj: object, status: int = 200) -> Response:
    return Response(status=status, body=dumps(obj))


class GraphError(Exception):
    """A Graph API error; rendered as Meta's ``{"error": {...}}`` body."""

    def __init__(
        self,
        message: str,
        *,
        code: int,
        http_status: int = 400,
        error_type: str = "OAuthException",
        subcode: int | None = None,
        user_title: str | None = None,
        user_msg: str | None = None,
        is_transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.error_type = error_type
        self.subcode = subcode
        self.user_title = user_title
        self.user_msg = user_msg
        self.is_transient = is_transient

    def body(self, fbtrace_id: str) -> dict[str, Any]:
        err: dict[str, Any] = {
            "message": self.message,
            "type": self.error_type,
            "code": self.code,
        }
        if self.subcode is not None:
            err["error_subcode"] = self.subcode
        if self.user_title is not None:
            err["error_user_title"] = self.user_title
        if self.user_msg is not None:
            err["error_user_msg"] = self.user_msg
        err["is_transient"] = self.is_transient
        err["fbtrace_id"] = fbtrace_id
        return {"error": err}

    def response(self, fbtrace_id: str) -> Response:
        return Response(status=self.http_status, body=dumps(self.body(fbtrace_id)))


def invalid_param(message: str, subcode: int | None = None) -> GraphError:
    """Code 100, the catch-all "invalid parameter" error."""
    return GraphError(f"(#100) {message}", code=100, subcode=subcode, error_type="OAuthException")


def unknown_object(object_id: str) -> GraphError:
    """What Graph answers for an id that does not exist or is not visible."""
    return GraphError(
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation. Please "
        "read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        code=100,
        subcode=33,
        error_type="GraphMethodException",
    )


# --- cursors ---------------------------------------------------------------------


def encode_cursor(position: tuple[int, int]) -> str:
    """Opaque cursor for a (bucket, offset) position; clients must not parse it."""
    raw = json.dumps([position[0], position[1]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(b"sbx1:" + raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode())
        if not raw.startswith(b"sbx1:"):
            raise ValueError("bad prefix")
        bucket, offset = json.loads(raw[5:])
        if not isinstance(bucket, int) or not isinstance(offset, int):
            raise ValueError("bad types")
        if bucket < 0 or offset < 0:
            raise ValueError("negative")
        return bucket, offset
    except (ValueError, binascii.Error, TypeError) as exc:
        raise invalid_param("Invalid cursor: the 'after' parameter is not valid") from exc


# --- formatting --------------------------------------------------------------------


def fmt_time(moment: dt.datetime) -> str:
    """Meta's entity time format: ``2026-01-05T10:11:12+0000`` (UTC)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def fmt_money(minor: int, decimals: int) -> str:
    """Minor units to Meta's money string: ``"12.34"``, or ``"1234"`` for JPY."""
    if decimals == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    unit = 10**decimals
    return f"{sign}{minor // unit}.{minor % unit:0{decimals}d}"


def money_number(minor: int, decimals: int) -> int | float:
    """Minor units to a JSON number with at most ``decimals`` decimals (truth API)."""
    if decimals == 0:
        return minor
    value: float = round(minor / 10**decimals, decimals)
    return value


def fmt_ratio(value: float) -> str:
    """Derived ratios (frequency, cpc, cpm, ctr) the way Graph prints them."""
    return f"{value:.6f}"
