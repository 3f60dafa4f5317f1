"""Async insights report runs: submit, poll until done, fetch the pages, split on failure.

Why apart from :mod:`ads_platform.meta.client`: the client is the transport (auth,
retries, pacing, paging, error classes) and changes when Meta's wire rules do; report
runs are an orchestration on top of it (a POST, a poll loop with its own clock and
give-up rules, a recursive halving of the date range) that changes when Meta's async
job behaviour does.  They only use the transport's public calls (``post``, ``get``,
``iter_rows``), so every request still goes through the same retries, pacing, stats
and redaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ads_platform.meta.errors import (
    AsyncJobError,
    MalformedResponseError,
    TooMuchDataError,
    required_field,
)
from ads_platform.meta.urls import normalize_account_id

__all__ = [
    "ASYNC_COMPLETED",
    "ASYNC_FAILED",
    "ASYNC_PENDING",
    "ASYNC_SKIPPED",
    "ReportPolling",
    "ReportRuns",
    "ReportTransport",
    "time_range",
]

ASYNC_COMPLETED = "Job Completed"
ASYNC_FAILED = frozenset({"Job Failed"})
ASYNC_SKIPPED = frozenset({"Job Skipped"})
ASYNC_PENDING = frozenset({"Job Not Started", "Job Started", "Job Running"})


class ReportTransport(Protocol):
    """The calls a report run needs from the Graph API transport (``GraphClient``)."""

    page_limit: int

    def get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        account_id: str | None = None,
        endpoint: str | None = None,
    ) -> dict[str, Any]: ...

    def post(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        account_id: str | None = None,
        endpoint: str | None = None,
    ) -> dict[str, Any]: ...

    def iter_rows(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        account_id: str | None = None,
        endpoint: str | None = None,
    ) -> Iterator[dict[str, Any]]: ...


@dataclass(frozen=True)
class ReportPolling:
    """How long and how often a report run is polled before it is given up."""

    timeout: float = 600.0
    interval: float = 1.0
    max_interval: float = 30.0


DateRange = tuple[dt.date, dt.date]


def halves(since: dt.date, until: dt.date) -> tuple[DateRange, DateRange]:
    """A range of at least two days cut in two, the first half the longer by a day when odd.

    The one rule for every request the client asks again smaller (a failed report run, a
    synchronous request refused as too large).
    """
    mid = since + dt.timedelta(days=(until - since).days // 2)
    return (since, mid), (mid + dt.timedelta(days=1), until)


def time_range(since: dt.date, until: dt.date) -> dict[str, str]:
    """The ``time_range`` parameter of an insights request (both ends inclusive)."""
    return {"since": since.isoformat(), "until": until.isoformat()}


class ReportRuns:
    """Async insights report runs over one transport (one token)."""

    def __init__(
        self,
        transport: ReportTransport,
        polling: ReportPolling | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger | None = None,
    ) -> None:
        self.transport = transport
        self.polling = polling or ReportPolling()
        self._sleep = sleep
        self._clock = clock
        self.logger = logger or logging.getLogger("ads_platform.meta")

    def rows(
        self, account_id: str, since: dt.date, until: dt.date, params: Mapping[str, Any]
    ) -> Iterator[dict[str, Any]]:
        """Rows of a report run over ``since..until``, split in halves when a run fails.

        A run that fails, is skipped, hangs or is refused as too large is retried as
        two half ranges, recursively down to single days; a single day that still fails
        raises.  Rows are only fetched after a run completed, so a failed run yields
        nothing before the split and no row is yielded twice.
        """
        act = normalize_account_id(account_id)
        try:
            run_id = self.run(act, since, until, params)
        except (AsyncJobError, TooMuchDataError) as exc:
            if since >= until:
                raise
            failure = exc
        else:
            yield from self.transport.iter_rows(
                f"{run_id}/insights",
                {"limit": self.transport.page_limit},
                account_id=act,
                endpoint="report_run/insights",
            )
            return
        first, second = halves(since, until)
        self.logger.warning(
            "async insights for %s %s..%s did not complete (%s); splitting into %s..%s and %s..%s",
            act,
            since,
            until,
            failure,
            *first,
            *second,
        )
        yield from self.rows(act, *first, params)
        yield from self.rows(act, *second, params)

    def run(
        self, account_id: str, since: dt.date, until: dt.date, params: Mapping[str, Any]
    ) -> str:
        """Start an async report run and wait until it completes; return its id.

        Polls with a growing interval (``polling.interval`` times 1.5 up to
        ``polling.max_interval``).  Raises :class:`AsyncJobError` when the run fails,
        is skipped, or is not done within ``polling.timeout`` (reason ``"stuck"`` if it
        never progressed, else ``"timed_out"``).
        """
        act = normalize_account_id(account_id)
        run_id = self._submit(act, since, until, params)
        ctx: dict[str, Any] = {
            "report_run_id": run_id,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "account_id": act,
            "endpoint": "report_run",
        }
        started = self._clock()
        waited = 0.0
        interval = self.polling.interval
        best_pct = -1.0
        progressed = False
        status: str | None = None
        while True:
            report = self.transport.get(
                run_id,
                {"fields": ["id", "async_status", "async_percent_completion"]},
                account_id=act,
                endpoint="report_run",
            )
            # A poll answer without a status is not "still running": waiting on it until
            # the timeout would report a broken answer as a stuck job.
            raw_status = required_field(
                report, "async_status", account_id=act, endpoint="report_run"
            )
            status = raw_status if isinstance(raw_status, str) else None
            pct = report.get("async_percent_completion")
            if isinstance(pct, int | float) and not isinstance(pct, bool):
                if best_pct >= 0 and pct > best_pct:
                    progressed = True
                best_pct = max(best_pct, float(pct))
            if status in ("Job Started", "Job Running") and best_pct > 0:
                progressed = True
            if status == ASYNC_COMPLETED:
                return run_id
            if status in ASYNC_FAILED:
                raise AsyncJobError(
                    f"report run {run_id} failed", reason="failed", status=status, **ctx
                )
            if status in ASYNC_SKIPPED:
                raise AsyncJobError(
                    f"report run {run_id} was skipped", reason="skipped", status=status, **ctx
                )
            if status not in ASYNC_PENDING:
                self.logger.warning(
                    "report run %s has unknown status %r; still waiting", run_id, status
                )
            elapsed = max(self._clock() - started, waited)
            if elapsed + interval > self.polling.timeout:
                reason: Literal["stuck", "timed_out"] = "timed_out" if progressed else "stuck"
                raise AsyncJobError(
                    f"report run {run_id} not completed after {elapsed:.0f}s "
                    f"(status {status!r}, {max(best_pct, 0):.0f}%)",
                    reason=reason,
                    status=status,
                    **ctx,
                )
            self._sleep(interval)
            waited += interval
            interval = min(interval * 1.5, self.polling.max_interval)

    def _submit(self, act: str, since: dt.date, until: dt.date, params: Mapping[str, Any]) -> str:
        body = self.transport.post(
            f"{act}/insights",
            {**params, "time_range": time_range(since, until)},
            account_id=act,
            endpoint="act/insights",
        )
        run_id = required_field(body, "report_run_id", account_id=act, endpoint="act/insights")
        if isinstance(run_id, int) and not isinstance(run_id, bool):
            run_id = str(run_id)
        if not isinstance(run_id, str):
            raise MalformedResponseError(
                f"act/insights async POST returned a report_run_id that is not an id: {run_id!r}",
                field="report_run_id",
                account_id=act,
                endpoint="act/insights",
            )
        return run_id
