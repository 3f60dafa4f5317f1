"""``ads-platform status``: each account's health in the terminal, from the published marts.

Why from the marts and not from the lake or the Dagster instance: ``data_freshness``
already decides what "last good day", "stale" and "why" mean (the dashboards' banner
reads the same row), and the ``alerts`` mart is what the automation raised.  Reading
them through :func:`ads_platform.warehouse.open_marts_readonly` means the terminal, the
dashboards and a BI tool can never disagree, and the command works wherever the marts
file is readable (no instance, no token, no network).

What it cannot show: anything newer than the last marts build (the hourly rebuild
bounds that); ``marts built`` in the output says when that was.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb

from ads_platform.sql import format_table, to_json
from ads_platform.warehouse import open_marts_readonly

#: Exit codes of the command: every account fresh; some account stale; no marts.
FRESH, STALE, NO_MARTS = 0, 1, 2

_QUERY = """
with open_alerts as (
    select account_id, count(*) as n,
           max(case severity when 'critical' then 3 when 'error' then 2
                             when 'warning' then 1 else 0 end) as worst
    from alerts where status = 'open' group by account_id
)
select f.account_id, f.account_name, f.timezone_name, f.account_today, f.last_good_day,
       f.days_behind, f.is_stale, f.stale_reason, f.status_message, f.token_is_valid,
       f.token_days_left, coalesce(a.n, 0) as open_alerts,
       case a.worst when 3 then 'critical' when 2 then 'error' when 1 then 'warning' end
           as worst_alert
from data_freshness f
left join open_alerts a using (account_id)
order by f.account_id
"""


@dataclass(frozen=True)
class AccountStatus:
    account_id: str
    account_name: str | None
    timezone_name: str | None
    account_today: dt.date | None
    last_good_day: dt.date | None
    days_behind: int | None
    is_stale: bool
    stale_reason: str | None
    status_message: str | None
    token_is_valid: bool | None
    token_days_left: float | None
    open_alerts: int
    worst_alert: str | None

    @property
    def freshness(self) -> str:
        if self.last_good_day is None:
            return "no data yet"
        behind = self.days_behind or 0
        state = "STALE" if self.is_stale else "fresh"
        return f"{state} ({behind} day{'s' if behind != 1 else ''} behind)"

    @property
    def token(self) -> str:
        if self.token_is_valid is False:
            return "INVALID"
        if self.token_days_left is None:
            return "unknown" if self.token_is_valid is None else "never expires"
        return f"{self.token_days_left:.0f} days left"


@dataclass(frozen=True)
class PlatformStatus:
    marts: Path
    built_at: dt.datetime
    accounts: list[AccountStatus]
    #: Open alerts that belong to no account (a failed run without per-account work).
    platform_alerts: int

    @property
    def exit_code(self) -> int:
        return STALE if any(a.is_stale for a in self.accounts) else FRESH


def read_status(marts: Path) -> PlatformStatus:
    """The status rows from the published marts (raises the reader's own errors)."""
    marts = Path(marts)
    con = open_marts_readonly(marts)
    try:
        built_at = dt.datetime.fromtimestamp(marts.stat().st_mtime, dt.UTC)
        rows = _records(con, _QUERY)
        global_alerts = con.execute(
            "select count(*) from alerts where status = 'open' and account_id is null"
        ).fetchone()
    finally:
        con.close()
    accounts = [AccountStatus(**row) for row in rows]
    return PlatformStatus(marts, built_at, accounts, int(global_alerts[0] if global_alerts else 0))


def _records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def format_status(status: PlatformStatus, now: dt.datetime | None = None) -> str:
    """One row per account, then the banner line of each stale one."""
    now = now or dt.datetime.now(dt.UTC)
    age = max(0, int((now - status.built_at).total_seconds() // 60))
    head = f"marts: {status.marts} (built {status.built_at:%Y-%m-%d %H:%M} UTC, {age} min ago)"
    if not status.accounts:
        return head + "\nno accounts in the marts yet: run an ingestion, then the marts"
    columns = ["account", "name", "last good day", "freshness", "token", "open alerts"]
    rows = [
        [
            a.account_id,
            a.account_name or "",
            a.last_good_day.isoformat() if a.last_good_day else "-",
            a.freshness,
            a.token,
            f"{a.open_alerts} ({a.worst_alert})" if a.open_alerts else "0",
        ]
        for a in status.accounts
    ]
    lines = [head, "", format_table(columns, rows).rsplit("\n", 1)[0]]
    notes = [f"  {a.account_id}: {a.status_message}" for a in status.accounts if a.is_stale]
    if notes:
        lines += ["", "Stale:", *notes]
    if status.platform_alerts:
        lines += ["", f"{status.platform_alerts} open alert(s) not tied to an account"]
    return "\n".join(lines)


def status_json(status: PlatformStatus) -> str:
    payload = {
        "marts": str(status.marts),
        "built_at": status.built_at.isoformat(),
        "platform_alerts": status.platform_alerts,
        "accounts": [asdict(a) | {"freshness": a.freshness} for a in status.accounts],
    }
    return to_json(payload, indent=2)
