"""Each page's data, assembled from the queries without Streamlit.

The pages call these functions and only lay out what they return; the benchmark calls
the same functions, so the timings it prints are the queries the pages really run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from ads_platform.dashboard import queries
from ads_platform.dashboard.model import (
    METRICS,
    DayOutcome,
    DayState,
    Freshness,
    Period,
    Totals,
    day_states,
    freshness_from_frame,
    period_totals,
    resolve_period,
    trend_frame,
)
from ads_platform.dashboard.reader import MartsReader


@dataclass(frozen=True)
class Marts:
    """What every page reads first: the reader, the catalog and every account's freshness."""

    reader: MartsReader
    catalog: dict[str, tuple[str, ...]]
    accounts: dict[str, Freshness]

    @classmethod
    def load(cls, reader: MartsReader) -> Marts:
        catalog = queries.catalog(reader)
        accounts = freshness_from_frame(queries.freshness(reader))
        return cls(reader, catalog, accounts)


@dataclass(frozen=True)
class PeriodChoice:
    """The period asked for in the URL; each account resolves it in its own time zone."""

    key: str
    since: dt.date | None = None
    until: dt.date | None = None

    def for_account(self, freshness: Freshness) -> Period:
        return resolve_period(self.key, freshness.account_today, self.since, self.until)


@dataclass(frozen=True)
class AccountPeriod:
    """One account over the chosen period and the one before, with every day's state."""

    freshness: Freshness
    period: Period
    previous: Period
    current: Totals
    before: Totals
    trend: pd.DataFrame
    daily: pd.DataFrame

    @property
    def currency(self) -> str:
        return self.freshness.currency


def _states(
    marts: Marts,
    account_id: str,
    daily: pd.DataFrame,
    days: list[dt.date],
    first_days: dict[str, dt.date],
    outcomes: dict[str, dict[dt.date, DayOutcome]] | None,
) -> dict[dt.date, tuple[DayState, str]]:
    data_days = set(daily["date_day"]) if len(daily) else set()
    return day_states(
        days,
        data_days,
        marts.accounts[account_id],
        first_days.get(account_id),
        outcomes.get(account_id, {}) if outcomes is not None else None,
    )


#: Extra columns that label a day rather than measure it: never summed.
LABEL_COLUMNS = frozenset({"reporting_currency", "fx_missing_reason"})


def account_periods(
    marts: Marts,
    choice: PeriodChoice,
    account_ids: list[str],
    extra: tuple[str, ...] = (),
) -> dict[str, AccountPeriod]:
    """Totals, previous totals and the daily trend of each account (one query for all)."""
    if not account_ids:
        return {}
    periods = {a: choice.for_account(marts.accounts[a]) for a in account_ids}
    start = min(p.previous().start for p in periods.values())
    end = max(p.end for p in periods.values())
    only = account_ids[0] if len(account_ids) == 1 else None
    daily_all = queries.account_daily(marts.reader, marts.catalog, start, end, only, extra)
    first_days = queries.first_data_days(marts.reader)
    outcomes = queries.day_outcomes(marts.reader, marts.catalog, account_ids, start, end)
    out: dict[str, AccountPeriod] = {}
    for account_id in account_ids:
        period = periods[account_id]
        previous = period.previous()
        daily = daily_all[daily_all["account_id"] == account_id].reset_index(drop=True)
        days = previous.dates() + period.dates()
        states = _states(marts, account_id, daily, days, first_days, outcomes)
        metrics = [*METRICS, *(e for e in extra if e not in LABEL_COLUMNS)]
        out[account_id] = AccountPeriod(
            freshness=marts.accounts[account_id],
            period=period,
            previous=previous,
            current=period_totals(daily, period, states, metrics),
            before=period_totals(daily, previous, states, metrics),
            trend=trend_frame(daily, period, states),
            daily=daily,
        )
    return out


# -- overview ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OverviewData:
    accounts: dict[str, AccountPeriod]
    #: Metrics that exist converted to the reporting currency (none until FX rates).
    reporting: list[str] = field(default_factory=list)


def overview(marts: Marts, choice: PeriodChoice) -> OverviewData:
    reporting = queries.reporting_metrics(marts.catalog)
    extra = tuple(m + "_reporting" for m in reporting)
    if reporting:
        extra = ("reporting_currency", *extra)
        if "fx_missing_reason" in marts.catalog.get("rpt_account_daily", ()):
            extra = (*extra, "fx_missing_reason")
    rows = account_periods(marts, choice, list(marts.accounts), extra)
    return OverviewData(rows, reporting)


# -- account -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountData:
    summary: AccountPeriod
    conversion_types: list[str]
    entities: pd.DataFrame
    ads: pd.DataFrame
    reach: pd.DataFrame
    #: The rows of ``reach`` Meta computed for exactly the period's days (see period_reach).
    period_reach: pd.DataFrame
    breakdowns: dict[str, pd.DataFrame]


