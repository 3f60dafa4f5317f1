"""Every query the dashboard runs: parametrized SQL over the marts' public contract.

Only the marts in the ``main`` schema are read (``rpt_*_daily``, ``dim_*``, ``fct_reach``,
``data_freshness``, ``token_health``, ``alerts``; the ``lake``/``staging``/
``intermediate`` schemas are ingestion's business).  User input (account ids, dates,
levels) only ever travels as query parameters; the few identifiers that vary (a report
table, a column list) are chosen from fixed tables here or from the marts' own catalog,
never from the URL.  Columns that other work may add or rename are discovered from the
catalog (:func:`catalog`), so the dashboard keeps working when a mart gains a column and
shows a section only when its mart exists.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ads_platform.dashboard.model import (
    DAY_OUTCOMES_MART,
    METRICS,
    REPORTING_CURRENCY_COLUMN,
    REPORTING_SUFFIX,
    DayOutcome,
)
from ads_platform.dashboard.reader import MartsReader

Catalog = Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Level:
    """One level of the drill-down: its report mart and its id and name columns."""

    key: str
    label: str
    table: str
    id_column: str
    name_column: str
    parents: tuple[tuple[str, str], ...]


LEVELS: dict[str, Level] = {
    "campaign": Level(
        "campaign", "Campaigns", "rpt_campaign_daily", "campaign_id", "campaign_name", ()
    ),
    "ad_set": Level(
        "ad_set",
        "Ad sets",
        "rpt_ad_set_daily",
        "ad_set_id",
        "ad_set_name",
        (("campaign_id", "campaign_name"),),
    ),
    "ad": Level(
        "ad",
        "Ads",
        "rpt_ad_daily",
        "ad_id",
        "ad_name",
        (("campaign_id", "campaign_name"), ("ad_set_id", "ad_set_name")),
    ),
}
DEFAULT_LEVEL = "campaign"

#: Breakdown sections of the account page and the words that find their marts.
BREAKDOWNS: dict[str, tuple[str, ...]] = {
    "Placement": ("placement",),
    "Age and gender": ("age_gender", "age"),
    "Country": ("country",),
    "Region": ("region",),
}
_WINDOW = re.compile(r"^\d+d_(click|view|ev)$")


def catalog(reader: MartsReader) -> dict[str, tuple[str, ...]]:
    """Tables and views of the marts (``main`` schema) with their columns, in order."""
    frame = reader.frame(
        "select table_name, column_name from information_schema.columns "
        "where table_catalog = current_database() and table_schema = 'main' "
        "order by table_name, ordinal_position"
    )
    out: dict[str, list[str]] = {}
    for table, column in zip(frame["table_name"], frame["column_name"], strict=True):
        out.setdefault(str(table), []).append(str(column))
    return {table: tuple(columns) for table, columns in out.items()}


def _present(cat: Catalog, table: str, columns: Sequence[str]) -> list[str]:
    have = set(cat.get(table, ()))
    return [c for c in columns if c in have]


def _quoted(columns: Sequence[str]) -> str:
    return ", ".join('"' + c.replace('"', '""') + '"' for c in columns)


def conversion_types(cat: Catalog, table: str = "rpt_account_daily") -> list[str]:
    """Names of the configured conversion action types (``conversions_<name>``)."""
    names = []
    for column in cat.get(table, ()):
        if column.startswith("conversions_"):
            name = column.removeprefix("conversions_")
            if not _WINDOW.match(name):
                names.append(name)
    return names


def reporting_metrics(cat: Catalog) -> list[str]:
    """Metrics converted to a reporting currency (none until the marts have FX rates)."""
    columns = set(cat.get("rpt_account_daily", ()))
    if REPORTING_CURRENCY_COLUMN not in columns:
        return []
    return [m for m in METRICS if m + REPORTING_SUFFIX in columns]


# -- freshness ---------------------------------------------------------------------------


def freshness(reader: MartsReader) -> pd.DataFrame:
    """``data_freshness``, one row per account, by name."""
    return reader.frame("select * from data_freshness order by account_name, account_id")


def day_outcomes(
    reader: MartsReader, cat: Catalog, account_ids: Sequence[str], start: dt.date, end: dt.date
) -> dict[str, dict[dt.date, DayOutcome]] | None:
    """Per-day outcomes of the ad-insights pulls, when the marts have that mart."""
    columns = set(cat.get(DAY_OUTCOMES_MART, ()))
    if not {"account_id", "date_day", "status"} <= columns:
        return None
    message = "message" if "message" in columns else "''"
    dataset = "and dataset = 'ad_insights_daily'" if "dataset" in columns else ""
    frame = reader.frame(
        f"select account_id, date_day, status, {message} as message from {DAY_OUTCOMES_MART} "
        f"where account_id in (select unnest(?::varchar[])) and date_day between ? and ? "
        f"{dataset}",
        [list(account_ids), start, end],
    )
    out: dict[str, dict[dt.date, DayOutcome]] = {a: {} for a in account_ids}
    for row in frame.itertuples(index=False):
        day = _day(row.date_day)
        out.setdefault(str(row.account_id), {})[day] = DayOutcome(
            str(row.status), str(row.message or "")
        )
    return out


# -- daily account reports ---------------------------------------------------------------


def account_daily(
    reader: MartsReader,
    cat: Catalog,
    start: dt.date,
    end: dt.date,
    account_id: str | None = None,
    extra: Sequence[str] = (),
) -> pd.DataFrame:
    """``rpt_account_daily`` rows between ``start`` and ``end`` (one account or all).

    Always the additive metrics (a missing column reads as 0); ``extra`` columns only
    when the mart has them (per-type conversions, reach, reporting-currency money).
    """
    wanted = _present(cat, "rpt_account_daily", [*METRICS, *extra])
    select = ", ".join(["date_day", "account_id", "currency", _quoted(wanted)])
    where = "date_day between ? and ?"
    params: list[object] = [start, end]
    if account_id is not None:
        where += " and account_id = ?"
        params.append(account_id)
    frame = reader.frame(
        f"select {select} from rpt_account_daily where {where} order by account_id, date_day",
        params,
    )
    return _with_dates(frame)


def first_data_days(reader: MartsReader) -> dict[str, dt.date]:
    """The first day with facts per account (before it, a day without rows is unknown)."""
    frame = reader.frame(
        "select account_id, min(date_day) as first_day from rpt_account_daily group by account_id"
    )
    return {str(a): _day(d) for a, d in zip(frame["account_id"], frame["first_day"], strict=True)}


def _day(value: Any) -> dt.date:
    return pd.Timestamp(value).date()


def _with_dates(frame: pd.DataFrame, column: str = "date_day") -> pd.DataFrame:
    if column in frame:
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


# -- drill-down --------------------------------------------------------------------------


def entity_totals(
    reader: MartsReader,
    cat: Catalog,
    level: Level,
    account_id: str,
    start: dt.date,
    end: dt.date,
    filters: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per campaign, ad set or ad of the account with its totals for the period.

    Names are the current ones (the reports join the latest version of each entity);
    ``filters`` narrows to one parent (``campaign_id`` / ``ad_set_id``).
    """
    metrics = _present(cat, level.table, METRICS)
    keys = [level.id_column, level.name_column]
    for parent_id, parent_name in level.parents:
        keys += [parent_id, parent_name]
    keys = _present(cat, level.table, keys)
    group = _quoted(keys)
    sums = ", ".join(f"sum({_quoted([m])}) as {_quoted([m])}" for m in metrics)
    where = "account_id = ? and date_day between ? and ?"
    params: list[object] = [account_id, start, end]
    for column, value in sorted((filters or {}).items()):
        if column in {p for p, _ in level.parents} and value:
            where += f" and {_quoted([column])} = ?"
            params.append(value)
    frame = reader.frame(
        f"select {group}, {sums} from {level.table} where {where} "
        f"group by {group} order by spend desc nulls last, {_quoted([level.id_column])}",
        params,
    )
    return with_ratios(frame)


