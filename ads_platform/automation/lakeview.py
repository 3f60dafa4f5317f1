"""Cheap reads of the lake's operational tables for sensors, schedules and alerts.

Sensors tick every few minutes for months, and the append-only datasets
(``ingestion_attempts``, ``token_health``) gain a file per run and account.  Reading all
of them every tick would get slower forever, so these readers use the fact that
:meth:`Lake.append_file` names files ``<UTC write timestamp>-<tag>-<uuid>.parquet``: a
file written before ``since`` cannot hold a row recorded after ``since``, so only the
file names are listed and only recent files are opened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq

from ads_platform import datasets as ds
from ads_platform.automation.calendar import UTC, zone
from ads_platform.lake import Lake

ATTEMPTS = ds.INGESTION_ATTEMPTS
TOKEN_HEALTH = ds.TOKEN_HEALTH
AD_ACCOUNTS = ds.AD_ACCOUNTS
STAMP_FORMAT = "%Y%m%dT%H%M%S%f"


@dataclass(frozen=True)
class KnownAccount:
    account_id: str
    timezone_name: str
    is_active: bool
    first_seen_at: dt.datetime | None


def known_accounts(lake: Lake) -> dict[str, KnownAccount]:
    """The lake's ``ad_accounts`` table in one read (empty before the first run)."""
    path = lake.partition_path(AD_ACCOUNTS)
    if not path.exists():
        return {}
    try:
        table = pq.read_table(
            path, columns=["account_id", "timezone_name", "is_active", "first_seen_at"]
        )
    except (OSError, pa.ArrowInvalid, KeyError):
        return {}
    out = {}
    for row in table.to_pylist():
        out[str(row["account_id"])] = KnownAccount(
            account_id=str(row["account_id"]),
            timezone_name=str(row["timezone_name"] or "UTC"),
            is_active=bool(row["is_active"]),
            first_seen_at=_aware(row["first_seen_at"]),
        )
    return out


def account_timezones(lake: Lake, account_ids: Iterable[str]) -> dict[str, ZoneInfo]:
    """Each account's time zone from the lake, UTC for accounts not described yet."""
    known = known_accounts(lake)
    return {
        account_id: zone(known[account_id].timezone_name) if account_id in known else UTC
        for account_id in account_ids
    }


def _stamp(path: Path) -> str:
    return path.name.split("-", 1)[0]


def recent_files(
    lake: Lake, dataset: str, account_id: str, since: dt.datetime | None = None
) -> list[Path]:
    """An account's append-only files, newest first, only those written since ``since``."""
    try:
        base = lake.dataset_dir(dataset) / f"account_id={account_id}"
    except Exception:
        return []
    if not base.is_dir():
        return []
    files = sorted(
        (p for p in base.iterdir() if p.suffix == ".parquet" and not p.name.startswith(".")),
        key=lambda p: p.name,
        reverse=True,
    )
    if since is not None:
        cutoff = since.astimezone(dt.UTC).strftime(STAMP_FORMAT)
        files = [p for p in files if _stamp(p) >= cutoff]
    return files


def read_rows(files: Sequence[Path], columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Rows of several small Parquet files; unreadable files are skipped (never fail a tick)."""
    rows: list[dict[str, Any]] = []
    for path in files:
        try:
            table = pq.read_table(path, columns=list(columns) if columns else None)
        except (OSError, pa.ArrowInvalid, KeyError):
            continue
        rows.extend(table.to_pylist())
    for row in rows:
        for key, value in row.items():
            if isinstance(value, dt.datetime):
                row[key] = _aware(value)
    return rows


def attempts_since(
    lake: Lake, account_id: str, since: dt.datetime, dataset: str | None = None
) -> list[dict[str, Any]]:
    """Attempt rows of one account recorded at or after ``since`` (oldest first)."""
    rows = [
        r
        for r in read_rows(recent_files(lake, ATTEMPTS, account_id, since))
        if r["attempted_at"] is not None and r["attempted_at"] >= since
    ]
    if dataset is not None:
        rows = [r for r in rows if r["dataset"] == dataset]
    return sorted(rows, key=lambda r: r["attempted_at"])


def attempts_of_run(
    lake: Lake, run_id: str, since: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Every attempt row a run recorded, whatever its accounts (oldest first).

    :func:`ads_platform.ingestion.outcomes.record_attempts` tags each file with the
    run id, so only the names of each account's files are listed (from ``since``, the
    run's start, when known) and only that run's files are opened.  The rows are
    filtered on ``run_id`` too: the name is only a shortcut.
    """
    try:
        base = lake.dataset_dir(ATTEMPTS)
    except Exception:
        return []
    if not base.is_dir():
        return []
    rows: list[dict[str, Any]] = []
    for account_dir in sorted(base.iterdir()):
        if not account_dir.is_dir() or not account_dir.name.startswith("account_id="):
            continue
        account_id = account_dir.name.removeprefix("account_id=")
        files = [
            f for f in recent_files(lake, ATTEMPTS, account_id, since) if f"-{run_id}-" in f.name
        ]
        rows += [r for r in read_rows(files) if r.get("run_id") == run_id]
    return sorted(rows, key=lambda r: r["attempted_at"] or dt.datetime.min.replace(tzinfo=UTC))


def last_success(lake: Lake, account_id: str, dataset: str) -> dt.datetime | None:
    """When ``dataset`` last stored a partition of the account (newest files first)."""
    for path in recent_files(lake, ATTEMPTS, account_id):
        rows = read_rows([path], ["dataset", "status", "attempted_at"])
        times: list[dt.datetime] = [
            r["attempted_at"]
            for r in rows
            if r["dataset"] == dataset and r["status"] == "success" and r["attempted_at"]
        ]
        if times:
            return max(times)
    return None


def token_rows_since(lake: Lake, account_id: str, since: dt.datetime) -> list[dict[str, Any]]:
    rows = [
        r
        for r in read_rows(recent_files(lake, TOKEN_HEALTH, account_id, since))
        if r["checked_at"] is not None and r["checked_at"] >= since
    ]
    return sorted(rows, key=lambda r: r["checked_at"])


def latest_token_row(lake: Lake, account_id: str) -> dict[str, Any] | None:
    """The newest token_health row of an account (debug_token or a 190 seen by a pull)."""
    for path in recent_files(lake, TOKEN_HEALTH, account_id):
        rows = [r for r in read_rows([path]) if r.get("checked_at") is not None]
        if rows:
            return max(rows, key=lambda r: r["checked_at"])
    return None


def _aware(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return None
