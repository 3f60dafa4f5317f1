"""Run one SQL query against the published marts (``ads-platform sql``).

Read-only by construction, behind two walls:

1. The statement check (:func:`check_query`): DuckDB's own parser splits the input;
   exactly one statement is admitted, and only a query - a statement DuckDB parses as
   ``SELECT``: ``SELECT``, ``WITH … SELECT``, ``FROM …``, ``VALUES``, ``TABLE``,
   ``PIVOT … IN (…)``, and ``DESCRIBE``/``SHOW``/``SUMMARIZE``, which DuckDB rewrites into
   queries over the catalog and which is how an analyst finds the columns of a mart.
   Everything else is refused before it runs, including ``EXPLAIN`` (``EXPLAIN ANALYZE``
   executes the statement it wraps, and the parser does not show that statement to
   check; run the query itself instead) and a ``PIVOT`` without ``IN (…)`` (DuckDB runs
   it as several statements).  Comments cannot smuggle a second statement past this:
   the parser, not a regex, decides where statements end.
2. The connection (:func:`ads_platform.warehouse.open_marts_readonly`): the marts file
   attached ``READ_ONLY`` as the only database, external access off and the
   configuration locked, so even inside a query ``read_csv``, ``read_text``, ``glob``,
   ``read_parquet('/etc/…')``, URLs and extension loading fail, and nothing can take
   DuckDB's write lock away from a rebuild.

Output is an aligned text table (no extra dependency), CSV or JSON.  Errors become
:class:`SqlError` with one line a person can act on: what was refused and what is
allowed, DuckDB's own message for bad SQL, what to run when no marts are published yet.
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

from ads_platform.warehouse import WarehouseError, open_marts_readonly

OutputFormat = Literal["table", "csv", "json"]
FORMATS: tuple[OutputFormat, ...] = ("table", "csv", "json")

#: Longest cell shown in table output; CSV and JSON are never truncated.
MAX_CELL_WIDTH = 60


#: What the statement check admits, for the refusal message.
ALLOWED = "SELECT, WITH … SELECT, FROM, VALUES, TABLE, DESCRIBE, SHOW, SUMMARIZE"
_READ_ONLY = f"`ads-platform sql` is read-only: one query ({ALLOWED}) per call"
_SECOND_WALL = (
    "`ads-platform sql` reads the marts only: files, URLs, extensions and settings are off"
)


class SqlError(RuntimeError):
    """A query could not run; the message is one line meant for the user."""


def _statement_type(statement: duckdb.Statement) -> duckdb.StatementType | None:
    """DuckDB's type of the statement; None for a type this client has no name for
    (``UPDATE EXTENSIONS``), which is not a query either."""
    try:
        return statement.type
    except ValueError:
        return None


def _statement_name(statement: duckdb.Statement) -> str:
    """What the user wrote first (``INSTALL``, ``TRUNCATE``), else DuckDB's statement type."""
    words = statement.query.split()
    first = words[0].upper().lstrip("(") if words else ""
    kind = _statement_type(statement)
    if (first.isalpha() and first != "WITH") or kind is None:
        return first or "the statement"
    return kind.name.replace("_", " ")


def check_query(con: duckdb.DuckDBPyConnection, sql: str) -> duckdb.Statement:
    """The one read-only query in ``sql``, parsed; :class:`SqlError` for anything else.

    Parses with ``con`` (DuckDB's own parser, the one that will run the statement);
    the caller executes the returned statement, so what runs is what was checked.
    """
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlError(_one_line(exc)) from None
    if not statements:
        raise SqlError("no SQL given")
    if len(statements) > 1:
        raise SqlError(f"refused: {len(statements)} statements given; {_READ_ONLY}")
    statement = statements[0]
    kind = _statement_type(statement)
    if kind == duckdb.StatementType.SELECT:
        return statement
    what = _statement_name(statement)
    if kind == duckdb.StatementType.MULTI:
        raise SqlError(
            f"refused: this {what} runs several statements; list the values: "
            f"PIVOT … ON column IN (…); {_READ_ONLY}"
        )
    raise SqlError(f"refused: {what} is not a query; {_READ_ONLY}")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _first_line(exc: BaseException) -> str:
    """DuckDB's message without the ``LINE 1: … ^^^`` pointer under it."""
    lines = str(exc).strip().splitlines()
    return " ".join(lines[0].split()) if lines else type(exc).__name__


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
        return to_json(value)
    return str(value)


def _json_value(value: Any) -> Any:
    """JSON-safe value (decimals stay Decimal: :func:`to_json` writes their digits),
    dates ISO, NaN/inf as null."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, decimal.Decimal):
        return value if value.is_finite() else None
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


def to_json(value: Any, indent: int | None = None, _level: int = 0) -> str:
    """JSON text of a query value, with decimals as JSON *numbers* with their exact digits.

    Why not ``json.dumps``: it can write a decimal only as a string (then every consumer
    must know which strings are money) or through ``float`` (then 50640.10 may come back
    as 50640.099999…, and a DECIMAL(38, 10) loses digits).  A JSON number has no
    precision limit, so the decimal's own text is written as the number; readers that
    care parse it exactly (``json.loads(text, parse_float=Decimal)``, jq 1.7+).
    """
    value = _json_value(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if not isinstance(value, dict | list) or not value:
        return json.dumps(value, ensure_ascii=False)
    inner = "" if indent is None else "\n" + " " * (indent * (_level + 1))
    outer = "" if indent is None else "\n" + " " * (indent * _level)
    separator = ", " if indent is None else ","
    if isinstance(value, dict):
        items = [
            json.dumps(str(k), ensure_ascii=False) + ": " + to_json(v, indent, _level + 1)
            for k, v in value.items()
        ]
        return "{" + inner + (separator + inner).join(items) + outer + "}"
    items = [to_json(v, indent, _level + 1) for v in value]
    return "[" + inner + (separator + inner).join(items) + outer + "]"


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
    """A JSON array of objects, one per row (decimals as numbers with their exact digits)."""
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    return to_json(records, indent=2)


def run_query(marts_path: Path, sql: str, fmt: OutputFormat = "table") -> str:
    """Run one read-only query against the published marts and format the result."""
    if fmt not in FORMATS:
        raise SqlError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if not sql.strip():
        raise SqlError("no SQL given")
    try:
        con = open_marts_readonly(Path(marts_path))
    except WarehouseError as exc:
        raise SqlError(str(exc)) from None
    try:
        cursor = con.execute(check_query(con, sql))
        if cursor.description is None:
            return "" if fmt != "json" else "[]"
        columns = [str(d[0]) for d in cursor.description]
        rows = cursor.fetchall()
    except duckdb.PermissionException as exc:
        raise SqlError(f"refused: {_SECOND_WALL} ({_first_line(exc)})") from None
    except duckdb.Error as exc:
        if "configuration has been locked" in str(exc):
            raise SqlError(f"refused: {_SECOND_WALL} ({_first_line(exc)})") from None
        raise SqlError(_one_line(exc)) from None
    finally:
        con.close()
    if fmt == "csv":
        return format_csv(columns, rows)
    if fmt == "json":
        return format_json(columns, rows)
    return format_table(columns, rows)
