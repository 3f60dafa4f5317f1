"""A failed pull's message says what happened and what to do, whatever failed.

Found by the fault matrix: a persistent 5xx, a non-JSON answer, a looping ``paging.next``
and a report job that kept failing were recorded as "Graph API error: …" with nothing
for the reader to do; the freshness mart and the alert said "retried automatically",
the run's own message did not.
"""

from __future__ import annotations

import pytest

from ads_platform.ingestion.causes import CAUSE_TEXT, Cause, cause_of
from ads_platform.ingestion.failures import describe
from ads_platform.meta.errors import (
    AsyncJobError,
    MalformedResponseError,
    MetaApiError,
    classify,
)
from ads_platform.schemas import ValidationFailed

ACCOUNT = "act_1"


def _server_error() -> MetaApiError:
    body = {"error": {"message": "An unexpected error has occurred.", "code": 2}}
    error = classify(500, body, account_id=ACCOUNT, endpoint="account")
    assert error is not None
    return error


FAILURES: dict[str, tuple[BaseException, Cause, str]] = {
    "5xx": (_server_error(), Cause.API_ERRORS, "temporary Meta error"),
    "non-JSON": (
        MalformedResponseError("HTTP 200 with a non-JSON body", is_transient=True),
        Cause.API_ERRORS,
        "non-JSON body",
    ),
    "looping next": (
        MalformedResponseError("paging.next loops back", reason="looping_next"),
        Cause.API_ERRORS,
        "loops back",
    ),
    "report job": (
        AsyncJobError("report run 7 failed", reason="failed", status="Job Failed"),
        Cause.API_ERRORS,
        "report job did not complete",
    ),
    "validation": (
        ValidationFailed("ad_insights_daily", "spend is negative"),
        Cause.VALIDATION,
        "spend is negative",
    ),
    "bug": (KeyError("date_start"), Cause.INTERNAL, "KeyError"),
}


@pytest.mark.parametrize("name", list(FAILURES))
def test_every_failure_message_ends_with_what_to_do(name: str) -> None:
    error, cause, what = FAILURES[name]
    kind, message = describe(error, account_id=ACCOUNT, token_env=None)
    assert cause_of(kind) is cause
    assert what in message  # what happened
    assert message.endswith(f"; {CAUSE_TEXT[cause].action}"), message  # what to do
    assert message.startswith(ACCOUNT)
