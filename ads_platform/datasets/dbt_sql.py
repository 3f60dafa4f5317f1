"""The dbt side of the registry: ``lake_columns()`` and the ``lake`` source, generated.

The lake views cast every column to a declared type and the sources name every
dataset; typed by hand they drifted from the Arrow schemas with nothing to notice.
``python -m ads_platform.datasets.dbt_sql`` rewrites both files from
:data:`ads_platform.datasets.DATASETS`, and a unit test fails as soon as a committed
file differs from what this module renders (``--check`` says the same from a shell).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from ads_platform.datasets import DATASETS
from ads_platform.datasets.base import Dataset, duckdb_type

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
MACRO_FILE = DBT_PROJECT_DIR / "macros" / "lake_columns.sql"
SOURCES_FILE = DBT_PROJECT_DIR / "models" / "sources.yml"
MODULE = "ads_platform.datasets.dbt_sql"

_MACRO_HEADER = f"""\
{{#
  GENERATED from the dataset registry (ads_platform/datasets/) by
  `python -m {MODULE}`: do not edit by hand (a unit test compares this file with the
  generator).

  lake_columns(): every lake dataset → its (column, DuckDB type) pairs, in the order of
  its Arrow schema.  The lake views (macros/lake.sql) cast every file to these types.
#}}
"""

_SOURCES_HEADER = f"""\
# GENERATED from the dataset registry (ads_platform/datasets/) by
# `python -m {MODULE}`: do not edit by hand (a unit test compares this file with the
# generator).
#
# The validated Parquet lake, read through the `lake.<dataset>` views that the
# on-run-start hook create_lake_views() creates (an absent dataset is an empty typed
# relation).  `meta.dagster.asset_key` ties each table to the Dagster asset that
# writes it, so marts rebuild after ingestion and the lineage shows in the UI.
"""

#: The one table of the source that is not a dataset.
_LAKE_FILES_DESCRIPTION = (
    "Not a dataset: the listing of the lake (dataset, file, last_modified; no file opened) "
    "that create_lake_views() takes at the start of every invocation. The file-wise "
    "incremental models plan from it and the matches_lake_listing tests check their lineage "
    "against it (macros/lake.sql, macros/incremental.sql)."
)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "\\'") + "'"


def render_macro(datasets: Iterable[Dataset] | None = None) -> str:
    """The text of ``macros/lake_columns.sql``."""
    entries = []
    for ds in DATASETS.values() if datasets is None else datasets:
        columns = ",\n      ".join(
            f"({_sql_literal(f.name)}, {_sql_literal(duckdb_type(f.type))})" for f in ds.arrow
        )
        entries.append(f"    {_sql_literal(ds.name)}: [\n      {columns}]")
    body = ",\n".join(entries)
    return (
        _MACRO_HEADER
        + "\n{% macro lake_columns() %}\n  {{ return({\n"
        + body
        + "\n  }) }}\n{% endmacro %}\n"
    )


def _table(ds: Dataset) -> str:
    lines = [
        f"      - name: {ds.name}",
        f"        description: {_quoted(ds.description)}",
        f"        loaded_at_field: {ds.loaded_at}",
    ]
    if not ds.freshness:
        lines.append("        freshness: null")
    if ds.asset is not None:
        lines.append(f'        meta: {{dagster: {{asset_key: ["{ds.asset}"]}}}}')
    lines.append("        columns:")
    for field in ds.arrow:
        lines.append(f"          - name: {field.name}")
        lines.append(f"            data_type: {_quoted(duckdb_type(field.type))}")
    return "\n".join(lines) + "\n"


def render_sources(datasets: Iterable[Dataset] | None = None) -> str:
    """The text of ``models/sources.yml``: one table per dataset, plus the lake listing."""
    tables = "".join(_table(ds) for ds in (DATASETS.values() if datasets is None else datasets))
    return (
        _SOURCES_HEADER
        + "version: 2\n\nsources:\n  - name: lake\n    schema: lake\n"
        + '    description: "Validated Parquet lake under $ADS_PLATFORM_HOME/lake, one file per '
        'partition, replaced atomically."\n'
        + "    freshness:\n"
        + "      warn_after: {count: 36, period: hour}\n"
        + "      error_after: {count: 72, period: hour}\n"
        + "    tables:\n"
        + tables
        + "      - name: lake_files\n"
        + f"        description: {_quoted(_LAKE_FILES_DESCRIPTION)}\n"
        + "        freshness: null\n"
    )


def rendered() -> dict[Path, str]:
    return {MACRO_FILE: render_macro(), SOURCES_FILE: render_sources()}


def main(argv: list[str] | None = None) -> int:
    """Write the generated dbt files (``--check``: only say whether they are current)."""
    args = sys.argv[1:] if argv is None else argv
    stale = [p for p, text in rendered().items() if not p.exists() or p.read_text() != text]
    if not stale:
        print("the generated dbt files are current")
        return 0
    if "--check" in args:
        for path in stale:
            print(f"{path} is out of date: run python -m {MODULE}")
        return 1
    for path in stale:
        path.write_text(rendered()[path])
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
