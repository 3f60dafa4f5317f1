"""Reach as Meta deduplicates it: per account, campaign and ad set × month, and per
account and campaign × the dashboard's fixed windows ending yesterday (last 7, 14, 30 days).
"""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd
import pandera.pandas as pandera
import pyarrow as pa
from pandera.typing import Series

from ads_platform.datasets.base import MONEY, TIMESTAMP, Dataset, Partitioning
from ads_platform.schemas import Model

REACH_MONTHLY = "reach_monthly"

#: The levels stored (the platform's names) → the ``level`` the insights request names.
LEVELS: dict[str, Literal["account", "campaign", "adset"]] = {
    "account": "account",
    "campaign": "campaign",
    "ad_set": "adset",
}

#: The windows pulled besides months (the dashboard's relative periods of the same keys):
#: the ``n`` account-local days ending yesterday, requested as one range each, because
#: reach over a range is never a sum of its days or months.
ROLLING_PERIODS: dict[str, int] = {"last_7d": 7, "last_14d": 14, "last_30d": 30}
#: The levels pulled for the windows: the account and its campaigns (not ad sets, to keep
#: the extra requests at two per window).
ROLLING_LEVELS: tuple[str, ...] = ("account", "campaign")
#: Every value of ``period``: ``month`` or a window of ``ROLLING_PERIODS``.
PERIOD_KINDS: tuple[str, ...] = ("month", *ROLLING_PERIODS)


class ReachMonthly(Model):
    """One row per level, period kind, campaign, ad set and period start; reach is never
    negative (nor summed).

    A row names exactly the ids of its level: none at account level, its campaign at
    campaign level, its ad set and that ad set's campaign at ad-set level.
    """

    level: Series[str] = pandera.Field(isin=list(LEVELS))
    period: Series[str] = pandera.Field(isin=list(PERIOD_KINDS))
    period_start: Series[Any] = pandera.Field(nullable=False)
    account_id: Series[str] = pandera.Field(str_matches=r"^act_\d+$")
    campaign_id: Series[Any] = pandera.Field(nullable=True)
    ad_set_id: Series[Any] = pandera.Field(nullable=True)
    reach: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)
    impressions: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)

    class Config:
        strict = False
        coerce = False
        unique = ["level", "period", "campaign_id", "ad_set_id", "period_start"]

    @pandera.dataframe_check(error="a row does not name exactly the ids of its level")
    @classmethod
    def _ids_of_the_level(cls, frame: Any) -> Any:
        level = frame["level"]
        return (frame["campaign_id"].notna() == (level != "account")) & (
            frame["ad_set_id"].notna() == (level == "ad_set")
        )


REACH = Dataset(
    name=REACH_MONTHLY,
    description="Reach pulled for whole months at account, campaign and ad set level, and for "
    "the last 7, 14 and 30 days ending yesterday at account and campaign level (never summed "
    "from days).",
    grain=("level", "period", "campaign_id", "ad_set_id", "period_start"),
    partitioning=Partitioning.ACCOUNT,
    arrow=pa.schema(
        [
            ("level", pa.string()),  # "account" | "campaign" | "ad_set"
            ("period", pa.string()),  # "month" | "last_7d" | "last_14d" | "last_30d"
            ("period_start", pa.date32()),
            ("period_end", pa.date32()),
            ("account_id", pa.string()),
            ("campaign_id", pa.string()),  # null at account level; the ad set's at ad_set
            ("ad_set_id", pa.string()),  # ad_set level only
            ("currency", pa.string()),
            ("reach", pa.int64()),
            ("impressions", pa.int64()),
            ("spend", MONEY),
            ("is_complete", pa.bool_()),  # False while the period is still running
            ("fetched_at", TIMESTAMP),
        ]
    ),
    model=ReachMonthly,
    api_fields=(
        "account_id",
        "account_currency",
        "campaign_id",
        "adset_id",
        "date_start",
        "date_stop",
        "reach",
        "impressions",
        "spend",
    ),
    freshness=False,
    asset=REACH_MONTHLY,
)
