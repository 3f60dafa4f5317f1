"""What the dashboard shows, decided without Streamlit: periods, day states, totals, labels.

The rule that matters most here is **no false zero**.  Meta sends no row for an ad that
did not deliver, so a day without rows in the marts is ambiguous: the account did not
deliver (a real zero), or the day was never pulled successfully (unknown).  Every day
of every account gets a :class:`DayState`:

* ``DATA``: the marts have rows for the day;
* ``MISSING``: the day is after the account's ``last_good_day`` (``data_freshness``),
  or before the first day the marts know of, or the pull of that very day failed or
  was blocked when the marts record per-day outcomes: shown as a gap with its
  reason, never as 0;
* ``NO_DELIVERY``: no rows, but the day is covered by a successful pull: a real 0.

Per-day outcomes: the marts published today record freshness per account, not per day
(``data_freshness.last_good_day``).  When a mart of per-day outcomes exists
(:data:`DAY_OUTCOMES_MART`, see ads_platform/dashboard/README.md), it decides each day
without rows; until then a day without rows between the first day with data and
``last_good_day`` counts as covered (the pulls after it succeeded and the account is
judged by ``data_freshness``), and a day before the first day with data is missing.

Totals are ratios of sums over the covered days (CPA = spend ÷ conversions, ROAS =
conversion value ÷ spend), never averages of daily ratios, and never across currencies.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ads_platform.ingestion.causes import CAUSE_TEXT, Cause, cause_of

#: Additive metrics of the reports, in display order.
METRICS: tuple[str, ...] = (
    "spend",
    "impressions",
    "link_clicks",
    "conversions",
    "conversion_value",
)
MONEY_METRICS = frozenset({"spend", "conversion_value"})
METRIC_LABELS: dict[str, str] = {
    "spend": "Spend",
    "impressions": "Impressions",
    "link_clicks": "Link clicks",
    "conversions": "Conversions",
    "conversion_value": "Conversion value",
    "cpa": "CPA",
    "roas": "ROAS",
}
#: The mart of per-day pull outcomes the dashboard uses when it exists (README.md).
DAY_OUTCOMES_MART = "ingestion_days"
#: Where converted money will live once the marts have FX rates: ``<metric>_reporting``
#: in this currency.  Absent today; the overview shows a grand total only with them.
REPORTING_CURRENCY_COLUMN = "reporting_currency"
REPORTING_SUFFIX = "_reporting"

#: ISO 4217 currencies without minor units (Meta reports them without decimals).
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"}
    | {"VND", "VUV", "XAF", "XOF", "XPF"}
)
MISSING = "—"


# -- periods ---------------------------------------------------------------------------

PERIODS: dict[str, str] = {
    "yesterday": "Yesterday",
    "today": "Today (so far)",
    "last_7d": "Last 7 days",
    "last_14d": "Last 14 days",
    "last_30d": "Last 30 days",
    "this_month": "This month (to date)",
    "last_month": "Last month",
    "custom": "Custom dates",
}
DEFAULT_PERIOD = "last_7d"


class PeriodError(ValueError):
    """A period the dashboard cannot show; the message says what to change."""


@dataclass(frozen=True)
class Period:
    """Inclusive range of account-local days."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.days)]

    def previous(self) -> Period:
        """The same number of days right before (what "versus the previous period" means)."""
        return Period(self.start - dt.timedelta(days=self.days), self.start - dt.timedelta(days=1))

    def __str__(self) -> str:
        if self.start == self.end:
            return short_day(self.start)
        return f"{short_day(self.start)} – {short_day(self.end)}"