def account_summary(marts: Marts, choice: PeriodChoice, account_id: str) -> AccountPeriod:
    """The account's totals and trend, with the per-type conversion columns."""
    types = queries.conversion_types(marts.catalog)
    extra = tuple(f"{kind}_{t}" for t in types for kind in ("conversions", "conversion_value"))
    return account_periods(marts, choice, [account_id], extra)[account_id]


def account(
    marts: Marts,
    summary: AccountPeriod,
    level: queries.Level,
    filters: dict[str, str],
) -> AccountData:
    """Everything below the KPIs of the account page for one level and its filters."""
    account_id, period = summary.freshness.account_id, summary.period
    reader, cat = marts.reader, marts.catalog
    ads = queries.entity_totals(
        reader, cat, queries.LEVELS["ad"], account_id, period.start, period.end
    )
    if level.key == "ad" and not any(filters.values()):
        entities = ads.copy()
    else:
        entities = queries.entity_totals(
            reader, cat, level, account_id, period.start, period.end, filters
        )
    status = queries.entity_status(reader, level, account_id)
    entities = entities.merge(
        status.rename(columns={"id": level.id_column}), on=level.id_column, how="left"
    )
    breakdowns = {
        title: queries.breakdown(reader, cat, table, account_id, period.start, period.end)
        for title, table in queries.breakdown_marts(cat).items()
    }
    reach = queries.reach(reader, account_id, period.start, period.end)
    return AccountData(
        summary=summary,
        conversion_types=queries.conversion_types(cat),
        entities=entities,
        ads=ads,
        reach=reach,
        period_reach=period_reach(reach, period),
        breakdowns=breakdowns,
    )


LEVEL_ORDER = {"account": 0, "campaign": 1, "ad_set": 2}


def period_reach(reach: pd.DataFrame, period: Period) -> pd.DataFrame:
    """The complete reach rows pulled for exactly ``period``'s days, account first.

    Reach over a range is known only when Meta computed it for that range (a pulled
    window such as last 7 days ending yesterday, a month, a day); it is never derived
    from other rows, so a period no pull covers exactly has no rows here.  When two
    kinds cover the same days (last 30 days = a 30-day month), one row per entity stays.
    """
    if not len(reach):
        return reach
    exact = reach[
        (reach["period_start"] == period.start)
        & (reach["period_end"] == period.end)
        & reach["is_complete"].fillna(False).astype(bool)
    ]
    exact = exact.drop_duplicates(["level", "campaign_id", "ad_set_id"])
    order = exact["level"].map(LEVEL_ORDER)
    return exact.iloc[order.argsort(kind="stable")].reset_index(drop=True)


def parents(
    marts: Marts, account_id: str, period: Period, level: str, campaign_id: str | None = None
) -> pd.DataFrame:
    """The campaigns (or the ad sets of ``campaign_id``) that spent in the period: filters."""
    return queries.entity_totals(
        marts.reader,
        marts.catalog,
        queries.LEVELS[level],
        account_id,
        period.start,
        period.end,
        {"campaign_id": campaign_id} if campaign_id else None,
    )


def ranked_ads(ads: pd.DataFrame, by: str, n: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Best and worst ads by ROAS (higher is better) or CPA (lower is better).

    Only ads that spent count; for CPA only ads with conversions (an ad without any has
    no CPA: the page lists them apart rather than ranking an undefined ratio).
    """
    spent = ads[ads["spend"].astype(float) > 0]
    if by == "cpa":
        ranked = spent[spent["conversions"].astype(float) > 0].sort_values(
            ["cpa", "spend"], ascending=[True, False]
        )
    else:
        ranked = spent.sort_values(["roas", "spend"], ascending=[False, False])
    best = ranked.head(n)
    worst = ranked.iloc[::-1].head(n) if len(ranked) > n else ranked.iloc[0:0]
    return best.reset_index(drop=True), worst.reset_index(drop=True)


def spent_without_conversion(ads: pd.DataFrame) -> pd.DataFrame:
    return ads[(ads["spend"].astype(float) > 0) & (ads["conversions"].astype(float) == 0)]


# -- data health ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthData:
    freshness: pd.DataFrame
    datasets: pd.DataFrame
    tokens: pd.DataFrame
    alerts: pd.DataFrame


def health(marts: Marts) -> HealthData:
    reader, cat = marts.reader, marts.catalog
    return HealthData(
        freshness=queries.freshness(reader),
        datasets=queries.dataset_freshness(reader, cat),
        tokens=queries.token_health(reader),
        alerts=queries.alerts(reader, cat),
    )
