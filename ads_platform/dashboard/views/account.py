"""Account (what a client sees; ``/account?account=act_…&period=…&level=…``).

KPIs versus the previous period, the daily trend with its gaps, campaigns → ad sets →
ads with current names, the best and worst ads, conversions by type, reach and frequency
at the grain Meta computed them (never added up), and breakdown sections for the
breakdown marts the catalog has.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ads_platform.dashboard import charts, common, data, queries
from ads_platform.dashboard.model import (
    METRIC_LABELS,
    MISSING,
    PERIODS,
    Totals,
    change,
    fmt_change,
    fmt_count,
    fmt_metric,
    fmt_ratio,
    hint_for,
    ratio,
)
from ads_platform.datasets.reach import ROLLING_PERIODS

KPIS = ("spend", "impressions", "link_clicks", "conversions", "conversion_value", "cpa", "roas")
TREND_METRICS = ("spend", "impressions", "link_clicks", "conversions", "conversion_value")
RANKS = {"roas": "ROAS (higher is better)", "cpa": "CPA (lower is better)"}
TABLE_METRICS = (
    "spend",
    "impressions",
    "link_clicks",
    "conversions",
    "conversion_value",
    "cpa",
    "roas",
)


def coverage_message(totals: Totals) -> tuple[str, str] | None:
    """(kind, text) of the period's coverage note, or None when complete with delivery."""
    if totals.values is None:
        reason = totals.missing_reasons[0] if totals.missing_reasons else "no data"
        return "error", f"No good data for this period: {reason}. Nothing is shown as 0."
    if totals.missing:
        reason = "; ".join(totals.missing_reasons)
        return (
            "warning",
            f"This period covers {totals.covered} of {totals.days} days ({reason}): "
            "totals are for the covered days only.",
        )
    if totals.no_delivery:
        return (
            "info",
            "No delivery in this period: every day was pulled successfully and Meta "
            "reported no spend and no impressions.",
        )
    return None


def kpis(summary: data.AccountPeriod) -> None:
    cur, prev, currency = summary.current, summary.before, summary.currency
    comparable = cur.complete and prev.complete
    columns = [*st.columns(4), *st.columns(4)]
    for column, metric in zip(columns, KPIS, strict=False):
        value = cur.get(metric)
        delta = fmt_change(change(value, prev.get(metric))) if comparable else None
        column.metric(
            METRIC_LABELS[metric],
            fmt_metric(metric, value, currency),
            delta=delta or None,
            delta_color="inverse" if metric == "cpa" else "normal",
            help=f"previous period {summary.previous}: "
            f"{fmt_metric(metric, prev.get(metric), currency)}",
        )


def trend(summary: data.AccountPeriod) -> None:
    metric = common.url_choice(
        st.selectbox, "Metric", {m: METRIC_LABELS[m] for m in TREND_METRICS}, "metric", "spend"
    )
    st.altair_chart(
        charts.trend_chart(summary.trend, str(metric), summary.currency), width="stretch"
    )
    with st.expander("Daily figures"):
        frame = summary.trend
        shown = pd.DataFrame(
            {
                "Day": frame["date_day"].astype(str),
                "Data": day_labels(frame),
                **{
                    METRIC_LABELS[m]: [fmt_metric(m, _num(v), summary.currency) for v in frame[m]]
                    for m in TREND_METRICS
                },
            }
        )
        common.table(shown, frame, name="daily figures", key="account_daily")


def day_labels(frame: pd.DataFrame) -> list[str]:
    """Per day: the reason of a gap, ``no delivery`` for a real zero, else ``data``."""
    labels = []
    for state, reason, spend, impressions in zip(
        frame["state"], frame["reason"], frame["spend"], frame["impressions"], strict=True
    ):
        if state == "missing":
            labels.append(f"no data: {reason}")
        elif not spend and not impressions:
            labels.append("no delivery")
        else:
            labels.append("data")
    return labels


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def entity_table(frame: pd.DataFrame, level: queries.Level, currency: str) -> pd.DataFrame:
    """Formatted rows of a drill-down or ranking table."""
    out: dict[str, object] = {
        level.label.rstrip("s"): frame[level.name_column].fillna(frame[level.id_column])
    }
    if "effective_status" in frame:
        out["Status"] = frame["effective_status"].fillna("")
    for _parent_id, parent_name in level.parents:
        if parent_name in frame:
            out[parent_name.replace("_name", "").replace("_", " ").title()] = frame[parent_name]
    for metric in TABLE_METRICS:
        if metric in frame:
            out[METRIC_LABELS[metric]] = [
                fmt_metric(metric, _num(v), currency) for v in frame[metric]
            ]
    out["Id"] = frame[level.id_column].astype(str)
    return pd.DataFrame(out)