def with_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """CPA and ROAS as ratios of the sums in the frame (NaN when undefined, never inf)."""
    spend = frame["spend"].astype(float) if "spend" in frame else None
    if spend is None:
        return frame
    conversions = frame.get("conversions")
    value = frame.get("conversion_value")
    if conversions is not None:
        frame["cpa"] = spend / conversions.astype(float).where(conversions != 0)
    if value is not None:
        frame["roas"] = value.astype(float) / spend.where(spend != 0)
    return frame


def entity_status(reader: MartsReader, level: Level, account_id: str) -> pd.DataFrame:
    """Current status of each entity of the level (``dim_*``), for the drill-down table."""
    dim = {"campaign": "dim_campaigns", "ad_set": "dim_ad_sets", "ad": "dim_ads"}[level.key]
    return reader.frame(
        f"select {level.id_column} as id, effective_status from {dim} where account_id = ?",
        [account_id],
    )


# -- reach -------------------------------------------------------------------------------


def reach(reader: MartsReader, account_id: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Reach and frequency rows of the account overlapping the period, at their own grain.

    Never summed: account × day, account × month, campaign × month and ad set × month
    rows, each as Meta computed it for exactly that level and range.
    """
    frame = reader.frame(
        """select r.level, r.period, r.period_start, r.period_end, r.campaign_id,
                  c.campaign_name, r.ad_set_id, s.ad_set_name, r.reach, r.impressions,
                  r.frequency, r.is_complete
           from fct_reach as r
           left join dim_campaigns as c on c.campaign_id = r.campaign_id
           left join dim_ad_sets as s on s.ad_set_id = r.ad_set_id
           where r.account_id = ? and r.period_start <= ? and r.period_end >= ?
           order by r.level, r.period desc, r.period_start, c.campaign_name, s.ad_set_name""",
        [account_id, end, start],
    )
    frame = _with_dates(frame, "period_start")
    return _with_dates(frame, "period_end")


# -- breakdowns --------------------------------------------------------------------------


def breakdown_marts(cat: Catalog) -> dict[str, str]:
    """Section title → mart for the breakdown marts the catalog has.

    Account reports (``rpt_``) before facts (``fct_``): the report is already summed to
    the account and day, the fact is per ad.
    """
    found: dict[str, str] = {}
    for title, words in BREAKDOWNS.items():
        for table in sorted(cat, key=lambda t: (not t.startswith("rpt_"), t)):
            columns = set(cat[table])
            if not table.startswith(("rpt_", "fct_")) or not {"account_id", "date_day"} <= columns:
                continue
            if any(word in table for word in words) and "spend" in columns:
                found[title] = table
                break
    return found


def breakdown(
    reader: MartsReader, cat: Catalog, table: str, account_id: str, start: dt.date, end: dt.date
) -> pd.DataFrame:
    """Additive metrics of a breakdown mart by its breakdown values (reach never summed)."""
    columns = cat[table]
    metrics = [m for m in METRICS if m in columns]
    skip = {"account_id", "date_day", "currency", "timezone_name", "reach", "frequency"}
    dims = [
        c
        for c in columns
        if c not in skip
        and c not in metrics
        and not c.endswith(("_id", "_at", "_name"))
        # metrics the dashboard does not chart (video counts and watch time) are no dimension
        and not c.startswith(("conversion", "clicks", "ctr", "cpc", "cpm", "cpa", "roas", "video_"))
        and c not in {"source_rows", "lake_file"}
    ]
    if not dims or not metrics:
        return pd.DataFrame()
    group = _quoted(dims)
    sums = ", ".join(f"sum({_quoted([m])}) as {_quoted([m])}" for m in metrics)
    frame = reader.frame(
        f"select {group}, {sums} from {_quoted([table])} "
        "where account_id = ? and date_day between ? and ? "
        f"group by {group} order by spend desc nulls last",
        [account_id, start, end],
    )
    return with_ratios(frame)


# -- data health -------------------------------------------------------------------------


def token_health(reader: MartsReader) -> pd.DataFrame:
    return reader.frame("select * from token_health order by account_id")


def alerts(reader: MartsReader, cat: Catalog) -> pd.DataFrame:
    """Open alerts (all alerts while the mart has no ``status`` column), newest first."""
    columns = cat.get("alerts", ())
    where = "where status = 'open'" if "status" in columns else ""
    order = "last_sent_at" if "last_sent_at" in columns else "1"
    return reader.frame(f"select * from alerts {where} order by {order} desc nulls last")


def dataset_freshness(reader: MartsReader, cat: Catalog) -> pd.DataFrame:
    """Per account and dataset, the latest day or pull the marts hold.

    What the marts can tell without the ingestion log: ad insights (latest day with
    ad rows), account insights (latest day with the account-level row), reach
    (latest period end), entities (latest pull of ads) and the token (latest check).
    """
    parts = [
        "select account_id, 'ad insights' as dataset, max(date_day)::varchar as latest "
        "from rpt_account_daily group by account_id",
    ]
    if "account_level_spend" in cat.get("rpt_account_daily", ()):
        parts.append(
            "select account_id, 'account insights', max(date_day)::varchar from rpt_account_daily "
            "where account_level_spend is not null group by account_id"
        )
    parts += [
        "select account_id, 'reach', max(period_end)::varchar from fct_reach group by account_id",
        "select account_id, 'entities (ads)', strftime(max(pulled_at), '%Y-%m-%d %H:%M UTC') "
        "from dim_ads group by account_id",
        "select account_id, 'token check', strftime(max(checked_at), '%Y-%m-%d %H:%M UTC') "
        "from token_health group by account_id",
    ]
    return reader.frame(
        "select * from (" + " union all ".join(parts) + ") order by account_id, dataset"
    )
