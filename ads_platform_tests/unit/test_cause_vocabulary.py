"""The SQL side names causes with the words of causes.py, generated, never re-typed."""

from __future__ import annotations

import duckdb
import jinja2
import pytest

from ads_platform.ingestion import cause_sql
from ads_platform.ingestion.causes import CAUSE_TEXT, KIND_TO_CAUSE, Cause, cause_of


def test_the_dbt_cause_macros_are_what_causes_py_generates() -> None:
    assert cause_sql.MACRO_FILE.read_text() == cause_sql.render(), (
        "dbt_project/macros/causes.sql is out of date: run "
        "python -m ads_platform.ingestion.cause_sql"
    )


def _macro_sql(call: str) -> str:
    """Render a macro of the generated file the way dbt's Jinja does."""
    env = jinja2.Environment(autoescape=False)
    return env.from_string(cause_sql.render() + "{{ " + call + " }}").render().strip()


def _one(sql: str, value: str | None) -> object:
    con = duckdb.connect()
    try:
        row = con.execute(f"select {sql} from (select ?::varchar as x)", [value]).fetchone()
    finally:
        con.close()
    assert row is not None
    return row[0]


@pytest.mark.parametrize("kind", [*KIND_TO_CAUSE, "a_kind_nobody_knows_yet", None], ids=str)
def test_the_sql_mapping_of_a_kind_is_the_python_one(kind: str | None) -> None:
    assert _one(_macro_sql("cause_of_kind('x')"), kind) == str(cause_of(kind))


def test_the_sql_reason_of_every_cause_is_its_label_and_action() -> None:
    sql = _macro_sql("cause_reason('x')")
    for cause in Cause:
        assert _one(sql, str(cause)) == f"{CAUSE_TEXT[cause].label} — {CAUSE_TEXT[cause].action}"
    assert CAUSE_TEXT[Cause.TOKEN].reason == "token expired — re-authorize"
