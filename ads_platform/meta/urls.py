"""Graph API URL and parameter conventions, kept apart from the HTTP machinery.

These are the small rules that decide whether two requests are "the same page"
(loop detection), what a request is called in stats (``act/insights``, never an id),
and how parameters are written on the wire (like Meta's SDK: ``fields`` comma-joined,
other lists and objects as JSON).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

__all__ = [
    "AUTH_PARAMS",
    "encode_params",
    "fingerprint",
    "merge_query",
    "normalize_account_id",
    "normalize_endpoint",
    "origin",
    "strip_auth",
]

#: Credentials the client adds itself; never part of a page's identity.
AUTH_PARAMS = frozenset({"access_token", "appsecret_proof"})
VERSION_RE = re.compile(r"^v\d+\.\d+$")
ACCOUNT_RE = re.compile(r"^(?:act_)?(\d+)$")


def normalize_account_id(account_id: str | int) -> str:
    """``123`` / ``"123"`` / ``"act_123"`` → ``"act_123"``; anything else is refused."""
    match = ACCOUNT_RE.match(str(account_id).strip())
    if not match:
        raise ValueError(f"not an ad account id: {account_id!r} (expected act_<digits>)")
    return f"act_{match.group(1)}"


def normalize_endpoint(path: str) -> str:
    """Stable, id-free endpoint name for stats: ``act_1/insights`` → ``act/insights``."""
    raw = urllib.parse.urlsplit(path).path if "://" in path else path.split("?", 1)[0]
    parts = [p for p in raw.strip("/").split("/") if p]
    if parts and VERSION_RE.match(parts[0]):
        parts = parts[1:]
    if not parts:
        return "root"
    head, rest = parts[0], parts[1:]
    if head.startswith("act_"):
        return "/".join(["act", *rest]) if rest else "account"
    if head.isdigit():
        return "/".join(["object", *rest]) if rest else "object"
    return "/".join(parts)


def encode_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Graph API wire format: ``fields`` comma-joined, other lists/dicts as JSON (like the SDK)."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if key == "fields" and isinstance(value, list | tuple):
            out[key] = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, dict | list | tuple):
            out[key] = json.dumps(value, separators=(",", ":"), default=str)
        elif isinstance(value, dt.date):
            out[key] = value.isoformat()
        else:
            out[key] = str(value)
    return out


def strip_auth(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = [
        (k, v)
        for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        if k not in AUTH_PARAMS
    ]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def fingerprint(url: str) -> str:
    """Identity of a page request, ignoring credentials and parameter order."""
    parts = urllib.parse.urlsplit(url)
    query = sorted(
        (k, v)
        for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        if k not in AUTH_PARAMS
    )
    return hashlib.sha256(repr((parts.path, query)).encode()).hexdigest()


def merge_query(url: str, params: Mapping[str, str]) -> str:
    """``url`` with ``params`` set in its query (replacing same-named parameters).

    Done by hand because httpx replaces a URL's whole query when given ``params``.
    """
    if not params:
        return url
    parts = urllib.parse.urlsplit(url)
    query = [
        (k, v)
        for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        if k not in params
    ]
    query.extend(params.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) — the part that decides who receives our credentials."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port
