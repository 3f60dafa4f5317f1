"""Validation machinery for the datasets' Pandera models, and the checks around them.

The models themselves are declared with their datasets (:mod:`ads_platform.datasets`).
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
import pyarrow as arrow
from pandera.errors import SchemaErrors


class ValidationFailed(ValueError):
    """A frame broke its schema; ``reason`` is what a user should read."""

    def __init__(self, dataset: str, reason: str, failures: list[str] | None = None) -> None:
        super().__init__(f"{dataset}: {reason}")
        self.dataset = dataset
        self.reason = reason
        self.failures = failures or []


_KEY_ORDER = ("stat", "action_type", "window", "value")
_ACTION_KEYS = frozenset(_KEY_ORDER)


def is_action_list(value: Any) -> bool:
    if value is None:
        return False
    try:
        items = list(value)
    except TypeError:
        return False
    # dict.keys() compares with a set without building one per element.
    return all(isinstance(item, dict) and item.keys() == _ACTION_KEYS for item in items)


#: The Arrow type of a stored action list (``datasets.base.ACTION_LIST`` is this one).
ACTION_LIST_TYPE = arrow.list_(arrow.struct([(key, arrow.string()) for key in _KEY_ORDER]))


def action_lists_ok(series: pd.Series) -> pd.Series:
    """Per row: an action list of the stored shape (the ``action_list_shape`` check).

    An Arrow column of list<struct<stat, action_type, window, value>> has that shape by
    its type, so only a null row can fail; anything else is checked value by value.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.ArrowDtype) and dtype.pyarrow_dtype == ACTION_LIST_TYPE:
        return series.notna().astype(bool)
    return series.map(is_action_list)


def two_decimals(series: pd.Series) -> pd.Series:
    cents = series * 100
    return (cents - cents.round()).abs() < 1e-6


class Model(pa.DataFrameModel):
    """Base of the datasets' models (:mod:`ads_platform.datasets`): strict, no coercion."""

    class Config:
        strict = True
        coerce = False


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


def validate(model: type[Model], frame: pd.DataFrame, dataset: str) -> pd.DataFrame:
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
