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
    data = frame.assign(date=pd.to_datetime(frame["date_day"]))
    x_axis = alt.Axis(format="%a %-d %b", tickCount="day", labelAngle=0)
    base = alt.Chart(data).encode(x=alt.X("date:T", title=None, axis=x_axis))
    line = base.mark_line(point=True).encode(
        y=alt.Y(f"{metric}:Q", title=_title(metric, currency), axis=alt.Axis(format=",.2~f")),
        tooltip=[
            alt.Tooltip("date:T", title="day"),
            alt.Tooltip(f"{metric}:Q", title=METRIC_LABELS.get(metric, metric), format=",.2f"),
            alt.Tooltip("state:N", title="data"),
        ],
    )
    gaps = data[data["state"] == "missing"].assign(end=lambda f: f["date"] + pd.Timedelta(days=1))
    band = (
        alt.Chart(gaps)
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
    return cast(alt.LayerChart, alt.layer(band, line))


def trend_chart(
    frame: pd.DataFrame, metric: str, currency: str, height: int = 220
) -> alt.LayerChart:
    """One account's daily ``metric`` with its gaps."""
    return _layers(frame, metric, currency).properties(height=height)


def account_trends(
    frames: dict[str, tuple[str, str, pd.DataFrame]], metric: str, height: int = 140
) -> alt.VConcatChart:
    """Small multiples, one row per account (name, currency, trend frame), each own axis."""
    charts = [
        _layers(frame, metric, currency).properties(title=name, height=height)
        for name, currency, frame in frames.values()
    ]
    return cast(alt.VConcatChart, alt.vconcat(*charts).resolve_scale(y="independent"))
