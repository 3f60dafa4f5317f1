"""Row counts and column schemas of the built marts, for the Dagster catalog.

Why not dagster-dbt's fetchers (``fetch_row_counts().fetch_column_metadata()``): they
start a dbt adapter inside the run worker and open a connection per model through it.
A py-spy profile of a sandbox ingest and two marts builds put that at about 12 % of the
whole test (2.4 s to start the adapter, 10 s of per-model queries), all of it while the
run still held the ``duckdb_writer`` slot (issue 10: "never hold the writer pool for
metadata").  DuckDB's own catalog answers the same in one read-only connection, once
dbt has exited: the column names and types of every relation, and the row count of
every table (views are not counted: that would run their query, as dagster-dbt also
avoids).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

#: (schema, relation) in lower case: how a model's node in the manifest names its relation.
RelationKey = tuple[str, str]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_relation_metadata(build_db: Path) -> dict[RelationKey, dict[str, Any]]:
    """``dagster/column_schema`` for every relation, ``dagster/row_count`` for tables."""
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        columns: dict[RelationKey, list[dg.TableColumn]] = {}
        for schema, relation, column, data_type in con.execute(
            """select table_schema, table_name, column_name, data_type
               from information_schema.columns
               where table_catalog = current_database()
               order by table_schema, table_name, ordinal_position"""
        ).fetchall():
            key = (str(schema).lower(), str(relation).lower())
            columns.setdefault(key, []).append(dg.TableColumn(str(column), str(data_type)))
        tables = con.execute(
            """select schema_name, table_name from duckdb_tables()
               where database_name = current_database() and not temporary"""
        ).fetchall()
        counts: dict[RelationKey, int] = {}
        if tables:
            # One statement for every table: DuckDB counts a table from its row groups.
            union = " union all ".join(
                f"select {i} as i, count(*) as n from {_quoted(s)}.{_quoted(t)}"
                for i, (s, t) in enumerate(tables)
            )
            for i, n in con.execute(union).fetchall():
                schema, relation = tables[int(i)]
                counts[(str(schema).lower(), str(relation).lower())] = int(n)
    finally:
        con.close()
    # The keys dagster-dbt's fetchers wrote (TableMetadataSet's), so the catalog shows them.
    metadata: dict[RelationKey, dict[str, Any]] = {}
    for key, cols in columns.items():
        entry: dict[str, Any] = {
            "dagster/column_schema": dg.MetadataValue.table_schema(dg.TableSchema(columns=cols))
        }
        if key in counts:
            entry["dagster/row_count"] = dg.MetadataValue.int(counts[key])
        metadata[key] = entry
    return metadata


def relation_of(event: Any, manifest: Mapping[str, Any]) -> RelationKey | None:
    """The relation a dbt model's event describes, from its ``unique_id`` metadata."""
    metadata = getattr(event, "metadata", None) or {}
    unique_id = metadata.get("unique_id")
    unique_id = getattr(unique_id, "value", unique_id)
    node = manifest.get("nodes", {}).get(unique_id) if unique_id else None
    if not node:
        return None
    return (str(node["schema"]).lower(), str(node.get("alias") or node["name"]).lower())