def resolve_period(
    key: str,
    today: dt.date,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> Period:
    """The days of ``key`` for an account whose local date is ``today``.

    Relative periods follow each account's own today (its time zone), so "yesterday" is
    each account's yesterday; custom dates are the same days for every account.
    """
    if key == "today":
        return Period(today, today)
    if key == "yesterday":
        day = today - dt.timedelta(days=1)
        return Period(day, day)
    if key in {"last_7d", "last_14d", "last_30d"}:
        n = int(key.removeprefix("last_").removesuffix("d"))
        return Period(today - dt.timedelta(days=n), today - dt.timedelta(days=1))
    if key == "this_month":
        return Period(today.replace(day=1), today)
    if key == "last_month":
        end = today.replace(day=1) - dt.timedelta(days=1)
        return Period(end.replace(day=1), end)
    if key == "custom":
        if since is None or until is None:
            raise PeriodError("custom dates need both a start and an end date")
        if since > until:
            raise PeriodError(f"the start date {since} is after the end date {until}")
        if (until - since).days > 366:
            raise PeriodError("custom dates span more than a year: choose a shorter range")
        return Period(since, until)
    raise PeriodError(f"unknown period {key!r}: choose one of {', '.join(PERIODS)}")


def parse_day(text: str | None) -> dt.date | None:
    """An ISO date from a URL parameter; None when absent or malformed."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


# -- freshness -------------------------------------------------------------------------


def short_day(day: dt.date) -> str:
    """``Tue 24 Nov`` (and the year when it is not the current one)."""
    text = f"{day:%a} {day.day} {day:%b}"
    if day.year != dt.date.today().year:
        text += f" {day.year}"
    return text


@dataclass(frozen=True)
class Freshness:
    """One row of ``data_freshness``: how current an account's data is, and why not."""

    account_id: str
    account_name: str
    currency: str
    timezone_name: str
    account_today: dt.date
    last_good_day: dt.date | None
    is_stale: bool
    stale_reason: str | None
    status_message: str
    cause: Cause | None = None

    @property
    def display_name(self) -> str:
        return self.account_name or self.account_id

    @property
    def label(self) -> str:
        """``data as of Tue 24 Nov: token expired — re-authorize`` (or ``…: up to date``)."""
        as_of = short_day(self.last_good_day) if self.last_good_day else "never"
        if self.is_stale:
            return f"data as of {as_of}: {self.stale_reason or 'stale'}"
        detail = self.status_message.split(": ", 1)[1] if ": " in self.status_message else ""
        return f"data as of {as_of}: {detail or 'up to date'}"

    def missing_reason(self, day: dt.date) -> str:
        """Why ``day`` (after the last good day) has no data."""
        if self.is_stale:
            return self.stale_reason or "stale"
        if day >= self.account_today:
            return "today is not pulled yet"
        return "not pulled yet"


def freshness_from_frame(frame: pd.DataFrame) -> dict[str, Freshness]:
    """``data_freshness`` rows by account id (``stale_cause`` is used when the mart has it)."""
    out: dict[str, Freshness] = {}
    for row in frame.to_dict("records"):
        cause = _cause(row.get("stale_cause")) if row.get("is_stale") else None
        if cause is None and row.get("is_stale"):
            kind = row.get("last_attempt_error_kind")
            cause = cause_of(str(kind)) if _present(kind) else None
        out[str(row["account_id"])] = Freshness(
            account_id=str(row["account_id"]),
            account_name=str(row.get("account_name") or ""),
            currency=str(row.get("currency") or ""),
            timezone_name=str(row.get("timezone_name") or "UTC"),
            account_today=_as_date(row["account_today"]) or dt.date.today(),
            last_good_day=_as_date(row.get("last_good_day")),
            is_stale=bool(row.get("is_stale")),
            stale_reason=str(row["stale_reason"]) if _present(row.get("stale_reason")) else None,
            status_message=str(row.get("status_message") or ""),
            cause=cause,
        )
    return out


def hint_for(error_kind: str | None = None, cause: str | None = None) -> str:
    """What to do about a failure: the action the causes vocabulary names for it."""
    known = _cause(cause) if cause else None
    if known is None:
        if not error_kind:
            return ""
        known = cause_of(error_kind)
    return CAUSE_TEXT[known].action


def _cause(value: object) -> Cause | None:
    if not _present(value):
        return None
    try:
        return Cause(str(value))
    except ValueError:
        return None


def _present(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return not (value is pd.NaT or (isinstance(value, str) and not value))


def _as_date(value: object) -> dt.date | None:
    if not _present(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


# -- days ------------------------------------------------------------------------------


class DayState(enum.StrEnum):
    DATA = "data"
    NO_DELIVERY = "no delivery"
    MISSING = "missing"


@dataclass(frozen=True)
class DayOutcome:
    """The latest pull of one account-day, when the marts record it per day."""

    status: str
    message: str = ""


def day_states(
    days: Iterable[dt.date],
    data_days: set[dt.date],
    freshness: Freshness,
    first_data_day: dt.date | None,
    outcomes: Mapping[dt.date, DayOutcome] | None = None,
) -> dict[dt.date, tuple[DayState, str]]:
    """The state of each day and, for a missing day, why (module docstring)."""
    out: dict[dt.date, tuple[DayState, str]] = {}
    last_good = freshness.last_good_day
    for day in days:
        if day in data_days:
            out[day] = (DayState.DATA, "")
        elif last_good is None or day > last_good:
            out[day] = (DayState.MISSING, freshness.missing_reason(day))
        elif outcomes is not None:
            outcome = outcomes.get(day)
            if outcome is None:
                out[day] = (DayState.MISSING, "never pulled")
            elif outcome.status == "success":
                out[day] = (DayState.NO_DELIVERY, "")
            else:
                out[day] = (DayState.MISSING, outcome.message or f"pull {outcome.status}")
        elif first_data_day is not None and day < first_data_day:
            out[day] = (DayState.MISSING, "before the first day with data")
        else:
            out[day] = (DayState.NO_DELIVERY, "")
    return out


# -- totals ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    """Sums of one account over the covered days of a period (None: no covered day)."""

    values: Mapping[str, float] | None
    days: int
    covered: int
    missing_reasons: tuple[str, ...]

    @property
    def missing(self) -> int:
        return self.days - self.covered

    @property
    def complete(self) -> bool:
        return self.values is not None and self.missing == 0

    @property
    def no_delivery(self) -> bool:
        """Fully covered and nothing delivered: the account really was quiet."""
        return (
            self.complete
            and self.values is not None
            and not self.values.get("spend")
            and not self.values.get("impressions")
        )

    def get(self, metric: str) -> float | None:
        if self.values is None:
            return None
        if metric == "cpa":
            return ratio(self.values.get("spend"), self.values.get("conversions"))
        if metric == "roas":
            return ratio(self.values.get("conversion_value"), self.values.get("spend"))
        return self.values.get(metric)

    @property
    def note(self) -> str:
        """Short words for the row: no delivery, partial coverage, or nothing."""
        if self.values is None:
            return f"no data: {self.missing_reasons[0]}" if self.missing_reasons else "no data"
        if self.missing:
            reason = f": {self.missing_reasons[0]}" if self.missing_reasons else ""
            return f"{self.covered} of {self.days} days{reason}"
        if self.no_delivery:
            return "no delivery"
        return ""


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """A ratio of sums; None when the denominator is 0 or unknown (never inf or NaN)."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return float(numerator) / float(denominator)


def period_totals(
    daily: pd.DataFrame,
    period: Period,
    states: Mapping[dt.date, tuple[DayState, str]],
    metrics: Sequence[str] = METRICS,
) -> Totals:
    """Sum one account's daily rows over the covered days of ``period``."""
    days = period.dates()
    covered = [d for d in days if states[d][0] is not DayState.MISSING]
    reasons = tuple(dict.fromkeys(states[d][1] for d in days if states[d][0] is DayState.MISSING))
    if not covered:
        return Totals(None, len(days), 0, reasons)
    in_period = daily[(daily["date_day"] >= period.start) & (daily["date_day"] <= period.end)]
    values = {m: float(in_period[m].fillna(0).sum()) if m in in_period else 0.0 for m in metrics}
    return Totals(values, len(days), len(covered), reasons)


def trend_frame(
    daily: pd.DataFrame,
    period: Period,
    states: Mapping[dt.date, tuple[DayState, str]],
    metrics: Sequence[str] = METRICS,
) -> pd.DataFrame:
    """One row per day of ``period``: the metrics, 0 on a quiet day, NaN on a missing one."""
    by_day = daily.set_index("date_day") if len(daily) else None
    rows = []
    for day in period.dates():
        state, reason = states[day]
        row: dict[str, object] = {"date_day": day, "state": str(state), "reason": reason}
        for metric in metrics:
            if state is DayState.MISSING:
                row[metric] = math.nan
            elif state is DayState.NO_DELIVERY or by_day is None or day not in by_day.index:
                row[metric] = 0.0
            else:
                value: Any = by_day.at[day, metric] if metric in by_day.columns else 0.0
                row[metric] = float(value) if _present(value) else 0.0
        rows.append(row)
    return pd.DataFrame(rows, columns=["date_day", "state", "reason", *metrics])


def change(current: float | None, previous: float | None) -> float | None:
    """Relative change; None when either side is unknown or the previous is 0."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / abs(previous)


# -- formatting ------------------------------------------------------------------------


def decimals_of(currency: str) -> int:
    return 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2


def fmt_money(value: float | None, currency: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return f"{value:,.{decimals_of(currency)}f} {currency}"


def fmt_count(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if digits == 0 and float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{max(digits, 2)}f}"


def fmt_ratio(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return f"{value:,.{digits}f}"


def fmt_change(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:+.1%}"


def fmt_metric(metric: str, value: float | None, currency: str) -> str:
    """A metric as a person reads it: money in the account's currency, counts, ratios."""
    if metric in MONEY_METRICS or metric == "cpa":
        return fmt_money(value, currency)
    if metric == "roas":
        return fmt_ratio(value)
    if metric == "conversions":
        return fmt_count(value, 2 if value is not None and not float(value).is_integer() else 0)
    return fmt_count(value)


def parse_number(text: str) -> float | None:
    """Inverse of the formatters (tests and CSV readers): ``1,234.50 EUR`` → 1234.5."""
    head = text.split(" ")[0].replace(",", "")
    if head in {MISSING, ""}:
        return None
    return float(head)
