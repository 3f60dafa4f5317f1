"""A failed run as the person at the terminal reads it: one line per failed step.

Why: the platform's failures already say what happened and what to do in one sentence
(:mod:`ads_platform.ingestion.failures`, ``dg.Failure`` descriptions).  Dagster's console
logger prints that sentence again inside its error block, followed by a "Stack Trace:"
of frames that only a developer can use.  Commands that run Dagster in this process
(``ads-platform demo``) therefore keep Dagster's console logger at :data:`QUIET_LOG_LEVEL`
and print :func:`failure_lines` instead; ``--debug`` restores Dagster's own output,
stack traces included.  The run's event log (the UI, the compute logs) keeps everything.

A run can cover several accounts; which of them failed, on which days, is read from the
step failure's metadata (:func:`failed_accounts`), not from its sentence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

#: Dagster's console logger in a command's own process: nothing below CRITICAL.
QUIET_LOG_LEVEL = "CRITICAL"
#: With ``--debug``: warnings and errors, Dagster's error blocks and stack traces too.
DEBUG_LOG_LEVEL = "WARNING"


def console_log_level(debug: bool) -> str:
    return DEBUG_LOG_LEVEL if debug else QUIET_LOG_LEVEL


def console_run_config(log_level: str | None) -> dict[str, Any]:
    """The run config that sets a run's console log level (none: Dagster's default)."""
    if not log_level:
        return {}
    return {"loggers": {"console": {"config": {"log_level": log_level}}}}


def _reason(event: dg.DagsterEvent) -> str:
    data = event.step_failure_data
    if data.user_failure_data and data.user_failure_data.description:
        return " ".join(data.user_failure_data.description.split())
    if data.error is None:
        return "failed (no error recorded)"
    # "dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while…"
    # wraps the user's exception; its cause carries the message that says something.
    error = data.error
    while error.cause is not None and error.cls_name in _WRAPPERS:
        error = error.cause
    first = error.message.strip().splitlines()[0] if error.message.strip() else ""
    if error.cls_name and first.startswith(error.cls_name + ": "):
        first = first[len(error.cls_name) + 2 :]
    return " ".join(first.split()) or (error.cls_name or "failed")


_WRAPPERS = frozenset({"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"})


def failure_lines(events: Iterable[dg.DagsterEvent], debug: bool = False) -> list[str]:
    """``<step>: <reason>`` for every failed step; with ``debug`` the full error too."""
    lines: list[str] = []
    for event in events:
        if not event.is_step_failure:
            continue
        lines.append(f"{event.step_key}: {_reason(event)}")
        error = event.step_failure_data.error
        if debug and error is not None:
            lines.append(error.to_string())
    return lines


def step_failures(instance: dg.DagsterInstance, run_id: str) -> list[dg.DagsterEvent]:
    """The failed-step events of one run, from the instance's event log."""
    return [
        record.get_dagster_event()
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    ]


#: The key of a step's ``dg.Failure`` metadata that says, per account, which days failed
#: and why (written by :func:`ads_platform.assets.reporting.failure_metadata`).
FAILED_ACCOUNTS = "failed_accounts"


@dataclass(frozen=True)
class AccountFailure:
    """One account's part of a failed step: its failed days and the reasons, as the
    person at the terminal reads them (the account and day prefixes removed)."""

    days: tuple[dt.date, ...]
    reasons: tuple[str, ...]
    error_kinds: tuple[str, ...] = ()


def failed_accounts_value(failures: Mapping[str, AccountFailure]) -> dg.JsonMetadataValue:
    """``failures`` as the JSON metadata value :func:`failed_accounts` reads back.

    Why JSON and not the description: a run can cover several accounts (a range run of
    a backfill), and a reader must know which of them failed on which days; the
    description is for people and its wording may change.
    """
    return dg.MetadataValue.json(
        {
            account: {
                "days": [day.isoformat() for day in failure.days],
                "reasons": list(failure.reasons),
                "error_kinds": list(failure.error_kinds),
            }
            for account, failure in sorted(failures.items())
        }
    )


def failed_accounts(event: dg.DagsterEvent) -> dict[str, AccountFailure] | None:
    """The per-account failures a step failure carries, or None when it carries none
    (an exception the platform did not expect, a step that failed another way)."""
    if not event.is_step_failure:
        return None
    user = event.step_failure_data.user_failure_data
    value = user.metadata.get(FAILED_ACCOUNTS) if user and user.metadata else None
    data = value.value if isinstance(value, dg.JsonMetadataValue) else None
    if not isinstance(data, dict):
        return None
    return {
        str(account): AccountFailure(
            days=tuple(dt.date.fromisoformat(d) for d in entry.get("days", [])),
            reasons=tuple(str(r) for r in entry.get("reasons", [])),
            error_kinds=tuple(str(k) for k in entry.get("error_kinds", [])),
        )
        for account, entry in data.items()
    }
