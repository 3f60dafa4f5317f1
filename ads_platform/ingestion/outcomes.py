"""What one attempt at one partition ended as, and the append-only attempts log.

The attempts log is how the marts can say "data as of Tuesday: token expired"
instead of showing zeros: every success, failure and block is recorded per account
and day with a user-facing, redacted message.  A day that has not started in the
account's time zone is ``skipped``: recorded with a note, never fetched, stored or
counted as good or bad.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import pandas as pd
import pyarrow as pa

from ads_platform.datasets import ATTEMPTS
from ads_platform.lake import Lake

Status = Literal["success", "failed", "blocked", "skipped"]
#: The blocking check every dataset's frame must pass (its Pandera model).
SCHEMA_CHECK = "schema"


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    description: str
    metadata: dict[str, object] = field(default_factory=dict)
    severity: Literal["ERROR", "WARN"] = "ERROR"


@dataclass
class PartitionOutcome:
    """One (account, day) — or one account for per-account datasets."""

    dataset: str
    account_id: str
    day: dt.date | None
    status: Status
    rows: int = 0
    spend: float = 0.0
    impressions: int = 0
    message: str = ""
    error_kind: str | None = None
    checks: list[CheckOutcome] = field(default_factory=list)
    path: str | None = None
    #: A few rows as markdown, for the Dagster UI.
    preview: str | None = None
    #: When this outcome was decided (the attempts log orders a run's attempts by it).
    attempted_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def ok(self) -> bool:
        return self.status == "success"

    @property
    def skipped(self) -> bool:
        """Not attempted on purpose (a day that has not started): neither good nor bad."""
        return self.status == "skipped"


def preview_markdown(frame: pd.DataFrame | pa.Table, limit: int = 5) -> str:
    """The first rows of a stored day as a markdown table, for its materialization.

    Written by hand: pandas' ``to_markdown`` (tabulate) took a quarter of the ingest
    path's CPU (1.37 of 5.8 s for 180 days in ``benchmarks/ingest_throughput.py
    --profile``), for five rows per day that only the UI shows.  From the Arrow table
    that is written, when there is one: a day's frame is a slice of its range's, and
    taking its columns one by one cost ~2 ms a day (money then shows as stored, exact).
    """
    if not len(frame):
        return "_no rows_"
    names = frame.column_names if isinstance(frame, pa.Table) else list(frame.columns)
    cols = [c for c in names if not c.endswith("__exact") and c not in HIDDEN_COLUMNS]
    if isinstance(frame, pa.Table):
        head = frame.slice(0, limit).select(cols).to_pydict()
    else:
        top = frame.iloc[:limit]  # a view: no copy of the day
        head = {c: top[c].tolist() for c in cols}  # per column: 4x cheaper than to_dict
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for i in range(min(limit, len(frame))):
        lines.append("| " + " | ".join(_cell(head[c][i]) for c in cols) + " |")
    return "\n".join(lines)


def _cell(value: object) -> str:
    """A value as one markdown cell: empty when missing, pipes and newlines escaped."""
    if value is None or (not isinstance(value, list | tuple | dict) and _missing(value)):
        return ""
    return str(value).replace("|", "\\|").replace("\n", " ")


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # an array-like cell
        return False


class Totals(Protocol):
    """What an outcome records of a day's frame (``zero_guard.DayTotals`` is one)."""

    @property
    def rows(self) -> int: ...

    @property
    def spend(self) -> float: ...

    @property
    def impressions(self) -> int: ...


def schema_blocked(
    dataset: str, account_id: str, day: dt.date, failure: object
) -> PartitionOutcome:
    """A day whose frame failed its Pandera model: nothing stored, the last good data stays."""
    return PartitionOutcome(
        dataset,
        account_id,
        day,
        "blocked",
        message=f"{account_id} {day}: {failure}",
        error_kind="validation",
        checks=[CheckOutcome(SCHEMA_CHECK, False, str(failure))],
    )


def guarded_store(
    dataset: str,
    account_id: str,
    day: dt.date,
    day_rows: pd.DataFrame | pa.Table,
    totals: Totals,
    checks: list[CheckOutcome],
    guard: CheckOutcome,
    write: Callable[[], Path],
    message: str = "",
) -> PartitionOutcome:
    """Blocked when the zero guard failed (``write`` is not called), else stored.

    ``day_rows``: the day's validated frame, or the Arrow table written when the caller
    has it (its preview is then taken from the table; see :func:`preview_markdown`).

    One shape for every delivery dataset (ad insights, each breakdown), so a blocked day
    reads the same in the attempts log, the checks and the alerts whichever it was.
    """
    if not guard.passed:
        return PartitionOutcome(
            dataset,
            account_id,
            day,
            "blocked",
            rows=totals.rows,
            message=f"{account_id} {day}: {guard.description}",
            error_kind="zero_guard",
            checks=checks,
        )
    path = write()
    return PartitionOutcome(
        dataset,
        account_id,
        day,
        "success",
        rows=totals.rows,
        spend=round(totals.spend, 2),
        impressions=totals.impressions,
        checks=checks,
        path=str(path),
        message=message,
        preview=preview_markdown(day_rows),
    )


HIDDEN_COLUMNS = frozenset({"actions", "fetched_at", "run_id", "record_hash", "pulled_at"})


def attempt_times(outcomes: Sequence[PartitionOutcome]) -> list[dt.datetime]:
    """Each outcome's own time, strictly increasing in the order the run decided them.

    The freshness marts judge an account by its *last* attempt.  With one timestamp for
    a whole run, a run that stored Monday and was blocked on Tuesday had no last
    attempt (a tie, broken arbitrarily).  Outcomes carry the time they were decided;
    two decided within the same microsecond are moved apart by one, so the order of
    the list is the order of the log.
    """
    step = dt.timedelta(microseconds=1)
    times: list[dt.datetime] = []
    for outcome in outcomes:
        when = outcome.attempted_at
        if times and when <= times[-1]:
            when = times[-1] + step
        times.append(when)
    return times


def record_attempts(lake: Lake, outcomes: Sequence[PartitionOutcome], run_id: str) -> None:
    """Append one file per account with this run's outcomes (no locks needed)."""
    by_account: dict[str, list[PartitionOutcome]] = {}
    for outcome in outcomes:
        by_account.setdefault(outcome.account_id, []).append(outcome)
    lake.append_per_account(
        ATTEMPTS,
        [
            {
                "account_id": o.account_id,
                "dataset": o.dataset,
                "date_day": o.day,
                "attempted_at": when,
                "run_id": run_id,
                "status": o.status,
                "error_kind": o.error_kind,
                "message": o.message[:2000],
                "rows": o.rows,
            }
            for items in by_account.values()
            for o, when in zip(items, attempt_times(items), strict=True)
        ],
        tag=run_id,
    )
