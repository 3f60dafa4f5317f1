"""Pandera models for every frame the platform stores, and the checks around them.

Every frame passes its model before it is written; a failure raises
:class:`ValidationFailed` with a short, human-readable reason and the write does not
happen, so the last good file of that partition stays.  Partition-specific rules
(every row carries the partition's date and account) are checked here too because a
model cannot know which partition it is validating.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors
from pandera.typing import Series


class ValidationFailed(ValueError):
    """A frame broke its schema; ``reason`` is what a user should read."""

    def __init__(self, dataset: str, reason: str, failures: list[str] | None = None) -> None:
        super().__init__(f"{dataset}: {reason}")
        self.dataset = dataset
        self.reason = reason
        self.failures = failures or []


def _is_action_list(value: Any) -> bool:
    if value is None:
        return False
    try:
        items = list(value)
    except TypeError:
        return False
    for item in items:
        if not isinstance(item, dict) or set(item) != {"stat", "action_type", "window", "value"}:
            return False
    return True


def _two_decimals(series: pd.Series) -> pd.Series:
    cents = series * 100
    return (cents - cents.round()).abs() < 1e-6


class _Base(pa.DataFrameModel):
    class Config:
        strict = True
        coerce = False


class AdInsightsDaily(_Base):
    date_day: Series[Any] = pa.Field(nullable=False)
    account_id: Series[str] = pa.Field(str_matches=r"^act_\d+$")
    campaign_id: Series[str] = pa.Field(str_matches=r"^\d+$")
    ad_set_id: Series[str] = pa.Field(str_matches=r"^\d+$")
    ad_id: Series[str] = pa.Field(str_matches=r"^\d+$")
    currency: Series[str] = pa.Field(str_matches=r"^[A-Z]{3}$")
    impressions: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=False)
    reach: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    clicks_all: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    link_clicks: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    spend: Series[float] = pa.Field(ge=0, nullable=False)
    spend__exact: Series[Any] = pa.Field(nullable=False)
    actions: Series[Any] = pa.Field(nullable=False)
    fetched_at: Series[pd.DatetimeTZDtype] = pa.Field(
        nullable=False, dtype_kwargs={"unit": "ns", "tz": "UTC"}
    )
    run_id: Series[str] = pa.Field(nullable=False)

    class Config:
        strict = True
        coerce = False
        unique = ["date_day", "ad_id"]

    @pa.check("spend", name="two_decimal_places")
    def _spend_cents(cls, series: pd.Series) -> pd.Series:
        return _two_decimals(series)

    @pa.check("actions", name="action_list_shape")
    def _actions(cls, series: pd.Series) -> pd.Series:
        return series.map(_is_action_list)

    @pa.dataframe_check(name="link_clicks_not_above_clicks")
    def _clicks(cls, frame: pd.DataFrame) -> pd.Series:
        both = frame["link_clicks"].notna() & frame["clicks_all"].notna()
        ok = ~both | (frame["link_clicks"].fillna(0) <= frame["clicks_all"].fillna(0))
        return ok.astype(bool)


class AccountInsightsDaily(_Base):
    date_day: Series[Any] = pa.Field(nullable=False)
    account_id: Series[str] = pa.Field(str_matches=r"^act_\d+$")
    currency: Series[str] = pa.Field(str_matches=r"^[A-Z]{3}$")
    impressions: Series[pd.Int64Dtype] = pa.Field(ge=0)
    reach: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    clicks_all: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    link_clicks: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    spend: Series[float] = pa.Field(ge=0)
    spend__exact: Series[Any] = pa.Field(nullable=False)
    fetched_at: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs={"unit": "ns", "tz": "UTC"})
    run_id: Series[str] = pa.Field(nullable=False)

    class Config:
        strict = True
        coerce = False
        unique = ["date_day"]

    @pa.check("spend", name="two_decimal_places")
    def _spend_cents(cls, series: pd.Series) -> pd.Series:
        return _two_decimals(series)


class _Entity(_Base):
    account_id: Series[str] = pa.Field(str_matches=r"^act_\d+$")
    name: Series[str] = pa.Field(nullable=True)
    status: Series[str] = pa.Field(nullable=True)
    effective_status: Series[str] = pa.Field(nullable=True)
    record_hash: Series[str] = pa.Field(str_length={"min_value": 8})
    valid_from: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs={"unit": "ns", "tz": "UTC"})


class Campaigns(_Entity):
    campaign_id: Series[str] = pa.Field(str_matches=r"^\d+$")
    daily_budget: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    lifetime_budget: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)

    class Config:
        strict = False
        unique = ["campaign_id", "valid_from"]


class AdSets(_Entity):
    ad_set_id: Series[str] = pa.Field(str_matches=r"^\d+$")
    campaign_id: Series[str] = pa.Field(str_matches=r"^\d+$", nullable=True)
    daily_budget: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    lifetime_budget: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)

    class Config:
        strict = False
        unique = ["ad_set_id", "valid_from"]


class Ads(_Entity):
    ad_id: Series[str] = pa.Field(str_matches=r"^\d+$")
    ad_set_id: Series[str] = pa.Field(str_matches=r"^\d+$", nullable=True)
    campaign_id: Series[str] = pa.Field(str_matches=r"^\d+$", nullable=True)

    class Config:
        strict = False
        unique = ["ad_id", "valid_from"]


class AdAccounts(_Base):
    account_id: Series[str] = pa.Field(str_matches=r"^act_\d+$", unique=True)
    name: Series[str] = pa.Field(nullable=True)
    currency: Series[str] = pa.Field(str_matches=r"^[A-Z]{3}$")
    timezone_name: Series[str] = pa.Field(nullable=False)

    class Config:
        strict = False


class TokenHealth(_Base):
    account_id: Series[str] = pa.Field(str_matches=r"^act_\d+$")
    checked_at: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs={"unit": "ns", "tz": "UTC"})
    is_valid: Series[pd.BooleanDtype] = pa.Field(nullable=True)

    class Config:
        strict = False


ENTITY_MODELS: dict[str, type[_Base]] = {
    "campaigns": Campaigns,
    "ad_sets": AdSets,
    "ads": Ads,
}


def _summarize(exc: SchemaErrors, limit: int = 5) -> list[str]:
    cases = exc.failure_cases
    lines = []
    for _, case in cases.head(limit).iterrows():
        column = case.get("column")
        check = case.get("check")
        value = case.get("failure_case")
        lines.append(f"{column}: {check} (value {value!r})")
    if len(cases) > limit:
        lines.append(f"… and {len(cases) - limit} more")
    return lines


def validate(model: type[_Base], frame: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Run a model lazily (collect every failure) and raise one readable error."""
    try:
        return model.validate(frame, lazy=True)
    except SchemaErrors as exc:
        failures = _summarize(exc)
        raise ValidationFailed(
            dataset, "schema check failed: " + "; ".join(failures), failures
        ) from None


def check_partition_keys(
    frame: pd.DataFrame,
    dataset: str,
    *,
    account_id: str,
    days: Iterable[dt.date] | None = None,
) -> None:
    """Every row must carry the partition's account (and one of its days)."""
    if not len(frame):
        return
    wrong_account = frame.loc[frame["account_id"] != account_id, "account_id"]
    if len(wrong_account):
        raise ValidationFailed(
            dataset,
            f"{len(wrong_account)} row(s) belong to {wrong_account.iloc[0]}, not {account_id}",
        )
    if days is not None:
        allowed = set(days)
        wrong_day = frame.loc[~frame["date_day"].isin(allowed), "date_day"]
        if len(wrong_day):
            raise ValidationFailed(
                dataset,
                f"{len(wrong_day)} row(s) dated {wrong_day.iloc[0]}, outside the partition",
            )
