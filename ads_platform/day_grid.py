"""Where the date dimension of the account × day grid ends.

Why it matters: the Dagster UI shows every partition of the grid that has no
materialization as *missing*.  A grid that ran to tomorrow in UTC (as it did) showed a
missing partition for every account most of the day: a day that had not started in the
account's time zone, so nothing could ever be there yet.

Why one time zone for everybody: the grid is a product (day × account), one date
dimension shared by every account.  Its last day is the current day in the time zone
of the grid's ``DailyPartitionsDefinition``, and the latest date any account has
reached is the current day in the *easternmost* of the accounts' time zones (Meta's
``timezone_name``).  So the grid takes that zone: with accounts in one zone (the usual
case) no day ever shows before it has started there; with accounts in several zones, a
western account's next day shows for the hours between its start in the easternmost
zone and in the account's own zone, and no longer.

Where the zones come from: the ``ad_accounts`` table of the lake (what the API said).
Until every account the platform pulls has been described there (a fresh install, a
newly added account) the grid takes UTC+14, the zone where every date starts first, so
that no account's today is ever missing from the grid; the next load of the
definitions (every run, or a reload of the code location) narrows it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ads_platform.lake import Lake
from ads_platform.settings import Settings

#: UTC+14 (Kiribati's Line Islands): every calendar date starts here first.  IANA's
#: ``Etc/GMT-14`` means UTC *plus* 14 hours (POSIX sign convention).
EARLIEST_ZONE = "Etc/GMT-14"
#: The lake table that holds each account's ``timezone_name``.
ACCOUNTS_DATASET = "ad_accounts"


def _offset(name: str, at: dt.datetime) -> dt.timedelta | None:
    try:
        return ZoneInfo(name).utcoffset(at)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def easternmost_zone(zones: Iterable[str | None], at: dt.datetime) -> str:
    """The zone whose date is the latest at ``at``; :data:`EARLIEST_ZONE` when any is unknown.

    An unknown (``None``) or unreadable zone name could be anything up to UTC+14, and
    an account's today must never be cut off the grid.
    """
    names = list(zones)
    if not names:
        return EARLIEST_ZONE
    offsets: dict[str, dt.timedelta] = {}
    for name in names:
        offset = _offset(name, at) if name else None
        if offset is None:
            return EARLIEST_ZONE
        offsets[str(name)] = offset
    return max(sorted(offsets), key=lambda n: offsets[n])


def lake_timezones(lake: Lake) -> dict[str, str]:
    """``account_id → timezone_name`` from the lake's ``ad_accounts`` (empty before a pull)."""
    try:
        frame = lake.read(
            lake.partition_path(ACCOUNTS_DATASET), columns=["account_id", "timezone_name"]
        )
    except (OSError, ValueError, KeyError):
        return {}
    if frame is None:
        return {}
    return {
        str(account): str(zone)
        for account, zone in zip(frame["account_id"], frame["timezone_name"], strict=True)
        if zone
    }


def pulled_accounts(settings: Settings, known: Mapping[str, str]) -> list[str]:
    """The accounts whose days the grid must hold: enabled ones, discovered ones."""
    ids = [a.id for a in settings.enabled_accounts]
    if settings.discovery.enabled:
        ids += sorted(set(known) - set(ids))
    return ids


def grid_timezone(settings: Settings, at: dt.datetime | None = None) -> str:
    """The time zone of the grid's date dimension for these settings (module docstring)."""
    at = at or dt.datetime.now(dt.UTC)
    known = lake_timezones(Lake(settings.lake_dir))
    accounts = pulled_accounts(settings, known)
    return easternmost_zone((known.get(a) for a in accounts), at)
