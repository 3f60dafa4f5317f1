"""Reach as Meta deduplicates it, per account × month and campaign × month."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandera.pandas as pandera
import pyarrow as pa
from pandera.typing import Series

from ads_platform.datasets.base import MONEY, TIMESTAMP, Dataset, Partitioning
from ads_platform.schemas import Model

REACH_MONTHLY = "reach_monthly"


class ReachMonthly(Model):
    """One row per level, campaign and month; reach is never negative (nor summed)."""

    level: Series[str] = pandera.Field(isin=["account", "campaign"])
    period_start: Series[Any] = pandera.Field(nullable=False)
    account_id: Series[str] = pandera.Field(str_matches=r"^act_\d+$")
    campaign_id: Series[Any] = pandera.Field(nullable=True)
    reach: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)
    impressions: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)

    class Config:
        strict = False
        coerce = False
        unique = ["level", "campaign_id", "period_start"]


REACH = Dataset(
    name=REACH_MONTHLY,
    description="Reach pulled for whole months at account and campaign level "
    "(never summed from days).",
    grain=("level", "campaign_id", "period_start"),
    partitioning=Partitioning.ACCOUNT,
    arrow=pa.schema(
        [
            ("level", pa.string()),  # "account" | "campaign"
            ("period", pa.string()),  # "month"
            ("period_start", pa.date32()),
            ("period_end", pa.date32()),
            ("account_id", pa.string()),
            ("campaign_id", pa.string()),  # null at account level
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
        "date_start",
        "date_stop",
        "reach",
        "impressions",
        "spend",
    ),
    freshness=False,
    asset=REACH_MONTHLY,
)
