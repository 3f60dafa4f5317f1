"""Async report runs (``POST act_<id>/insights`` then poll ``GET /<report_run_id>``).

A run takes wall time, as on Meta: it completes ``delay`` seconds after it was
created, where the delay grows with the job's size (account-days, heavier at finer
levels and with breakdowns) and carries a jitter drawn from the sandbox seed and the query, so the
same seed and request always take the same time (``job_delay_seconds``). Until
then a poll answers, by elapsed fraction of the delay::

    < 10 %   Job Not Started   0 %
    < 25 %   Job Started       10..24 %
    < 100 %  Job Running       25..99 %
    done     Job Completed     100 %

Realistic by default (a few seconds for a day at account level, tens of seconds
for a month of ads, capped at five minutes); ``async_delay_scale`` multiplies
every delay so the project's own tests and demo can run them in milliseconds
(``0`` completes every run at creation).

Faults stay poll-driven so tests of them are deterministic: a run marked
``failed`` answers "Job Failed" from its next poll on; a ``stuck`` run answers
"Job Not Started" once, then "Job Running" at 42 % forever. Results are computed
with the clock as it was when the run was created.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .clock import ClockView
from .hashing import unit
from .insights import InsightQuery

NORMAL = "normal"
FAILED = "failed"
STUCK = "stuck"
MAX_RUNS = 10_000

NOT_STARTED = "Job Not Started"
STARTED = "Job Started"
RUNNING = "Job Running"
COMPLETED = "Job Completed"
JOB_FAILED = "Job Failed"

# Delay model (seconds, before ``async_delay_scale``).
BASE_DELAY_S = 3.0
PER_ACCOUNT_DAY_S = 0.2
LEVEL_WEIGHT = {"account": 0.5, "campaign": 0.75, "adset": 1.0, "ad": 1.5}
BREAKDOWN_WEIGHT = 2.0  # a run with breakdowns takes this many times longer per account-day
JITTER_LOW, JITTER_SPAN = 0.6, 0.8  # x [0.6, 1.4)
MAX_DELAY_S = 300.0
STARTED_AT, RUNNING_AT = 0.10, 0.25  # fractions of the delay


def job_delay_seconds(seed: int, query: InsightQuery, scale: float) -> float:
    """Seconds a run of ``query`` takes: size-driven, seeded jitter, times ``scale``.

    Pure, so tests (and a reader) can compute when a run will complete.
    """
    if scale <= 0:
        return 0.0
    weight = LEVEL_WEIGHT[query.level] * (1.0 if query.breakdown is None else BREAKDOWN_WEIGHT)
    size = BASE_DELAY_S + PER_ACCOUNT_DAY_S * query.days * weight
    ranges = ";".join(f"{since}..{until}" for since, until in query.ranges)
    jitter = JITTER_LOW + JITTER_SPAN * unit(
        seed, "async-delay", query.account.digits, query.level, ranges
    )
    return min(MAX_DELAY_S, size * jitter) * scale


@dataclass(slots=True)
class ReportRun:
    id: str
    query: InsightQuery
    params: dict[str, str]
    clock: ClockView
    mode: str = NORMAL
    created_at: float = 0.0
    delay_s: float = 0.0
    polls: int = 0

    def completed(self, now: float) -> bool:
        return self.mode == NORMAL and now - self.created_at >= self.delay_s

    def finished(self, now: float) -> bool:
        """Completed or failed: async faults no longer apply to it."""
        return self.completed(now) or (self.mode == FAILED and self.polls > 0)

    def status(self, now: float) -> tuple[str, int]:
        if self.mode == FAILED:
            return JOB_FAILED, 0
        if self.mode == STUCK:
            return (NOT_STARTED, 0) if self.polls <= 1 else (RUNNING, 42)
        if self.completed(now):
            return COMPLETED, 100
        fraction = (now - self.created_at) / self.delay_s
        if fraction < STARTED_AT:
            return NOT_STARTED, 0
        percent = min(99, int(fraction * 100))
        return (STARTED if fraction < RUNNING_AT else RUNNING), percent

    def view(self, now: float) -> dict[str, Any]:
        status, percent = self.status(now)
        out: dict[str, Any] = {
            "id": self.id,
            "account_id": self.query.account.digits,
            "async_status": status,
            "async_percent_completion": percent,
            "date_start": self.query.since.isoformat(),
            "date_stop": self.query.until.isoformat(),
            "time_ref": self.clock.unix,
            "is_running": status in (NOT_STARTED, STARTED, RUNNING),
            "emails": [],
            "friendly_name": "",
            "is_bookmarked": False,
        }
        if status == COMPLETED:
            out["time_completed"] = self.clock.unix
        return out


class ReportBook:
    """Thread-safe registry of report runs (the oldest are forgotten past 10,000).

    ``now`` is the wall clock runs age by (``time.monotonic``; tests pass their own).
    """

    def __init__(self, seed: int, now: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._runs: OrderedDict[str, ReportRun] = OrderedDict()
        self._counter = 0
        self._prefix = f"7{seed % 1000:03d}"
        self._now = now

    def create(
        self,
        query: InsightQuery,
        params: dict[str, str],
        clock: ClockView,
        mode: str,
        delay_s: float = 0.0,
    ) -> ReportRun:
        with self._lock:
            self._counter += 1
            run = ReportRun(
                id=f"{self._prefix}{self._counter:012d}",
                query=query,
                params=params,
                clock=clock,
                mode=mode,
                created_at=self._now(),
                delay_s=delay_s,
            )
            self._runs[run.id] = run
            while len(self._runs) > MAX_RUNS:
                self._runs.popitem(last=False)
            return run

    def get(self, run_id: str) -> ReportRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def completed(self, run: ReportRun) -> bool:
        return run.completed(self._now())

    def finished(self, run: ReportRun) -> bool:
        return run.finished(self._now())

    def poll(self, run: ReportRun, mark: str | None) -> dict[str, Any]:
        """Count one status poll (optionally turning the run failed/stuck first)."""
        with self._lock:
            now = self._now()
            if mark is not None and not run.finished(now):
                run.mode = mark
            run.polls += 1
            return run.view(now)
