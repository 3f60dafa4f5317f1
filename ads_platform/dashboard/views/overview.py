"""Overview (the agency's morning page): every account, this period versus the last.

Each account in its own currency (money is never added across currencies: totals are
per currency, and a grand total appears only once the marts carry a reporting
currency), with its freshness on the same row, and a daily trend per account where a
day without good data is a gap with its reason.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ads_platform.dashboard import charts, common, data
from ads_platform.dashboard.model import (
    METRIC_LABELS,
    MISSING,
    change,
    fmt_change,
    fmt_metric,
)

SHOWN = ("spend", "impressions", "link_clicks", "conversions", "conversion_value", "cpa", "roas")
COMPARED = ("spend", "conversions", "roas")
TREND_METRICS = ("spend", "impressions", "link_clicks", "conversions", "conversion_value")


def account_rows(overview: data.OverviewData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table as shown (formatted, "—" for unknown) and as exported (raw numbers)."""
    shown, raw = [], []
    for account_id, row in overview.accounts.items():
        f, cur, prev = row.freshness, row.current, row.before
        display: dict[str, object] = {
            "Account": f.display_name,
            "Account id": account_id,
            "Currency": f.currency,
            "Period": str(row.period),
        }
        export: dict[str, object] = {
            "account_id": account_id,
            "account_name": f.account_name,
            "currency": f.currency,
            "period_start": row.period.start,
            "period_end": row.period.end,
        }
        for metric in SHOWN:
            display[METRIC_LABELS[metric]] = fmt_metric(metric, cur.get(metric), f.currency)
            export[metric] = cur.get(metric)
            export[f"previous_{metric}"] = prev.get(metric)
            if metric in COMPARED:
                delta = change(cur.get(metric), prev.get(metric))
                comparable = cur.complete and prev.complete
                display[f"{METRIC_LABELS[metric]} vs prev."] = (
                    fmt_change(delta) if comparable else ""
                )
        display["Note"] = cur.note
        display["Data"] = f.label
        display["Open"] = f"account?account={account_id}"
        export.update(
            covered_days=cur.covered,
            period_days=cur.days,
            note=cur.note,
            data_status=f.label,
            is_stale=f.is_stale,
        )
        shown.append(display)
        raw.append(export)
    return pd.DataFrame(shown), pd.DataFrame(raw)


def currency_totals(overview: data.OverviewData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Totals per currency: sums over accounts of that currency only (never across)."""
    groups: dict[str, list[data.AccountPeriod]] = {}
    for row in overview.accounts.values():
        groups.setdefault(row.currency, []).append(row)
    shown, raw = [], []
    for currency, rows in sorted(groups.items()):
        known = [r.current for r in rows if r.current.values is not None]
        sums = {
            m: sum(float(t.get(m) or 0.0) for t in known)
            for m in ("spend", "impressions", "link_clicks", "conversions", "conversion_value")
        }
        incomplete = [r.freshness.display_name for r in rows if not r.current.complete]
        spend = sums["spend"]
        roas = sums["conversion_value"] / spend if spend else None
        cpa = spend / sums["conversions"] if sums["conversions"] else None
        note = f"incomplete: {', '.join(incomplete)} missing days" if incomplete else ""
        if not known:
            shown.append(
                {"Currency": currency, "Accounts": len(rows), "Spend": MISSING, "Note": note}
            )
            raw.append({"currency": currency, "accounts": len(rows), "note": note})
            continue
        shown.append(
            {
                "Currency": currency,
                "Accounts": len(rows),
                "Spend": fmt_metric("spend", spend, currency),
                "Conversions": fmt_metric("conversions", sums["conversions"], currency),
                "Conversion value": fmt_metric(
                    "conversion_value", sums["conversion_value"], currency
                ),
                "CPA": fmt_metric("cpa", cpa, currency),
                "ROAS": fmt_metric("roas", roas, currency),
                "Note": note,
            }
        )
        raw.append(
            {
                "currency": currency,
                "accounts": len(rows),
                **sums,
                "cpa": cpa,
                "roas": roas,
                "note": note,
            }
        )
    return pd.DataFrame(shown), pd.DataFrame(raw)


def reporting_total(overview: data.OverviewData) -> str | None:
    """The grand total in the reporting currency, once the marts have FX rates.

    Flagged incomplete when a day has no rate (a null converted value: never 1.0) or an
    account misses days.
    """
    if "spend" not in overview.reporting:
        return None
    total, currencies, gaps, converted = 0.0, set(), 0, 0
    reasons: set[str] = set()
    for row in overview.accounts.values():
        daily, period = row.daily, row.period
        in_period = daily[(daily["date_day"] >= period.start) & (daily["date_day"] <= period.end)]
        currencies |= set(in_period["reporting_currency"].dropna().astype(str))
        missing = in_period["spend_reporting"].isna()
        gaps += int(missing.sum()) + row.current.missing
        converted += int((~missing).sum())
        if "fx_missing_reason" in in_period:
            reasons |= set(in_period.loc[missing, "fx_missing_reason"].dropna().astype(str))
        total += float(in_period["spend_reporting"].fillna(0).sum())
    if len(currencies) != 1:
        return None
    (currency,) = currencies
    if not converted:
        # Nothing converted: a total of 0 would be a false zero.
        why = f": {sorted(reasons)[0]}" if reasons else ""
        return f"Total spend in {currency}: — (no FX rate for this period{why})"
    flag = f" (incomplete: {gaps} account-day(s) without a rate or data)" if gaps else ""
    return f"Total spend in {currency}: {fmt_metric('spend', total, currency)}{flag}"


def render() -> None:
    st.title("Overview")
    marts = common.load_marts()
    if not marts.accounts:
        st.info("No ad account in the marts yet: run the ingestion and the marts build.")
        return
    choice = common.period_picker()
    overview = data.overview(marts, choice)
    stale = [r.freshness for r in overview.accounts.values() if r.freshness.is_stale]
    if stale:
        st.warning(
            f"{len(stale)} of {len(overview.accounts)} account(s) have stale data: "
            + "; ".join(f"{f.display_name}: {f.label}" for f in stale)
        )
    st.caption(
        "Each account in its own currency and time zone, versus the same number of days "
        "before. — means no good data for the period (the Data column says why); "
        "0 means the pulls succeeded and Meta reported no delivery."
    )
    shown, raw = account_rows(overview)
    common.table(
        shown,
        raw,
        name="accounts",
        key="overview_accounts",
        column_config={"Open": st.column_config.LinkColumn("Open", display_text="account ›")},
    )
    st.subheader("Totals per currency")
    total = reporting_total(overview)
    if total:
        st.write(total)
    else:
        st.caption(
            "Money is never added across currencies; a grand total appears once the marts "
            "carry a reporting currency (FX rates)."
        )
    totals_shown, totals_raw = currency_totals(overview)
    common.table(totals_shown, totals_raw, name="totals per currency", key="overview_currencies")
    st.subheader("Daily trend")
    metric = common.url_choice(
        st.selectbox, "Metric", {m: METRIC_LABELS[m] for m in TREND_METRICS}, "metric", "spend"
    )
    frames = {
        a: (r.freshness.display_name, r.currency, r.trend) for a, r in overview.accounts.items()
    }
    st.altair_chart(charts.account_trends(frames, str(metric)), width="stretch")


if __name__ == "__main__":
    common.run_page(render)
