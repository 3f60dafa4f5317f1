"""What a lake dataset is: one frozen declaration that every layer reads.

Why one declaration: a dataset's columns used to be typed in up to seven places (Arrow
schema, Pandera model, API field list, lake macro, dbt source, …) and nothing tied them
together.  Here each dataset states once its name, grain, partitioning, API fields,
Arrow schema, Pandera model and lake layout; the client's field lists, the writers'
validation, the lake paths and the dbt ``lake_columns()`` / ``sources.yml`` are derived
from it (see :mod:`ads_platform.datasets.dbt_sql` for the generated dbt files).

Nothing in this package imports the rest of the platform except the validation helpers
of :mod:`ads_platform.schemas`: it is the bottom layer, readable from anywhere.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa

from ads_platform import schemas

MONEY = pa.decimal128(18, 2)
TIMESTAMP = pa.timestamp("us", tz="UTC")
#: One element of an insight's flattened action lists (see ``frames.flatten_actions``).
ACTION_LIST = schemas.ACTION_LIST_TYPE
DATA_FILE = "data.parquet"


class Partitioning(enum.StrEnum):
    """Which Dagster partitions write the dataset (and so how its files are laid out)."""

    DAY_ACCOUNT = "day×account"
    ACCOUNT = "account"
    NONE = "none"


class Layout(enum.StrEnum):
    """How a write lands: one file replaced whole, or a new file per write."""

    REPLACE = "replace"  # one data.parquet per partition, replaced atomically
    APPEND = "append"  # append-only: a uniquely named file per write, under account_id=


@dataclass(frozen=True)
class Dataset:
    """One lake dataset, declared once."""

    name: str
    description: str
    #: Key columns: one row per distinct combination.
    grain: tuple[str, ...]
    partitioning: Partitioning
    arrow: pa.Schema
    model: type[schemas.Model]
    layout: Layout = Layout.REPLACE
    #: Graph API fields requested for it (empty for datasets the platform derives).
    api_fields: tuple[str, ...] = ()
    #: The column dbt's source freshness reads.
    loaded_at: str = "fetched_at"
    #: Whether dbt warns when the source goes stale (absent datasets may stay absent).
    freshness: bool = True
    #: The Dagster asset that writes it (the dbt source maps to it for lineage).
    asset: str | None = None

    def __post_init__(self) -> None:
        missing = [c for c in (*self.grain, self.loaded_at) if c not in self.arrow.names]
        if missing:
            raise ValueError(f"{self.name}: grain/loaded_at columns not in the schema: {missing}")

    @property
    def path_pattern(self) -> str:
        """Where its files live below the lake root (``{account}``, ``{day}`` filled in)."""
        parts = [self.name]
        if self.partitioning is not Partitioning.NONE:
            parts.append("account_id={account}")
        if self.partitioning is Partitioning.DAY_ACCOUNT:
            parts.append("date={day}")
        parts.append(
            "<timestamp>-<tag>-<id>.parquet" if self.layout is Layout.APPEND else DATA_FILE
        )
        return "/".join(parts)

    @property
    def single_file(self) -> bool:
        return self.partitioning is Partitioning.NONE and self.layout is Layout.REPLACE

    def validate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame through the dataset's Pandera model (raises ``ValidationFailed``)."""
        return schemas.validate(self.model, frame, self.name)

    def frame(self, records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        """Records → a frame with the dtypes the model expects (see :func:`typed_frame`)."""
        return typed_frame(records, self.arrow)

    def frame_from_columns(self, columns: Mapping[str, Sequence[Any] | pa.Array]) -> pd.DataFrame:
        """Column lists (or Arrow arrays) → the same frame :meth:`frame` builds from records."""
        return typed_columns(columns, self.arrow)

    def to_arrow(self, frame: pd.DataFrame) -> pa.Table:
        return to_arrow(frame, self.arrow)

    def table(self, records: Sequence[Mapping[str, Any]]) -> pa.Table:
        """Records validated by the model, as the Arrow table to write."""
        self.validate(self.frame(records))
        return pa.Table.from_pylist([dict(r) for r in records], schema=self.arrow)

    def empty_row(self) -> dict[str, Any]:
        return dict.fromkeys(self.arrow.names)


# -- Arrow ↔ pandas, by schema ------------------------------------------------------------


def typed_frame(records: Sequence[Mapping[str, Any]], schema: pa.Schema) -> pd.DataFrame:
    """A frame with the dtypes the Pandera models expect, empty or not.

    Counts are nullable ``Int64`` (a missing reach stays <NA>), money is ``float64``
    for validation (the exact Decimal is kept in ``_exact`` columns for the write).
    """
    return typed_columns({f.name: [r.get(f.name) for r in records] for f in schema}, schema)


def typed_columns(
    columns: Mapping[str, Sequence[Any] | pa.Array], schema: pa.Schema
) -> pd.DataFrame:
    """:func:`typed_frame` from columns; an Arrow array stays Arrow (``pd.ArrowDtype``)."""
    out: dict[str, Any] = {}
    for field in schema:
        values = columns[field.name]
        if isinstance(values, pa.Array):
            out[field.name] = pd.Series(pd.arrays.ArrowExtensionArray(values))
        elif pa.types.is_integer(field.type):
            out[field.name] = pd.array(values, dtype="Int64")
        elif pa.types.is_decimal(field.type):
            out[field.name] = pd.Series(
                [None if v is None else float(v) for v in values], dtype="float64"
            )
            out[f"{field.name}__exact"] = pd.Series(values, dtype="object")
        elif pa.types.is_date(field.type):
            out[field.name] = pd.Series(values, dtype="object")
        elif pa.types.is_timestamp(field.type):
            out[field.name] = pd.to_datetime(pd.Series(values, dtype="object"), utc=True)
        elif pa.types.is_boolean(field.type):
            out[field.name] = pd.array(values, dtype="boolean")
        elif pa.types.is_floating(field.type):
            out[field.name] = pd.Series(values, dtype="float64")
        else:
            out[field.name] = pd.Series(values, dtype="object")
    return pd.DataFrame(out)


def to_arrow(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """The validated frame → an Arrow table with exact money and the declared types.

    Columns are handed to Arrow whole (a day of ads is thousands of values); only a
    column Arrow refuses that way (money with more than two decimals, a count held in
    an untyped column) takes the value-by-value path, which quantizes money to the cent.
    """
    arrays = []
    for field in schema:
        if pa.types.is_decimal(field.type):
            arrays.append(_money_array(frame, field))
        elif pa.types.is_integer(field.type) or pa.types.is_boolean(field.type):
            column = frame[field.name]
            try:
                arrays.append(pa.array(column, type=field.type, from_pandas=True))
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
                values = [None if pd.isna(v) else v for v in column]
                arrays.append(pa.array(values, type=field.type))
        else:
            arrays.append(pa.array(frame[field.name], type=field.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=schema)


_CENT = Decimal("0.01")


def _money_array(frame: pd.DataFrame, field: pa.Field) -> pa.Array:
    """Exact money: the ``__exact`` Decimals as they are when Arrow takes them, else to the cent."""
    exact_col = f"{field.name}__exact"
    if exact_col in frame.columns:
        exact = frame[exact_col]
        try:
            # from_pandas=False: a Decimal NaN must fail here as it did before, not be null.
            return pa.array(exact.to_list(), type=field.type, from_pandas=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            values = [None if v is None else Decimal(v).quantize(_CENT) for v in exact]
    else:
        values = [
            None if pd.isna(v) else Decimal(str(v)).quantize(_CENT) for v in frame[field.name]
        ]
    return pa.array(values, type=field.type)


# -- DuckDB types, for the generated dbt macro ---------------------------------------------


def duckdb_type(data_type: pa.DataType) -> str:
    """The DuckDB type the lake views cast a column to."""
    if pa.types.is_string(data_type):
        return "varchar"
    if pa.types.is_int64(data_type):
        return "bigint"
    if pa.types.is_boolean(data_type):
        return "boolean"
    if pa.types.is_float64(data_type):
        return "double"
    if pa.types.is_date32(data_type):
        return "date"
    if pa.types.is_timestamp(data_type) and data_type.tz is not None:
        return "timestamptz"
    if pa.types.is_decimal(data_type):
        return f"decimal({data_type.precision},{data_type.scale})"
    if pa.types.is_list(data_type) and pa.types.is_struct(data_type.value_type):
        inner = ", ".join(
            f"{_duckdb_name(f.name)} {duckdb_type(f.type)}" for f in data_type.value_type
        )
        return f"struct({inner})[]"
    raise TypeError(f"no DuckDB type declared for Arrow {data_type}")


#: Struct field names DuckDB reserves (quoted in the type string).
_RESERVED = frozenset({"window"})


def _duckdb_name(name: str) -> str:
    return f'"{name}"' if name in _RESERVED else name