def level_controls(
    marts: data.Marts, summary: data.AccountPeriod
) -> tuple[queries.Level, dict[str, str]]:
    """Level (campaigns → ad sets → ads) and the parent filters, bound to the URL."""
    account_id, period = summary.freshness.account_id, summary.period
    left, middle, right = st.columns(3)
    with left:
        key = common.url_choice(
            st.radio,
            "Level",
            {k: v.label for k, v in queries.LEVELS.items()},
            "level",
            queries.DEFAULT_LEVEL,
            horizontal=True,
        )
    level = queries.LEVELS[key]
    filters: dict[str, str] = {}
    if level.key == "campaign":
        return level, filters
    campaigns = data.parents(marts, account_id, period, "campaign")
    names = _names(campaigns, "campaign_id", "campaign_name")
    with middle:
        campaign = common.url_choice(
            st.selectbox, "Campaign", {"": "All campaigns", **names}, "campaign", ""
        )
    if campaign:
        filters["campaign_id"] = str(campaign)
    if level.key == "ad":
        ad_sets = data.parents(marts, account_id, period, "ad_set", filters.get("campaign_id"))
        set_names = _names(ad_sets, "ad_set_id", "ad_set_name")
        with right:
            ad_set = common.url_choice(
                st.selectbox, "Ad set", {"": "All ad sets", **set_names}, "ad_set", ""
            )
        if ad_set:
            filters["ad_set_id"] = str(ad_set)
    return level, filters


def _names(frame: pd.DataFrame, id_column: str, name_column: str) -> dict[str, str]:
    return {
        str(i): str(n) if isinstance(n, str) else str(i)
        for i, n in zip(frame[id_column], frame[name_column], strict=True)
    }


def ranked(result: data.AccountData) -> None:
    by = common.url_choice(st.radio, "Rank ads by", RANKS, "rank", "roas", horizontal=True)
    best, worst = data.ranked_ads(result.ads, str(by))
    level, currency = queries.LEVELS["ad"], result.summary.currency
    left, right = st.columns(2)
    with left:
        st.markdown("**Top ads**")
        common.table(entity_table(best, level, currency), best, name="top ads", key="top_ads")
    with right:
        st.markdown("**Bottom ads**")
        common.table(
            entity_table(worst, level, currency), worst, name="bottom ads", key="bottom_ads"
        )
    idle = data.spent_without_conversion(result.ads)
    if by == "cpa" and len(idle):
        spent = fmt_metric("spend", float(idle["spend"].astype(float).sum()), currency)
        st.caption(f"{len(idle)} ad(s) spent {spent} without a conversion (no CPA to rank).")


def conversions_by_type(result: data.AccountData) -> None:
    summary = result.summary
    if summary.current.values is None:
        st.caption(f"{MISSING} no good data for this period.")
        return
    daily = summary.daily
    in_period = daily[
        (daily["date_day"] >= summary.period.start) & (daily["date_day"] <= summary.period.end)
    ]
    spend = summary.current.get("spend")
    rows, raw = [], []
    for name in result.conversion_types:
        count = float(in_period.get(f"conversions_{name}", pd.Series(dtype=float)).fillna(0).sum())
        value = float(
            in_period.get(f"conversion_value_{name}", pd.Series(dtype=float)).fillna(0).sum()
        )
        cost = ratio(spend, count)
        rows.append(
            {
                "Conversion type": name.replace("_", " "),
                "Conversions": fmt_metric("conversions", count, summary.currency),
                "Value": fmt_metric("conversion_value", value, summary.currency),
                "Cost per conversion": fmt_metric("cpa", cost, summary.currency),
            }
        )
        raw.append(
            {
                "conversion_type": name,
                "conversions": count,
                "conversion_value": value,
                "cost_per_conversion": cost,
            }
        )
    common.table(
        pd.DataFrame(rows), pd.DataFrame(raw), name="conversions by type", key="conversion_types"
    )


