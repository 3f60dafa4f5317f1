"""Keep access tokens and app-secret proofs out of every string that leaves the client.

A Meta token is a bearer credential for an advertiser's money: anyone who reads it in a
log, a Dagster event, an exception in a Slack alert or a proxy log can spend with it.
Redaction therefore happens in three layers that do not trust each other:

* known secrets (registered by every :class:`~ads_platform.meta.client.GraphClient`)
  are replaced wherever they appear, raw or percent-encoded;
* the values of credential-bearing query parameters and ``Authorization`` headers are
  replaced even when the secret was never registered (a token from a ``paging.next``
  URL, a token exchanged by someone else);
* anything shaped like a Meta user/system token (``EAA…``) is replaced as a last resort.
"""

from __future__ import annotations

import logging
import re
import threading
import urllib.parse
from collections.abc import Iterable

REDACTED = "***REDACTED***"

#: Query parameters whose values are credentials.
SENSITIVE_PARAMS: tuple[str, ...] = (
    "access_token",
    "appsecret_proof",
    "client_secret",
    "fb_exchange_token",
    "input_token",
)

# Secrets shorter than this are not registered: replacing "1" or "abc" everywhere would
# mangle messages while protecting nothing real (tokens are ~200 chars, proofs 64).
_MIN_SECRET_LEN = 8

_PARAM_RE = re.compile(
    r"(?P<key>(?:(?<![A-Za-z0-9])|(?<=%3F)|(?<=%3f)|(?<=%26))(?:"
    + "|".join(SENSITIVE_PARAMS)
    + r"))"
    r"(?P<sep>=|%3D|['\"]?\s*[:=]\s*['\"]?)"
    r"(?P<value>[^&\s#'\",;)}\]]+)",
    re.IGNORECASE,
)
_AUTH_HEADER_RE = re.compile(
    r"(?P<key>\bauthorization['\"]?\s*[:=,]\s*['\"]?)(?P<scheme>(?:bearer|oauth|basic)\s+)?"
    r"(?P<value>[^\s'\",;)}\]]+)",
    re.IGNORECASE,
)
_BEARER_RE = re.compile(r"(?P<key>\bbearer\s+)(?P<value>[A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE)
# Meta user, page and system-user tokens start with "EAA"; app tokens are "<id>|<secret>".
_META_TOKEN_RE = re.compile(r"\bEAA[A-Za-z0-9]{20,}")
_APP_TOKEN_RE = re.compile(r"\b(\d{6,})(\||%7C)[A-Za-z0-9_-]{16,}")

_registry_lock = threading.Lock()
_registry: set[str] = set()


def register_secret(secret: str | None) -> None:
    """Make ``secret`` redacted from every exception and log record from now on.

    Process-wide on purpose: a secret known to one client must not leak through the
    exception or log line of another component that happens to print it.
    """
    if not secret or len(secret) < _MIN_SECRET_LEN:
        return
    with _registry_lock:
        _registry.add(secret)


def registered_secrets() -> frozenset[str]:
    """Snapshot of the registered secrets (for filters that must not hold the lock)."""
    with _registry_lock:
        return frozenset(_registry)


def _replace_secrets(text: str, secrets: Iterable[str]) -> str:
    # Longest first, so a secret that contains another is removed whole.
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        if len(secret) < _MIN_SECRET_LEN:
            continue
        if secret in text:
            text = text.replace(secret, REDACTED)
        encoded = urllib.parse.quote(secret, safe="")
        if encoded != secret and encoded in text:
            text = text.replace(encoded, REDACTED)
        plus_encoded = urllib.parse.quote_plus(secret, safe="")
        if plus_encoded not in (secret, encoded) and plus_encoded in text:
            text = text.replace(plus_encoded, REDACTED)
    return text


def redact_patterns(text: str) -> str:
    """Redact credential-shaped substrings without knowing any secret."""
    text = _PARAM_RE.sub(lambda m: f"{m['key']}{m['sep']}{REDACTED}", text)
    text = _AUTH_HEADER_RE.sub(lambda m: f"{m['key']}{m['scheme'] or ''}{REDACTED}", text)
    text = _BEARER_RE.sub(lambda m: f"{m['key']}{REDACTED}", text)
    text = _META_TOKEN_RE.sub(REDACTED, text)
    return _APP_TOKEN_RE.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}", text)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with ``secrets``, registered secrets and credential patterns removed."""
    if not text:
        return text
    text = _replace_secrets(text, [*secrets, *registered_secrets()])
    return redact_patterns(text)


def redact_url(url: str, secrets: Iterable[str] = ()) -> str:
    """Redact credential query values in a URL while keeping it readable for debugging."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return redact(url, secrets)
    if parts.query:
        pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        lowered = {p.lower() for p in SENSITIVE_PARAMS}
        cleaned = [(k, REDACTED if k.lower() in lowered else v) for k, v in pairs]
        query = urllib.parse.urlencode(cleaned, safe="*")
        url = urllib.parse.urlunsplit(parts._replace(query=query))
    return redact(url, secrets)


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers safe to log: ``Authorization``/``Cookie`` values replaced."""
    hidden = {"authorization", "proxy-authorization", "cookie", "set-cookie"}
    return [(k, REDACTED if k.lower() in hidden else redact(v)) for k, v in headers]


class RedactingFilter(logging.Filter):
    """Rewrite each record so the formatted message and traceback carry no secret.

    Installed on loggers (not handlers) so records are clean before *any* handler —
    Dagster's, pytest's caplog, a JSON shipper — sees them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            message = str(record.msg)
        clean = redact(message)
        if clean != message or record.args:
            record.msg = clean
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(formatted)
            # Keep the type for handlers that inspect it but drop the live objects whose
            # repr could be re-rendered unredacted by a custom formatter.
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


#: Loggers that can see request URLs or our own messages.  Filters on a logger only
#: apply to records created on that exact logger, so httpcore's children are listed.
DEFAULT_REDACTED_LOGGERS: tuple[str, ...] = (
    "ads_platform",
    "ads_platform.meta",
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "urllib3",
    "urllib3.connectionpool",
    "facebook_business",
)

_install_lock = threading.Lock()
_FILTER = RedactingFilter()


def install_log_redaction(logger_names: Iterable[str] = DEFAULT_REDACTED_LOGGERS) -> None:
    """Attach the redacting filter to ``logger_names`` and their existing children (idempotent)."""
    names = set(logger_names)
    with _install_lock:
        existing = [
            name
            for name in list(logging.Logger.manager.loggerDict)
            if any(name.startswith(prefix + ".") for prefix in names)
        ]
        for name in names.union(existing):
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
