"""Altair charts of the dashboard: daily trends where a missing day is a gap, never a 0.

A day without good data has a NaN value (:func:`ads_platform.dashboard.model.trend_frame`),
which breaks the line, and a grey band over it whose tooltip says why.  Each account is
drawn in its own currency on its own axis: money is never put on one axis across
currencies.
"""

from __future__ import annotations

from typing import cast

import altair as alt
import pandas as pd

from ads_platform.dashboard.model import METRIC_LABELS, MONEY_METRICS

GAP_COLOR = "#d0d0d0"


def _title(metric: str, currency: str) -> str:
    label = METRIC_LABELS.get(metric, metric)
    return f"{label} ({currency})" if metric in MONEY_METRICS and currency else label


def _layers(frame: pd.DataFrame, metric: str, currency: str) -> alt.LayerChart:
    """The line (NaN breaks it) over grey bands on the missing days, on one data set."""
    data = frame.assign(date=pd.to_datetime(frame["date_day"]))
    x_axis = alt.Axis(format="%a %-d %b", tickCount="day", labelAngle=0)
    line = (
        alt.Chart()
        .mark_line(point=True)
        .encode(
            x=alt.X("date:T", title=None, axis=x_axis),
            y=alt.Y(f"{metric}:Q", title=_title(metric, currency), axis=alt.Axis(format=",.2~f")),
            tooltip=[
                alt.Tooltip("date:T", title="day"),
                alt.Tooltip(f"{metric}:Q", title=METRIC_LABELS.get(metric, metric), format=",.2f"),
                alt.Tooltip("state:N", title="data"),
            ],
        )
    )
    band = (
        alt.Chart()
        .transform_filter(alt.datum.state == "missing")
        .transform_calculate(end="timeOffset('date', datum.date, 1)")
        .mark_rect(color=GAP_COLOR, opacity=0.6)
        .encode(
            x="date:T",
            x2="end:T",
            tooltip=[
                alt.Tooltip("date:T", title="day"),
                alt.Tooltip("reason:N", title="no data"),
            ],
        )
    )
    return cast(alt.LayerChart, alt.layer(band, line, data=data))


def trend_chart(
    frame: pd.DataFrame, metric: str, currency: str, height: int = 220
) -> alt.LayerChart:
    """One account's daily ``metric`` with its gaps."""
    return _layers(frame, metric, currency).properties(height=height)


def account_trends(
    frames: dict[str, tuple[str, str, pd.DataFrame]],
    metric: str,
    height: int = 110,
    width: int = 860,
) -> alt.FacetChart:
    """Small multiples, one row per account (name, currency, trend frame), each own axis.

    One faceted chart rather than one chart per account: with twenty accounts the spec
    (and Altair's validation of it) stays one chart.
    """
    parts = [
        frame.assign(account=f"{name} ({currency})" if metric in MONEY_METRICS else name)
        for name, currency, frame in frames.values()
    ]
    data = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    label = METRIC_LABELS.get(metric, metric)
    title = f"{label} (each account's currency)" if metric in MONEY_METRICS else label
    layered = _layers(data, metric, "").properties(height=height, width=width)
    return cast(
        alt.FacetChart,
        layered.facet(
            row=alt.Row(
                "account:N",
                title=None,
                header=alt.Header(
                    labelAngle=0, labelOrient="top", labelAnchor="start", labelFontSize=13
                ),
            )
        )
        .resolve_scale(y="independent")
        .properties(title=title),
    )
