"""Async report runs (``POST act_<id>/insights`` then poll ``GET /<report_run_id>``).

Progress is driven by polls, not wall time, so tests are deterministic and never
sleep: poll 1 answers "Job Not Started" (0 %), poll 2 "Job Running" (50 %), poll 3
and later "Job Completed" (100 %). A run marked ``failed`` answers "Job Failed" from
its next poll on; a ``stuck`` run answers "Job Running" at 42 % forever. Results
are computed with the clock as it was when the run was created.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .clock import ClockView
from .insights import InsightQuery

NORMAL = "normal"
FAILED = "failed"
STUCK = "stuck"
POLLS_TO_COMPLETE = 3
MAX_RUNS = 10_000


@dataclass(slots=True)
class ReportRun:
    id: str
    query: InsightQuery
    params: dict[str, str]
    clock: ClockView
    mode: str = NORMAL
    polls: int = 0

    @property
    def completed(self) -> bool:
        return self.mode == NORMAL and self.polls >= POLLS_TO_COMPLETE

    @property
    def finished(self) -> bool:
        """Completed or failed: async faults no longer apply to it."""
        return self.completed or (self.mode == FAILED and self.polls > 0)

    def status(self) -> tuple[str, int]:
        if self.mode == FAILED:
            return "Job Failed", 0
        if self.mode == STUCK:
            return ("Job Not Started", 0) if self.polls <= 1 else ("Job Running", 42)
        if self.polls <= 1:
            return "Job Not Started", 0
        if self.polls < POLLS_TO_COMPLETE:
            return "Job Running", 50
        return "Job Completed", 100

    def view(self) -> dict[str, Any]:
        status, percent = self.status()
        out: dict[str, Any] = {
            "id": self.id,
            "account_id": self.query.account.digits,
            "async_status": status,
            "async_percent_completion": percent,
            "date_start": self.query.since.isoformat(),
            "date_stop": self.query.until.isoformat(),
            "time_ref": self.clock.unix,
            "is_running": status in ("Job Not Started", "Job Running"),
            "emails": [],
            "friendly_name": "",
            "is_bookmarked": False,
        }
        if status == "Job Completed":
            out["time_completed"] = self.clock.unix
        return out


class ReportBook:
    """Thread-safe registry of report runs (the oldest are forgotten past 10,000)."""

    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self._runs: OrderedDict[str, ReportRun] = OrderedDict()
        self._counter = 0
        self._prefix = f"7{seed % 1000:03d}"

    def create(
        self, query: InsightQuery, params: dict[str, str], clock: ClockView, mode: str
    ) -> ReportRun:
        with self._lock:
            self._counter += 1
            run = ReportRun(
                id=f"{self._prefix}{self._counter:012d}",
                query=query,
                params=params,
                clock=clock,
                mode=mode,
            )
            self._runs[run.id] = run
            while len(self._runs) > MAX_RUNS:
                self._runs.popitem(last=False)
            return run

    def get(self, run_id: str) -> ReportRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def poll(self, run: ReportRun, mark: str | None) -> dict[str, Any]:
        """Count one status poll (optionally turning the run failed/stuck first)."""
        with self._lock:
            if mark is not None and not run.finished:
                run.mode = mark
            run.polls += 1
            return run.view()
