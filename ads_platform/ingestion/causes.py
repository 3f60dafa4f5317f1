"""Why an account's data is not current: the causes a person acts on, in one place.

Every failed or blocked attempt is recorded with an ``error_kind`` (what the code saw:
``token_invalid``, ``transient``, ``zero_guard`` …).  Users do not act on error kinds;
they act on causes: re-authorize a token, re-grant a permission, wait out a throttle,
check the network.  The freshness mart, the alerts and the CLI all name the same cause
with the same words, so this mapping is the one place that says which kind is which
cause and what to do about it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Cause(enum.StrEnum):
    """The latest reason an account's data is not current (stable strings)."""

    TOKEN = "token"  # noqa: S105 - a cause name, not a secret
    PERMISSION = "permission"
    THROTTLED = "throttled"
    NETWORK = "network"
    API_ERRORS = "api_errors"
    ZERO_GUARD = "zero_guard"
    VALIDATION = "validation"
    SETTINGS = "settings"
    NEVER_PULLED = "never_pulled"
    NOT_PULLED_RECENTLY = "not_pulled_recently"
    INTERNAL = "internal"


@dataclass(frozen=True)
class CauseText:
    #: Short phrase for "data as of Tue 24 Nov: <label>".
    label: str
    #: What the person reading it should do.
    action: str

    @property
    def reason(self) -> str:
        """``token expired — re-authorize``: the words after "data as of Tue 24 Nov: "."""
        return f"{self.label} — {self.action}"


#: ``error_kind`` values recorded in the attempts log → the cause they belong to.
KIND_TO_CAUSE: dict[str, Cause] = {
    "token_invalid": Cause.TOKEN,
    "token_expired": Cause.TOKEN,
    "auth": Cause.TOKEN,
    "permission": Cause.PERMISSION,
    "throttled": Cause.THROTTLED,
    "network": Cause.NETWORK,
    "transient": Cause.API_ERRORS,
    "malformed": Cause.API_ERRORS,
    "async_job": Cause.API_ERRORS,
    "async_job_failed": Cause.API_ERRORS,
    "too_much_data": Cause.API_ERRORS,
    "invalid_parameter": Cause.API_ERRORS,
    "unknown": Cause.API_ERRORS,
    "zero_guard": Cause.ZERO_GUARD,
    "validation": Cause.VALIDATION,
    "settings": Cause.SETTINGS,
    "internal": Cause.INTERNAL,
}

CAUSE_TEXT: dict[Cause, CauseText] = {
    Cause.TOKEN: CauseText("token expired", "re-authorize"),
    Cause.PERMISSION: CauseText(
        "permission lost", "re-grant ads_read on the ad account to the Meta user"
    ),
    Cause.THROTTLED: CauseText("throttled by Meta", "retried automatically; no action needed"),
    Cause.NETWORK: CauseText(
        "cannot reach the Graph API (DNS / network)", "check the network and DNS"
    ),
    Cause.API_ERRORS: CauseText("Meta API errors", "retried automatically; check Meta's status"),
    Cause.ZERO_GUARD: CauseText(
        "blocked by the zero guard (API returned zeros)",
        "retried automatically; last good data kept",
    ),
    Cause.VALIDATION: CauseText(
        "blocked by validation (malformed data)", "retried automatically; last good data kept"
    ),
    Cause.SETTINGS: CauseText("settings problem", "fix ads_platform.yaml (see the message)"),
    Cause.NEVER_PULLED: CauseText("never pulled", "run a backfill for this account"),
    Cause.NOT_PULLED_RECENTLY: CauseText(
        "no pull of the recent days", "check that the schedules and the Dagster daemon run"
    ),
    Cause.INTERNAL: CauseText("internal error", "see the run's logs"),
}


def cause_of(error_kind: str | None) -> Cause:
    """The cause of a failed or blocked attempt; unknown kinds count as API errors."""
    if not error_kind:
        return Cause.API_ERRORS
    return KIND_TO_CAUSE.get(error_kind, Cause.API_ERRORS)
