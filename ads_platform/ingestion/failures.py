"""Turn any failure during a pull into one sentence a user can act on.

The Graph client already classifies and redacts; this adds what only the platform
knows (which environment variable holds the token) and picks the error kind that the
attempts log, alerts and the token-recovery sensor key on.

Every message says what happened and what to do.  Token, permission, throttle and
network errors carry their own remedy; the others (Meta's 5xx, a malformed answer, a
report job that never completes, a validation failure, a bug) end with the action of
their cause from :mod:`ads_platform.ingestion.causes`, the same words the freshness
mart and the alerts use.
"""

from __future__ import annotations

from ads_platform.ingestion.causes import CAUSE_TEXT, cause_of
from ads_platform.meta.errors import (
    AsyncJobError,
    MetaApiError,
    NetworkError,
    PermissionDeniedError,
    ThrottledError,
    TokenInvalidError,
)
from ads_platform.meta.redaction import redact
from ads_platform.schemas import ValidationFailed
from ads_platform.settings import SettingsError


def describe(error: BaseException, *, account_id: str, token_env: str | None) -> tuple[str, str]:
    """``(error_kind, message)`` for an exception raised while pulling ``account_id``."""
    if isinstance(error, TokenInvalidError):
        if token_env:
            error.hint = f"environment variable {token_env}"
        if not error.account_id:
            error.account_id = account_id
        return "token_invalid", error.user_action
    if isinstance(error, PermissionDeniedError):
        return (
            "permission",
            f"{account_id}: the token has lost access to this ad account ({error}); "
            "ask the account owner to grant ads_read to the Meta user or system user again",
        )
    if isinstance(error, ThrottledError):
        wait = f" about {error.wait_seconds:.0f} s" if error.wait_seconds else ""
        return (
            "throttled",
            f"{account_id}: Meta's rate limit was still in force after the retry budget "
            f"({error}); it will be retried on the next schedule or re-run{wait} later",
        )
    if isinstance(error, NetworkError):
        # "cannot reach graph.facebook.com (DNS / network): …; check the network and DNS"
        return "network", f"{account_id}: {error}"
    if isinstance(error, AsyncJobError):
        return _with_action(
            "async_job", f"{account_id}: Meta's report job did not complete ({error})"
        )
    if isinstance(error, MetaApiError):
        return _with_action(str(error.kind), f"{account_id}: Graph API error: {error}")
    if isinstance(error, ValidationFailed):
        return _with_action("validation", f"{account_id}: {error}")
    if isinstance(error, SettingsError):
        return "settings", str(error)
    return _with_action("internal", redact(f"{account_id}: {type(error).__name__}: {error}"))


def _with_action(kind: str, message: str) -> tuple[str, str]:
    """``(kind, message; what to do)``: the action of the kind's cause."""
    return kind, f"{message}; {CAUSE_TEXT[cause_of(kind)].action}"
