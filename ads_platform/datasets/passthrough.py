"""Passthrough fields: insights fields and action types the settings add to ad × day.

Why a settings list and not code: agencies want one more Meta figure in ``fct_ad_daily``
(cpp, unique clicks, a custom conversion) far more often than the platform changes.  A
passthrough field is requested in the same ad-level insights calls, parsed by its kind
(:mod:`ads_platform.insights_fields`) and stored as a typed column of
``ad_insights_daily``; the Arrow schema and the Pandera model of that dataset are derived
here from the declaration, never typed a second time.  Passthrough action types need no
new lake column: every action of every type is stored already (``actions``), the marts
read their counts and values out of it.

What is refused, and why, is decided here once (the settings call :func:`field_problems`
and :func:`action_type_problems` when they load): a name Meta does not know, a field the
platform pulls already, a breakdown, and fields that are not one value per ad-day (lists,
entity attributes, breakdown-only fields).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd
import pandera.pandas as pandera
import pyarrow as pa
from pandera.typing import Series

from ads_platform.datasets.base import Dataset
from ads_platform.datasets.insights import AD_INSIGHTS, PULLED_AS
from ads_platform.insights_fields import (
    ACTION_TYPES,
    BREAKDOWNS,
    INSIGHT_FIELDS,
    NOT_PER_AD_DAY,
    OPEN_ACTION_TYPE_PREFIXES,
    FieldKind,
)

#: Each scalar kind → the Arrow type of its lake column and the DuckDB type dbt casts to.
ARROW_TYPES: Mapping[FieldKind, pa.DataType] = {
    FieldKind.COUNT: pa.int64(),
    FieldKind.NUMBER: pa.float64(),
    FieldKind.TEXT: pa.string(),
}
DUCKDB_TYPES: Mapping[FieldKind, str] = {
    FieldKind.COUNT: "bigint",
    FieldKind.NUMBER: "double",
    FieldKind.TEXT: "varchar",
}
#: Column prefixes of a passthrough action type's count and value in the marts.
ACTION_COUNT_PREFIX = "actions_"
ACTION_VALUE_PREFIX = "action_values_"

_ACTION_TYPE_RE = re.compile(r"^[a-z0-9][a-z0-9_.]*$")
_COLUMN_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class PassthroughField:
    """One extra insights field: its API name is its column name everywhere."""

    name: str
    kind: FieldKind

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.kind]

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPES[self.kind]


class PassthroughActionType(Protocol):
    """One action type whose count and value become columns of the marts: the settings'
    entries (``settings.PassthroughActionType``) are these, read as they are."""

    @property
    def action_type(self) -> str: ...

    #: Column suffix: ``actions_<name>``, ``action_values_<name>``.
    @property
    def name(self) -> str: ...


def action_columns(item: PassthroughActionType) -> tuple[str, str]:
    """The count and value columns an action type becomes."""
    return ACTION_COUNT_PREFIX + item.name, ACTION_VALUE_PREFIX + item.name


def _closest(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    return f" (closest: {', '.join(close)})" if close else ""


def _field_problem(name: str) -> str | None:
    kind = INSIGHT_FIELDS.get(name)
    if kind is None:
        if name in BREAKDOWNS:
            return (
                f"{name!r} is a breakdown, not a field: ingestion.breakdowns chooses the "
                "breakdowns pulled"
            )
        return (
            f"{name!r} is not a Graph API insights field"
            f"{_closest(name, INSIGHT_FIELDS) or ' (valid names: ads_platform/insights_fields.py)'}"
        )
    if name in PULLED_AS:
        return f"{name!r} is pulled already (column {PULLED_AS[name]} of ad_insights_daily)"
    if name in NOT_PER_AD_DAY:
        return f"{name!r} cannot be a per-ad-day column: {NOT_PER_AD_DAY[name]}"
    if kind is FieldKind.ACTION_LIST:
        return (
            f"{name!r} is a list of action stats (one value per action type), not one value "
            "per ad-day; list the action types you want in insights.passthrough_action_types "
            "(their counts and values come from actions / action_values)"
        )
    if kind is FieldKind.OBJECT_LIST:
        return f"{name!r} is a list of nested objects, not one value per ad-day"
    if name in AD_INSIGHTS.arrow.names:
        return f"{name!r} would clash with the column {name} of ad_insights_daily"
    return None


def field_problems(names: Sequence[str]) -> list[str]:
    """Why each name cannot be a passthrough field (empty: the list is valid)."""
    problems = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            problems.append(f"{name!r} is listed twice")
            continue
        seen.add(name)
        problem = _field_problem(name)
        if problem:
            problems.append(problem)
    return problems


def _action_type_problem(action_type: str) -> str | None:
    if not _ACTION_TYPE_RE.fullmatch(action_type):
        return (
            f"{action_type!r} is not an action type name (lower case letters, digits, _ and ., "
            "e.g. link_click or offsite_conversion.custom.123)"
        )
    if action_type in ACTION_TYPES or action_type.startswith(OPEN_ACTION_TYPE_PREFIXES):
        return None
    return (
        f"{action_type!r} is not an action type Meta documents"
        f"{_closest(action_type, ACTION_TYPES)}; custom ones start with "
        f"{', '.join(OPEN_ACTION_TYPE_PREFIXES)}"
    )


def action_type_problems(items: Sequence[PassthroughActionType]) -> list[str]:
    """Why each action type cannot be passed through (empty: the list is valid)."""
    problems = []
    types: set[str] = set()
    names: dict[str, str] = {}
    for item in items:
        problem = _action_type_problem(item.action_type)
        if problem:
            problems.append(problem)
        elif item.action_type in types:
            problems.append(f"{item.action_type!r} is listed twice")
        elif not _COLUMN_NAME_RE.fullmatch(item.name):
            problems.append(f"name {item.name!r} must be lower_snake_case (a column suffix)")
        elif item.name in names:
            problems.append(
                f"{item.action_type!r} and {names[item.name]!r} would both be columns "
                f"{' / '.join(action_columns(item))}: give one a name"
            )
        types.add(item.action_type)
        names.setdefault(item.name, item.action_type)
    return problems


def passthrough_fields(names: Sequence[str]) -> tuple[PassthroughField, ...]:
    """The declared fields of a valid list (raises ``ValueError`` naming every problem)."""
    problems = field_problems(names)
    if problems:
        raise ValueError("; ".join(problems))
    return tuple(PassthroughField(name, INSIGHT_FIELDS[name]) for name in names)


_SERIES: Mapping[FieldKind, Any] = {
    FieldKind.COUNT: Series[pd.Int64Dtype],
    FieldKind.NUMBER: Series[float],
    FieldKind.TEXT: Series[str],
}


@functools.cache
def ad_insights_dataset(names: tuple[str, ...] = ()) -> Dataset:
    """``ad_insights_daily`` with the passthrough fields as nullable typed columns.

    The columns sit before ``fetched_at`` and the model is the dataset's own with one
    nullable column per field (counts never negative), so every check of the base model
    still runs.  Without fields it is :data:`AD_INSIGHTS` itself.
    """
    if not names:
        return AD_INSIGHTS
    fields = passthrough_fields(names)
    base = AD_INSIGHTS.arrow
    at = base.get_field_index("fetched_at")
    arrow = base
    for offset, field in enumerate(fields):
        arrow = arrow.insert(at + offset, pa.field(field.name, field.arrow_type))
    attrs: dict[str, Any] = {
        "__annotations__": {f.name: _SERIES[f.kind] for f in fields},
        "__module__": __name__,
        **{
            f.name: pandera.Field(nullable=True, ge=0)
            if f.kind is FieldKind.COUNT
            else pandera.Field(nullable=True)
            for f in fields
        },
    }
    model = type(f"{AD_INSIGHTS.model.__name__}Passthrough", (AD_INSIGHTS.model,), attrs)
    return dataclasses.replace(
        AD_INSIGHTS, arrow=arrow, model=model, api_fields=(*AD_INSIGHTS.api_fields, *names)
    )


def passthrough_of(dataset: Dataset) -> tuple[PassthroughField, ...]:
    """The passthrough columns of an ``ad_insights_daily`` declaration (none for the base)."""
    base = set(AD_INSIGHTS.arrow.names)
    return tuple(
        PassthroughField(f.name, INSIGHT_FIELDS[f.name])
        for f in dataset.arrow
        if f.name not in base
    )


def dbt_field_var(names: Sequence[str]) -> list[dict[str, str]]:
    """The dbt var ``passthrough_fields``: each column with the DuckDB type of its kind."""
    return [{"name": f.name, "type": f.duckdb_type} for f in passthrough_fields(names)]


def dbt_action_type_var(items: Sequence[PassthroughActionType]) -> list[dict[str, str]]:
    """The dbt var ``passthrough_action_types``: each action type and its column suffix."""
    return [{"action_type": i.action_type, "name": i.name} for i in items]
