"""Daily insights: ad × day as pulled, and the account × day totals pulled beside them."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pandas as pd
import pandera.pandas as pandera
import pyarrow as pa
from pandera.typing import Series

from ads_platform.datasets.base import (
    ACTION_LIST,
    MONEY,
    TIMESTAMP,
    Dataset,
    Partitioning,
)
from ads_platform.schemas import Model, action_lists_ok, two_decimals

AD_INSIGHTS_DAILY = "ad_insights_daily"
ACCOUNT_INSIGHTS_DAILY = "account_insights_daily"

#: Action-stat list fields kept from insight rows (all elements, all windows).
ACTION_STATS = ("actions", "action_values", "conversions", "conversion_values")

#: Video metrics of ad rows: stored column → Graph API action-list field.  Meta sends
#: each as a list with one ``video_view`` element, and only on rows of video ads (the
#: columns stay null elsewhere: no video is not zero plays).  All are counts except the
#: average watch time, stored as served: it is not additive, so the marts re-weight it
#: by plays (``avg × plays`` = seconds watched; exact where Meta's average is exact, as
#: on the sandbox, whose ad-day watch time is plays × whole seconds).
VIDEO_COUNTS = (
    ("video_plays", "video_play_actions"),
    ("video_p25_watched", "video_p25_watched_actions"),
    ("video_p50_watched", "video_p50_watched_actions"),
    ("video_p75_watched", "video_p75_watched_actions"),
    ("video_p95_watched", "video_p95_watched_actions"),
    ("video_p100_watched", "video_p100_watched_actions"),
    ("video_thruplays", "video_thruplay_watched_actions"),
)
VIDEO_AVG_TIME = ("video_avg_time_watched_seconds", "video_avg_time_watched_actions")
VIDEO_FIELDS = (*VIDEO_COUNTS, VIDEO_AVG_TIME)


class VideoMetrics(Model):
    """The video columns every ad-level insights model shares (null on non-video rows)."""

    video_plays: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)
    video_p25_watched: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)
    video_p50_watched: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)
    video_p75_watched: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)
    video_p95_watched: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)
    video_p100_watched: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)
    video_thruplays: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)
    video_avg_time_watched_seconds: Series[float] = pandera.Field(ge=0, nullable=True)


class AdInsightsDaily(VideoMetrics):
    date_day: Series[Any] = pandera.Field(nullable=False)
    account_id: Series[str] = pandera.Field(str_matches=r"^act_\d+$")
    campaign_id: Series[str] = pandera.Field(str_matches=r"^\d+$")
    ad_set_id: Series[str] = pandera.Field(str_matches=r"^\d+$")
    ad_id: Series[str] = pandera.Field(str_matches=r"^\d+$")
    currency: Series[str] = pandera.Field(str_matches=r"^[A-Z]{3}$")
    impressions: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=False)
    reach: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)
    clicks_all: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)
    link_clicks: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)
    spend: Series[float] = pandera.Field(ge=0, nullable=False)
    spend__exact: Series[Any] = pandera.Field(nullable=False)
    actions: Series[Any] = pandera.Field(nullable=False)
    fetched_at: Series[pd.DatetimeTZDtype] = pandera.Field(
        nullable=False, dtype_kwargs={"unit": "ns", "tz": "UTC"}
    )
    run_id: Series[str] = pandera.Field(nullable=False)

    class Config:
        strict = True
        coerce = False
        unique = ["date_day", "ad_id"]

    @pandera.check("spend", name="two_decimal_places")
    def _spend_cents(cls, series: pd.Series) -> pd.Series:
        return two_decimals(series)

    @pandera.check("actions", name="action_list_shape")
    def _actions(cls, series: pd.Series) -> pd.Series:
        return action_lists_ok(series)

    @pandera.dataframe_check(name="link_clicks_not_above_clicks")
    def _clicks(cls, frame: pd.DataFrame) -> pd.Series:
        both = frame["link_clicks"].notna() & frame["clicks_all"].notna()
        ok = ~both | (frame["link_clicks"].fillna(0) <= frame["clicks_all"].fillna(0))
        return ok.astype(bool)


class AccountInsightsDaily(Model):
    date_day: Series[Any] = pandera.Field(nullable=False)
    account_id: Series[str] = pandera.Field(str_matches=r"^act_\d+$")
    currency: Series[str] = pandera.Field(str_matches=r"^[A-Z]{3}$")
    impressions: Series[pd.Int64Dtype] = pandera.Field(ge=0)
    reach: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)
    clicks_all: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)
    link_clicks: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)
    spend: Series[float] = pandera.Field(ge=0)
    spend__exact: Series[Any] = pandera.Field(nullable=False)
    fetched_at: Series[pd.DatetimeTZDtype] = pandera.Field(dtype_kwargs={"unit": "ns", "tz": "UTC"})
    run_id: Series[str] = pandera.Field(nullable=False)

    class Config:
        strict = True
        coerce = False
        unique = ["date_day"]

    @pandera.check("spend", name="two_decimal_places")
    def _spend_cents(cls, series: pd.Series) -> pd.Series:
        return two_decimals(series)


_TOTALS = [
    ("impressions", pa.int64()),
    ("reach", pa.int64()),
    ("clicks_all", pa.int64()),
    ("link_clicks", pa.int64()),
    ("spend", MONEY),
]
_TOTALS_API = ("impressions", "reach", "clicks", "inline_link_clicks", "spend")
_VIDEO = [*((column, pa.int64()) for column, _ in VIDEO_COUNTS), (VIDEO_AVG_TIME[0], pa.float64())]

#: Every API field the ad-level pull requests → the column that holds it (the passthrough
#: settings refuse these: they are there already).
PULLED_AS: Mapping[str, str] = MappingProxyType(
    {
        "account_id": "account_id",
        "account_currency": "currency",
        "campaign_id": "campaign_id",
        "adset_id": "ad_set_id",
        "ad_id": "ad_id",
        "date_start": "date_day",
        "date_stop": "date_day",
        **{api: column for (column, _), api in zip(_TOTALS, _TOTALS_API, strict=True)},
        **dict.fromkeys(ACTION_STATS, "actions"),
        **{api: column for column, api in VIDEO_FIELDS},
    }
)

AD_INSIGHTS = Dataset(
    name=AD_INSIGHTS_DAILY,
    description="Ad × day insights as pulled (account-local days); one file per account-day, "
    "each fetch replaces the file.",
    grain=("date_day", "ad_id"),
    partitioning=Partitioning.DAY_ACCOUNT,
    arrow=pa.schema(
        [
            ("date_day", pa.date32()),
            ("account_id", pa.string()),
            ("campaign_id", pa.string()),
            ("ad_set_id", pa.string()),
            ("ad_id", pa.string()),
            ("currency", pa.string()),
            *_TOTALS,
            *_VIDEO,
            ("actions", ACTION_LIST),
            ("fetched_at", TIMESTAMP),
            ("run_id", pa.string()),
        ]
    ),
    model=AdInsightsDaily,
    api_fields=(
        "account_id",
        "account_currency",
        "campaign_id",
        "adset_id",
        "ad_id",
        "date_start",
        "date_stop",
        *_TOTALS_API,
        *ACTION_STATS,
        *(api for _, api in VIDEO_FIELDS),
    ),
    asset=AD_INSIGHTS_DAILY,
)

ACCOUNT_INSIGHTS = Dataset(
    name=ACCOUNT_INSIGHTS_DAILY,
    description="Account × day totals pulled with level=account (deduplicated account reach); "
    "written by the same asset as ad_insights_daily.",
    grain=("date_day", "account_id"),
    partitioning=Partitioning.DAY_ACCOUNT,
    arrow=pa.schema(
        [
            ("date_day", pa.date32()),
            ("account_id", pa.string()),
            ("currency", pa.string()),
            *_TOTALS,
            ("fetched_at", TIMESTAMP),
            ("run_id", pa.string()),
        ]
    ),
    model=AccountInsightsDaily,
    api_fields=(
        "account_id",
        "account_currency",
        "date_start",
        "date_stop",
        *_TOTALS_API,
    ),
    asset=AD_INSIGHTS_DAILY,
)
