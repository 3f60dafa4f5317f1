"""A failed run as the person at the terminal reads it: one line per failed step.

Why: the platform's failures already say what happened and what to do in one sentence
(:mod:`ads_platform.ingestion.failures`, ``dg.Failure`` descriptions).  Dagster's console
logger prints that sentence again inside its error block, followed by a "Stack Trace:"
of frames that only a developer can use.  Commands that run Dagster in this process
(``ads-platform demo``) therefore keep Dagster's console logger at :data:`QUIET_LOG_LEVEL`
and print :func:`failure_lines` instead; ``--debug`` restores Dagster's own output,
stack traces included.  The run's event log (the UI, the compute logs) keeps everything.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

#: Dagster's console logger in a command's own process: nothing below CRITICAL.
QUIET_LOG_LEVEL = "CRITICAL"
#: With ``--debug``: warnings and errors, Dagster's error blocks and stack traces too.
DEBUG_LOG_LEVEL = "WARNING"


def console_log_level(debug: bool) -> str:
    return DEBUG_LOG_LEVEL if debug else QUIET_LOG_LEVEL


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
