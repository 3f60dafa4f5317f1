"""FX rates into the reporting currency: one rate per (day, account currency), or none."""

from __future__ import annotations

from typing import Any

import pandera.pandas as pandera
import pyarrow as pa
from pandera.typing import Series

from ads_platform.datasets.base import TIMESTAMP, Dataset, Partitioning
from ads_platform.schemas import Model

FX_RATES = "fx_rates"


class FxRates(Model):
    """A rate is positive or absent with a reason: a missing rate is never stored as 1.0."""

    date_day: Series[Any] = pandera.Field(nullable=False)
    currency: Series[str] = pandera.Field(str_matches=r"^[A-Z]{3}$")
    reporting_currency: Series[str] = pandera.Field(str_matches=r"^[A-Z]{3}$")
    rate: Series[Any] = pandera.Field(nullable=True)
    missing_reason: Series[Any] = pandera.Field(nullable=True)

    class Config:
        strict = False
        coerce = False
        unique = ["date_day", "currency"]

    @pandera.dataframe_check(error="a row has both a rate and a missing_reason, or neither")
    @classmethod
    def _rate_or_reason(cls, frame: Any) -> Any:
        return frame["rate"].isna() != frame["missing_reason"].isna()

    @pandera.dataframe_check(error="a rate is zero or negative")
    @classmethod
    def _positive(cls, frame: Any) -> Any:
        return frame["rate"].isna() | (frame["rate"] > 0)


FX = Dataset(
    name=FX_RATES,
    description="One rate per (day, account currency) into the reporting currency (settings "
    "fx.reporting_currency), from ECB reference rates; rate NULL with missing_reason where none "
    "is close enough (never 1.0). Rewritten whole by the fx_rates asset.",
    grain=("date_day", "currency"),
    partitioning=Partitioning.NONE,
    arrow=pa.schema(
        [
            ("date_day", pa.date32()),
            ("currency", pa.string()),
            ("reporting_currency", pa.string()),
            ("rate", pa.decimal128(28, 10)),
            ("rate_day", pa.date32()),
            ("missing_reason", pa.string()),
            ("source", pa.string()),
            ("pulled_at", TIMESTAMP),
        ]
    ),
    model=FxRates,
    loaded_at="pulled_at",
    freshness=False,
    asset=FX_RATES,
)
