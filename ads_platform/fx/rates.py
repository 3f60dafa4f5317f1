"""One rate per (day, currency) into the reporting currency, or none: never 1.0 by default.

A day's rate is the ECB reference rate published on that day or, on weekends and TARGET
holidays when none is published, the latest one before it, at most ``max_age_days`` old
(the ECB's own convention for non-business days).  Older than that (a stale rates file, a
currency the ECB does not quote) there is no rate: the reporting-currency money is null and
flagged downstream, so a total never silently converts at a made-up rate.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from .ecb import BASE_CURRENCY, ReferenceRates

#: Enough for a long weekend plus the ECB's holiday closures (Christmas to New Year).
DEFAULT_MAX_AGE_DAYS = 5
#: Digits kept in a cross rate (JPY→EUR is ~0.006; 10 decimals keeps ~7 significant digits).
RATE_DIGITS = Decimal("0.0000000001")


@dataclass(frozen=True)
class DailyRate:
    """Multiply an amount in ``currency`` on ``day`` by ``rate`` to get ``reporting_currency``."""

    day: dt.date
    currency: str
    reporting_currency: str
    rate: Decimal | None
    #: The ECB publication day the rate comes from (None when there is no rate).
    rate_day: dt.date | None
    #: Why there is no rate (None when there is one), in words a user can act on.
    missing_reason: str | None


def daily_rates(
    rates: ReferenceRates,
    *,
    reporting_currency: str,
    currencies: Iterable[str],
    days: Iterable[dt.date],
    max_age_days: int = DEFAULT_MAX_AGE_DAYS,
) -> list[DailyRate]:
    """Rates for every (day, currency) asked for, sorted; missing ones explained."""
    published = sorted(rates.by_day)
    out: list[DailyRate] = []
    for day in sorted(set(days)):
        at = bisect.bisect_right(published, day)
        candidates = published[max(0, at - (max_age_days + 1)) : at][::-1]
        for currency in sorted(set(currencies)):
            out.append(_one(rates, candidates, day, currency, reporting_currency, max_age_days))
    return out


def _per_euro(rates: ReferenceRates, day: dt.date, currency: str) -> Decimal | None:
    if currency == BASE_CURRENCY:
        return Decimal(1)
    return rates.by_day[day].get(currency)


def _one(
    rates: ReferenceRates,
    candidates: list[dt.date],
    day: dt.date,
    currency: str,
    reporting: str,
    max_age_days: int,
) -> DailyRate:
    if currency == reporting:
        return DailyRate(day, currency, reporting, Decimal(1), day, None)
    for published in candidates:
        if (day - published).days > max_age_days:
            break
        source = _per_euro(rates, published, currency)
        target = _per_euro(rates, published, reporting)
        if source is not None and target is not None:
            rate = (target / source).quantize(RATE_DIGITS)
            return DailyRate(day, currency, reporting, rate, published, None)
    for code in (currency, reporting):
        if code not in rates.currencies:
            reason = f"{code} is not quoted in {rates.source}: configure a rates file that has it"
            return DailyRate(day, currency, reporting, None, None, reason)
    last = rates.last_day
    if last is not None and day > last:
        reason = (
            f"the FX rates end on {last.isoformat()} ({rates.source}): "
            "configure a newer rates file (fx.rates_file)"
        )
    else:
        reason = f"no {currency}/{reporting} rate within {max_age_days} days before {day}"
    return DailyRate(day, currency, reporting, None, None, reason)
