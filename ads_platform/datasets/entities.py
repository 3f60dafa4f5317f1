"""Ad accounts and the versioned entities of each account: campaigns, ad sets, ads.

Entities keep every version (``record_hash`` / ``valid_from`` / ``pulled_at``) so a
rename or a deleted ad keeps its name on past spend.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pandera
import pyarrow as pa
from pandera.typing import Series

from ads_platform.datasets.base import TIMESTAMP, Dataset, Partitioning
from ads_platform.schemas import Model

AD_ACCOUNTS = "ad_accounts"
CAMPAIGNS = "campaigns"
AD_SETS = "ad_sets"
ADS = "ads"

_ACT = r"^act_\d+$"
_ID = r"^\d+$"


class AdAccounts(Model):
    account_id: Series[str] = pandera.Field(str_matches=_ACT, unique=True)
    name: Series[str] = pandera.Field(nullable=True)
    currency: Series[str] = pandera.Field(str_matches=r"^[A-Z]{3}$")
    timezone_name: Series[str] = pandera.Field(nullable=False)

    class Config:
        strict = False


class _Entity(Model):
    account_id: Series[str] = pandera.Field(str_matches=_ACT)
    name: Series[str] = pandera.Field(nullable=True)
    status: Series[str] = pandera.Field(nullable=True)
    effective_status: Series[str] = pandera.Field(nullable=True)
    record_hash: Series[str] = pandera.Field(str_length={"min_value": 8})
    valid_from: Series[pd.DatetimeTZDtype] = pandera.Field(dtype_kwargs={"unit": "ns", "tz": "UTC"})


class Campaigns(_Entity):
    campaign_id: Series[str] = pandera.Field(str_matches=_ID)
    daily_budget: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)
    lifetime_budget: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)

    class Config:
        strict = False
        unique = ["campaign_id", "valid_from"]


class AdSets(_Entity):
    ad_set_id: Series[str] = pandera.Field(str_matches=_ID)
    campaign_id: Series[str] = pandera.Field(str_matches=_ID, nullable=True)
    daily_budget: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)
    lifetime_budget: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)

    class Config:
        strict = False
        unique = ["ad_set_id", "valid_from"]


class Ads(_Entity):
    ad_id: Series[str] = pandera.Field(str_matches=_ID)
    ad_set_id: Series[str] = pandera.Field(str_matches=_ID, nullable=True)
    campaign_id: Series[str] = pandera.Field(str_matches=_ID, nullable=True)

    class Config:
        strict = False
        unique = ["ad_id", "valid_from"]


ACCOUNTS = Dataset(
    name=AD_ACCOUNTS,
    description="Ad accounts from the settings and discovery: currency, timezone, status.",
    grain=("account_id",),
    partitioning=Partitioning.NONE,
    arrow=pa.schema(
        [
            ("account_id", pa.string()),
            ("name", pa.string()),
            ("currency", pa.string()),
            ("timezone_name", pa.string()),
            ("account_status", pa.int64()),
            ("source", pa.string()),  # "settings" | "discovered"
            ("is_active", pa.bool_()),  # False once removed from settings: history kept
            ("first_seen_at", TIMESTAMP),
            ("last_seen_at", TIMESTAMP),
        ]
    ),
    model=AdAccounts,
    api_fields=("id", "account_id", "name", "currency", "timezone_name", "account_status"),
    loaded_at="last_seen_at",
    asset=AD_ACCOUNTS,
)

_COMMON = [
    ("account_id", pa.string()),
    ("name", pa.string()),
    ("status", pa.string()),
    ("effective_status", pa.string()),
    ("created_time", TIMESTAMP),
    ("updated_time", TIMESTAMP),
]
_BUDGETS = [("daily_budget", pa.int64()), ("lifetime_budget", pa.int64())]
#: The columns that make a history: a changed hash of the other columns is a new version.
VERSION_COLUMNS = ("record_hash", "valid_from", "pulled_at")
_VERSIONS = [("record_hash", pa.string()), ("valid_from", TIMESTAMP), ("pulled_at", TIMESTAMP)]


def _entity(
    name: str,
    description: str,
    id_column: str,
    columns: list[tuple[str, pa.DataType]],
    model: type[Model],
    api_fields: tuple[str, ...],
) -> Dataset:
    return Dataset(
        name=name,
        description=description,
        grain=(id_column, "valid_from"),
        partitioning=Partitioning.ACCOUNT,
        arrow=pa.schema([(id_column, pa.string()), *columns, *_VERSIONS]),
        model=model,
        api_fields=api_fields,
        loaded_at="pulled_at",
        asset=name,
    )


CAMPAIGN_HISTORY = _entity(
    CAMPAIGNS,
    "Every version of every campaign of an account (record_hash / valid_from / pulled_at).",
    "campaign_id",
    [
        *_COMMON,
        ("objective", pa.string()),
        *_BUDGETS,
        ("start_time", TIMESTAMP),
        ("stop_time", TIMESTAMP),
    ],
    Campaigns,
    (
        "id",
        "account_id",
        "name",
        "status",
        "effective_status",
        "objective",
        "daily_budget",
        "lifetime_budget",
        "start_time",
        "stop_time",
        "created_time",
        "updated_time",
    ),
)
AD_SET_HISTORY = _entity(
    AD_SETS,
    "Every version of every ad set of an account.",
    "ad_set_id",
    [
        ("campaign_id", pa.string()),
        *_COMMON,
        ("optimization_goal", pa.string()),
        ("billing_event", pa.string()),
        *_BUDGETS,
        ("start_time", TIMESTAMP),
        ("end_time", TIMESTAMP),
    ],
    AdSets,
    (
        "id",
        "account_id",
        "campaign_id",
        "name",
        "status",
        "effective_status",
        "optimization_goal",
        "billing_event",
        "daily_budget",
        "lifetime_budget",
        "start_time",
        "end_time",
        "created_time",
        "updated_time",
    ),
)
AD_HISTORY = _entity(
    ADS,
    "Every version of every ad of an account.",
    "ad_id",
    [
        ("campaign_id", pa.string()),
        ("ad_set_id", pa.string()),
        *_COMMON,
        ("creative_id", pa.string()),
    ],
    Ads,
    (
        "id",
        "account_id",
        "campaign_id",
        "adset_id",
        "name",
        "status",
        "effective_status",
        "created_time",
        "updated_time",
        "creative",
    ),
)
