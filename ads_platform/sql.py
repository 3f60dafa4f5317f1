"""Run one SQL query against the published marts (``ads-platform sql``).

Read-only by construction: the marts file is attached ``READ_ONLY`` in a fresh
in-memory DuckDB (see :func:`ads_platform.warehouse.open_marts_readonly`), so a query
can neither change the marts nor take DuckDB's write lock away from a rebuild.  Output
is an aligned text table (no extra dependency), CSV or JSON.  Errors become
:class:`SqlError` with one line a person can act on: DuckDB's own message for bad SQL,
what to run when no marts are published yet.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import duckdb

from ads_platform.warehouse import MartsNotFoundError, WarehouseError, open_marts_readonly

OutputFormat = Literal["table", "csv", "json"]
FORMATS: tuple[OutputFormat, ...] = ("table", "csv", "json")

#: Longest cell shown in table output; CSV and JSON are never truncated.
MAX_CELL_WIDTH = 60


class SqlError(RuntimeError):
    """A query could not run; the message is one line meant for the user."""


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _cell_text(value: Any) -> str:
    """Display text of one value: NULL shown as empty, exact decimals, ISO dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.6g}" if abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple | dict):
        return json.dumps(_json_value(value), ensure_ascii=False)
    return str(value)


def _json_value(value: Any) -> Any:
    """JSON-safe value: decimals as strings (exact money), dates ISO, NaN/inf as null."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return str(value)


def _is_numeric(value: Any) -> bool:
    return isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool)


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Aligned text table: numbers right-aligned, text left-aligned, a row count."""
    texts = [[_cell_text(v) for v in row] for row in rows]
    clipped = [
        [t if len(t) <= MAX_CELL_WIDTH else t[: MAX_CELL_WIDTH - 1] + "…" for t in row]
        for row in texts
    ]
    widths = [len(c) for c in columns]
    for row in clipped:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], len(text))
    numeric = [
        any(_is_numeric(row[i]) for row in rows)
        and all(row[i] is None or _is_numeric(row[i]) for row in rows)
        for i in range(len(columns))
    ]

    def line(cells: Sequence[str], header: bool = False) -> str:
        parts = []
        for i, text in enumerate(cells):
            right = numeric[i] and not header
            parts.append(text.rjust(widths[i]) if right else text.ljust(widths[i]))
        return " | ".join(parts).rstrip()

    out = [line(columns, header=True), "-+-".join("-" * w for w in widths)]
    out.extend(line(row) for row in clipped)
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def format_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else _cell_text(v) for v in row])
    return buffer.getvalue()


def format_json(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A JSON array of objects, one per row (decimals as strings, so money stays exact)."""
    records = [{c: _json_value(v) for c, v in zip(columns, row, strict=True)} for row in rows]
    return json.dumps(records, ensure_ascii=False, indent=2)


def run_query(marts_path: Path, sql: str, fmt: OutputFormat = "table") -> str:
    """Run ``sql`` read-only against the published marts and format the result."""
    if fmt not in FORMATS:
        raise SqlError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if not sql.strip():
        raise SqlError("no SQL given")
    try:
        con = open_marts_readonly(Path(marts_path))
    except MartsNotFoundError as exc:
        raise SqlError(str(exc)) from None
    except WarehouseError as exc:
        raise SqlError(str(exc)) from None
    try:
        cursor = con.execute(sql)
        if cursor.description is None:
            return "" if fmt != "json" else "[]"
        columns = [str(d[0]) for d in cursor.description]
        rows = cursor.fetchall()
    except duckdb.Error as exc:
        raise SqlError(_one_line(exc)) from None
    finally:
        con.close()
    if fmt == "csv":
        return format_csv(columns, rows)
    if fmt == "json":
        return format_json(columns, rows)
    return format_table(columns, rows)
