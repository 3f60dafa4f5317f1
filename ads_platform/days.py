"""Calendar days, the unit every partition, pull range and window of the platform counts in.

One helper rather than one per module: the pulls, the backfill command, the sensors'
windows and the FX grid each wrote the same list of consecutive dates.  Standard
library only, so any layer may use it.
"""

from __future__ import annotations

import datetime as dt


def days_between(since: dt.date, until: dt.date) -> list[dt.date]:
    """Every day from ``since`` to ``until``, both included; empty when ``until`` is earlier."""
    return [since + dt.timedelta(days=i) for i in range((until - since).days + 1)]