def period_reach(result: data.AccountData) -> None:
    """Meta's reach for exactly the chosen days, or plainly that it was not pulled."""
    exact, period = result.period_reach, result.summary.period
    if not len(exact):
        windows = ", ".join(PERIODS[k].lower() for k in ROLLING_PERIODS)
        st.info(
            f"Reach for exactly {period} is not pulled: reach is pulled for the {windows} "
            "ending yesterday, for whole months and for single days (account level), and never "
            "summed from "
            "days or months. The pulled periods overlapping these dates are below."
        )
        return
    st.markdown(f"**{period}, as Meta computed it**")
    shown = pd.DataFrame(
        {
            "Reach of": [_reach_of(r) for _, r in exact.iterrows()],
            "Reach": [fmt_count(_num(v)) for v in exact["reach"]],
            "Impressions": [fmt_count(_num(v)) for v in exact["impressions"]],
            "Frequency": [fmt_ratio(_num(v)) for v in exact["frequency"]],
        }
    )
    common.table(shown, exact, name="reach for the period", key="reach_period")


def _reach_of(row: pd.Series) -> str:
    """Whom a reach row counts: the whole account, a campaign or an ad set (by name)."""
    if row["level"] == "account":
        return "Whole account"
    if row["level"] == "campaign":
        return f"Campaign {_name(row['campaign_name'], row['campaign_id'])}"
    return f"Ad set {_name(row['ad_set_name'], row['ad_set_id'])}"


def _name(name: Any, fallback: Any) -> str:
    return str(name) if isinstance(name, str) else str(fallback)


def reach(result: data.AccountData) -> None:
    frame = result.reach
    st.caption(
        "Reach counts people once within each row's level and period, as Meta computed "
        "it: rows are never added up (the same person is reached on several days and by "
        "several campaigns or ad sets). Frequency = impressions ÷ reach."
    )
    period_reach(result)
    if not len(frame):
        st.caption("No reach pulled for this period.")
        return
    sections = (
        ("account", "day", "Account, per day"),
        ("account", "month", "Account, per month"),
        ("campaign", "month", "Campaigns, per month"),
        ("ad_set", "month", "Ad sets, per month"),
    )
    for level, period, title in sections:
        part = frame[(frame["level"] == level) & (frame["period"] == period)]
        if not len(part):
            continue
        st.markdown(f"**{title}**")
        shown = pd.DataFrame(
            {
                **(
                    {"Ad set": part["ad_set_name"].fillna(part["ad_set_id"])}
                    if level == "ad_set"
                    else {}
                ),
                **(
                    {"Campaign": part["campaign_name"].fillna(part["campaign_id"])}
                    if level != "account"
                    else {}
                ),
                "Period": [
                    str(s) if s == e else f"{s} – {e}"
                    for s, e in zip(part["period_start"], part["period_end"], strict=True)
                ],
                "Reach": [fmt_count(_num(v)) for v in part["reach"]],
                "Impressions": [fmt_count(_num(v)) for v in part["impressions"]],
                "Frequency": [fmt_ratio(_num(v)) for v in part["frequency"]],
                "Complete": ["yes" if c else "running" for c in part["is_complete"]],
            }
        )
        common.table(shown, part, name=title.lower(), key=f"reach_{level}_{period}")


def breakdowns(result: data.AccountData) -> None:
    if not result.breakdowns:
        return
    for title, frame in result.breakdowns.items():
        st.subheader(title)
        if not len(frame):
            st.caption("No rows for this period.")
            continue
        common.table(frame, name=title.lower(), key=f"breakdown_{title.lower().replace(' ', '_')}")


def render() -> None:
    marts = common.load_marts()
    account_id = common.account_param(marts.accounts)
    if account_id is None:
        return
    freshness = marts.accounts[account_id]
    st.title(freshness.display_name)
    st.caption(
        f"{account_id} · money in {freshness.currency} · days are local days in "
        f"{freshness.timezone_name}"
    )
    common.freshness_banner(freshness, hint_for(cause=freshness.cause))
    choice = common.period_picker()
    summary = data.account_summary(marts, choice, account_id)
    st.caption(f"{summary.period} versus {summary.previous}")
    note = coverage_message(summary.current)
    if note is not None:
        kind, text = note
        {"error": st.error, "warning": st.warning, "info": st.info}[kind](text)
    kpi_box, trend_box = st.container(), st.container()
    st.subheader("Campaigns, ad sets and ads")
    level, filters = level_controls(marts, summary)
    result = data.account(marts, summary, level, filters)
    with kpi_box:
        kpis(result.summary)
    with trend_box:
        st.subheader("Daily trend")
        trend(result.summary)
    common.table(
        entity_table(result.entities, level, freshness.currency),
        result.entities,
        name=level.label.lower(),
        key=f"entities_{level.key}",
    )
    st.subheader("Top and bottom ads")
    ranked(result)
    st.subheader("Conversions by type")
    conversions_by_type(result)
    st.subheader("Reach and frequency")
    reach(result)
    breakdowns(result)


if __name__ == "__main__":
    common.run_page(render)
