"""The sandbox clock and the "today" rule every other module relies on.

Rule (documented in the package docstring too): the clock holds a UTC *date* D.
The sandbox instant is always D at 12:00:00 UTC. An account's "today" is the local
date of that instant in the account's timezone, and the fraction of the day that
has elapsed there (local wall-clock seconds since local midnight / 86400) scales
today's partial numbers. Pinning the time of day makes every answer a pure
function of (seed, D), so tests are reproducible, while timezones still shift the
account-local date (Pacific/Auckland in NZ summer is already on D+1).

By default D is the real current UTC date, re-read on every request so a long-running
sandbox follows the calendar.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from zoneinfo import ZoneInfo

UTC = dt.UTC
CLOCK_HOUR_UTC = 12


@dataclass(frozen=True, slots=True)
class ClockView:
    """A frozen reading of the clock; computations take one so they stay consistent."""

    utc_date: dt.date

    @property
    def instant(self) -> dt.datetime:
        """The sandbox "now": the UTC date at 12:00 UTC."""
        return dt.datetime.combine(self.utc_date, dt.time(CLOCK_HOUR_UTC), tzinfo=UTC)

    @property
    def unix(self) -> int:
        return int(self.instant.timestamp())

    def local_now(self, tz: ZoneInfo) -> dt.datetime:
        return self.instant.astimezone(tz)

    def account_today(self, tz: ZoneInfo) -> dt.date:
        """The account-local date at the sandbox instant."""
        return self.local_now(tz).date()

    def elapsed_seconds(self, tz: ZoneInfo) -> int:
        """Local wall-clock seconds since local midnight (0..86399): today's fraction."""
        local = self.local_now(tz)
        return local.hour * 3600 + local.minute * 60 + local.second


class Clock:
    """Thread-safe holder of the settable UTC date (``None`` = follow the real date)."""

    def __init__(self, today: dt.date | None = None) -> None:
        self._lock = threading.Lock()
        self._fixed: dt.date | None = today

    def set_today(self, today: dt.date | None) -> None:
        with self._lock:
            self._fixed = today

    @property
    def is_fixed(self) -> bool:
        with self._lock:
            return self._fixed is not None

    def view(self) -> ClockView:
        with self._lock:
            fixed = self._fixed
        return ClockView(fixed if fixed is not None else dt.datetime.now(UTC).date())
