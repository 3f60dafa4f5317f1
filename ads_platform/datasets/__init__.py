"""The dataset registry: every lake dataset, declared once (see :mod:`.base`).

Adding a dataset is one :class:`Dataset` declaration in a family module, listed in
``DATASETS`` below, plus the function that pulls it; the dbt lake columns and sources
are regenerated from here (``python -m ads_platform.datasets.dbt_sql``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ads_platform.datasets.base import Dataset, Layout, Partitioning
from ads_platform.datasets.breakdowns import (
    AD_INSIGHTS_AGE_GENDER,
    AD_INSIGHTS_AGE_GENDER_DAILY,
    AD_INSIGHTS_COUNTRY,
    AD_INSIGHTS_COUNTRY_DAILY,
    AD_INSIGHTS_PLACEMENT,
    AD_INSIGHTS_PLACEMENT_DAILY,
    AD_INSIGHTS_REGION,
    AD_INSIGHTS_REGION_DAILY,
    BREAKDOWNS,
    Breakdown,
)
from ads_platform.datasets.creatives import CREATIVE_HISTORY, CREATIVES
from ads_platform.datasets.entities import (
    ACCOUNTS,
    AD_ACCOUNTS,
    AD_HISTORY,
    AD_SET_HISTORY,
    AD_SETS,
    ADS,
    CAMPAIGN_HISTORY,
    CAMPAIGNS,
)
from ads_platform.datasets.fx import FX, FX_RATES
from ads_platform.datasets.insights import (
    ACCOUNT_INSIGHTS,
    ACCOUNT_INSIGHTS_DAILY,
    AD_INSIGHTS,
    AD_INSIGHTS_DAILY,
)
from ads_platform.datasets.operations import ALERT_LOG, ALERTS, ATTEMPTS, INGESTION_ATTEMPTS
from ads_platform.datasets.reach import REACH, REACH_MONTHLY
from ads_platform.datasets.token_health import TOKEN_CHECKS, TOKEN_HEALTH

#: Every lake dataset by name, in the order the dbt files list them.
DATASETS: Mapping[str, Dataset] = MappingProxyType(
    {
        d.name: d
        for d in (
            AD_INSIGHTS,
            ACCOUNT_INSIGHTS,
            AD_INSIGHTS_PLACEMENT,
            AD_INSIGHTS_AGE_GENDER,
            AD_INSIGHTS_COUNTRY,
            AD_INSIGHTS_REGION,
            CAMPAIGN_HISTORY,
            AD_SET_HISTORY,
            AD_HISTORY,
            CREATIVE_HISTORY,
            ACCOUNTS,
            TOKEN_CHECKS,
            REACH,
            FX,
            ATTEMPTS,
            ALERT_LOG,
        )
    }
)


def dataset(name: str) -> Dataset:
    """The declaration of a dataset; a name nobody declared is a ``KeyError`` saying so."""
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"no dataset {name!r} is declared (known: {sorted(DATASETS)})") from None


__all__ = [
    "ACCOUNTS",
    "ACCOUNT_INSIGHTS",
    "ACCOUNT_INSIGHTS_DAILY",
    "ADS",
    "AD_ACCOUNTS",
    "AD_HISTORY",
    "AD_INSIGHTS",
    "AD_INSIGHTS_AGE_GENDER",
    "AD_INSIGHTS_AGE_GENDER_DAILY",
    "AD_INSIGHTS_COUNTRY",
    "AD_INSIGHTS_COUNTRY_DAILY",
    "AD_INSIGHTS_DAILY",
    "AD_INSIGHTS_PLACEMENT",
    "AD_INSIGHTS_PLACEMENT_DAILY",
    "AD_INSIGHTS_REGION",
    "AD_INSIGHTS_REGION_DAILY",
    "AD_SETS",
    "AD_SET_HISTORY",
    "ALERTS",
    "ALERT_LOG",
    "ATTEMPTS",
    "BREAKDOWNS",
    "CAMPAIGNS",
    "CAMPAIGN_HISTORY",
    "CREATIVES",
    "CREATIVE_HISTORY",
    "DATASETS",
    "FX",
    "FX_RATES",
    "INGESTION_ATTEMPTS",
    "REACH",
    "REACH_MONTHLY",
    "TOKEN_CHECKS",
    "TOKEN_HEALTH",
    "Breakdown",
    "Dataset",
    "Layout",
    "Partitioning",
    "dataset",
]
