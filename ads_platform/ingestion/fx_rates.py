"""The fx_rates dataset: every account currency × every day of the grid, into one currency.

Why the whole grid every time: a rates file can be revised or replaced (a newer ECB
history, another source), and the reports rebuild exactly the slices whose rate changed,
so the dataset is recomputed whole (thousands of rows, milliseconds) and replaced
atomically.  The currencies are the accounts' own (``ad_accounts`` in the lake), so a new
account's currency gets rates on the next materialization.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from ads_platform.datasets import ACCOUNTS, FX
from ads_platform.days import days_between
from ads_platform.fx.ecb import ReferenceRates, load_reference_rates
from ads_platform.fx.rates import DailyRate, daily_rates
from ads_platform.lake import Lake
from ads_platform.settings import FxSettings

#: Days beyond the local today of the most advanced time zone (UTC+14).
DAYS_AHEAD = 1


@dataclass(frozen=True)
class FxRun:
    reporting_currency: str
    source: str
    currencies: tuple[str, ...]
    rows: int
    missing: int
    #: The distinct reasons of the missing rates, with their counts (for the metadata).
    missing_reasons: dict[str, int]
    last_rate_day: dt.date | None
    path: Path


def account_currencies(lake: Lake) -> tuple[str, ...]:
    """The currencies of the accounts in the lake (active or not: their history converts)."""
    frame = lake.read(lake.partition_path(ACCOUNTS.name), columns=["currency"])
    if frame is None or frame.empty:
        return ()
    return tuple(sorted({str(c).upper() for c in frame["currency"].dropna()}))


def grid_days(start: dt.date, today: dt.date) -> list[dt.date]:
    return days_between(start, today + dt.timedelta(days=DAYS_AHEAD))


def build_table(rates: Iterable[DailyRate], *, source: str, pulled_at: dt.datetime) -> pa.Table:
    records = [
        {
            "date_day": r.day,
            "currency": r.currency,
            "reporting_currency": r.reporting_currency,
            "rate": r.rate,
            "rate_day": r.rate_day,
            "missing_reason": r.missing_reason,
            "source": source,
            "pulled_at": pulled_at,
        }
        for r in rates
    ]
    return FX.table(records)


def refresh_fx_rates(
    lake: Lake,
    fx: FxSettings,
    *,
    start: dt.date,
    today: dt.date,
    reference: ReferenceRates | None = None,
) -> FxRun:
    """Recompute and replace the fx_rates dataset (raises on an unreadable rates file)."""
    if fx.reporting_currency is None:
        raise ValueError("fx.reporting_currency is not set")
    reference = reference or load_reference_rates(fx.rates_file)
    currencies = account_currencies(lake)
    rates = daily_rates(
        reference,
        reporting_currency=fx.reporting_currency,
        currencies=currencies,
        days=grid_days(start, today),
        max_age_days=fx.max_rate_age_days,
    )
    table = build_table(rates, source=reference.source, pulled_at=dt.datetime.now(dt.UTC))
    path = lake.partition_path(FX.name)
    lake.write(path, table)
    reasons: dict[str, int] = {}
    for r in rates:
        if r.missing_reason is not None:
            reasons[r.missing_reason] = reasons.get(r.missing_reason, 0) + 1
    return FxRun(
        reporting_currency=fx.reporting_currency,
        source=reference.source,
        currencies=currencies,
        rows=table.num_rows,
        missing=sum(reasons.values()),
        missing_reasons=reasons,
        last_rate_day=reference.last_day,
        path=path,
    )
