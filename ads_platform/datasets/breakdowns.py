"""Daily insights broken down by placement, age × gender, country and region: ad × day × value.

Why separate datasets, not columns on ``ad_insights_daily``: each breakdown is its own
grain (an ad-day is split into cells), Meta's cells need not add up exactly to the
unbroken day, and reach per cell cannot be summed back.  Each keeps the unbroken
dataset's typing (exact money, nullable counts, the action lists as pulled); reach is
nullable on top of that because Meta omits unique metrics for breakdown queries that
start more than 13 months back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import pandas as pd
import pandera.pandas as pandera
import pyarrow as pa
from pandera.typing import Series

from ads_platform.datasets.base import TIMESTAMP, Dataset, Partitioning
from ads_platform.datasets.insights import AD_INSIGHTS, VideoMetrics
from ads_platform.schemas import Model, action_lists_ok, two_decimals

AD_INSIGHTS_PLACEMENT_DAILY = "ad_insights_placement_daily"
AD_INSIGHTS_AGE_GENDER_DAILY = "ad_insights_age_gender_daily"
AD_INSIGHTS_COUNTRY_DAILY = "ad_insights_country_daily"
AD_INSIGHTS_REGION_DAILY = "ad_insights_region_daily"


class _BreakdownInsights(VideoMetrics):
    """What every breakdown shares with ``ad_insights_daily``; subclasses add the keys."""

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


class AdInsightsPlacementDaily(_BreakdownInsights):
    publisher_platform: Series[str] = pandera.Field(str_length={"min_value": 1})
    platform_position: Series[str] = pandera.Field(str_length={"min_value": 1})

    class Config:
        strict = True
        coerce = False
        unique = ["date_day", "ad_id", "publisher_platform", "platform_position"]


class AdInsightsAgeGenderDaily(_BreakdownInsights):
    age: Series[str] = pandera.Field(str_length={"min_value": 1})
    gender: Series[str] = pandera.Field(str_length={"min_value": 1})

    class Config:
        strict = True
        coerce = False
        unique = ["date_day", "ad_id", "age", "gender"]


class AdInsightsCountryDaily(_BreakdownInsights):
    country: Series[str] = pandera.Field(str_length={"min_value": 1})

    class Config:
        strict = True
        coerce = False
        unique = ["date_day", "ad_id", "country"]


class AdInsightsRegionDaily(_BreakdownInsights):
    # Meta sends the region's name alone (``California``, ``Unknown``), not its country.
    region: Series[str] = pandera.Field(str_length={"min_value": 1})

    class Config:
        strict = True
        coerce = False
        unique = ["date_day", "ad_id", "region"]


@dataclass(frozen=True)
class Breakdown:
    """One breakdown the platform pulls: its settings name, API keys and dataset.

    ``dims`` are both the ``breakdowns`` parameter sent to Meta and the stored key
    columns (Meta answers with the same names).
    """

    key: str
    dims: tuple[str, ...]
    dataset: Dataset

    @property
    def name(self) -> str:
        return self.dataset.name


_IDS = ("date_day", "account_id", "campaign_id", "ad_set_id", "ad_id")


def _declare(name: str, what: str, dims: tuple[str, ...], model: type[Model]) -> Dataset:
    # The unbroken columns with the breakdown keys after the ids, fetched_at/run_id last.
    ids = [f for f in AD_INSIGHTS.arrow if f.name in _IDS]
    metrics = [f for f in AD_INSIGHTS.arrow if f.name not in (*_IDS, "fetched_at", "run_id")]
    arrow = pa.schema(
        [
            *ids,
            *[(d, pa.string()) for d in dims],
            *metrics,
            ("fetched_at", TIMESTAMP),
            ("run_id", pa.string()),
        ]
    )
    return Dataset(
        name=name,
        description=f"Ad × day × {what} insights as pulled (breakdowns={','.join(dims)}); one "
        "file per account-day, replaced by each fetch; reach null where Meta omits it "
        "(queries starting more than 13 months back), never summed across values.",
        grain=("date_day", "ad_id", *dims),
        partitioning=Partitioning.DAY_ACCOUNT,
        arrow=arrow,
        model=model,
        api_fields=AD_INSIGHTS.api_fields,
        asset=name,
    )


AD_INSIGHTS_PLACEMENT = _declare(
    AD_INSIGHTS_PLACEMENT_DAILY,
    "placement",
    ("publisher_platform", "platform_position"),
    AdInsightsPlacementDaily,
)
AD_INSIGHTS_AGE_GENDER = _declare(
    AD_INSIGHTS_AGE_GENDER_DAILY, "age × gender", ("age", "gender"), AdInsightsAgeGenderDaily
)
AD_INSIGHTS_COUNTRY = _declare(
    AD_INSIGHTS_COUNTRY_DAILY, "country", ("country",), AdInsightsCountryDaily
)
AD_INSIGHTS_REGION = _declare(
    AD_INSIGHTS_REGION_DAILY, "region", ("region",), AdInsightsRegionDaily
)

#: The breakdowns by their settings name (``ingestion.breakdowns``), in pull order.
BREAKDOWNS: Mapping[str, Breakdown] = MappingProxyType(
    {
        b.key: b
        for b in (
            Breakdown(
                "placement", ("publisher_platform", "platform_position"), AD_INSIGHTS_PLACEMENT
            ),
            Breakdown("age_gender", ("age", "gender"), AD_INSIGHTS_AGE_GENDER),
            Breakdown("country", ("country",), AD_INSIGHTS_COUNTRY),
            Breakdown("region", ("region",), AD_INSIGHTS_REGION),
        )
    }
)
