"""The cause vocabulary as dbt macros, generated from :mod:`ads_platform.ingestion.causes`.

The freshness marts name causes in SQL.  Typing the kind → cause mapping and the texts
a second time by hand would drift from the Python side (alerts, CLI), so the SQL is
generated: ``python -m ads_platform.ingestion.cause_sql`` rewrites
``dbt_project/macros/causes.sql``, and a unit test fails as soon as that file differs
from what this module generates from ``causes.py``.

Why macros and not a dbt seed: a macro compiles into the models' SQL, so nothing has
to be loaded before the models and no extra Dagster asset appears; the manifest
staleness check and the full-build fingerprint already watch ``macros/`` (not
``seeds/``), so a changed vocabulary re-parses and rebuilds in full; and a ``case``
expression says what a seed join cannot without more SQL: an unknown or new kind is an
API error (``cause_of``'s rule), never a NULL cause.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ads_platform.ingestion.causes import CAUSE_TEXT, KIND_TO_CAUSE, Cause, cause_of

MACRO_FILE = Path(__file__).resolve().parents[2] / "dbt_project" / "macros" / "causes.sql"

_HEADER = """\
{#
  GENERATED from ads_platform/ingestion/causes.py by
  `python -m ads_platform.ingestion.cause_sql`: do not edit by hand (a unit test
  compares this file with the generator).

  cause_of_kind(kind): the Cause of an attempt's error_kind; unknown kinds and NULL are
  API errors, as causes.cause_of() says.
  cause_reason(cause): "<label> — <action>", the words after "data as of Tue 24 Nov: ".
#}
"""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _case(expression: str, pairs: list[tuple[str, str]], default: str) -> str:
    lines = [f"case {expression}"]
    lines += [f"    when {_literal(key)} then {_literal(value)}" for key, value in pairs]
    lines += [f"    else {default}", "end"]
    return "\n".join(lines)


def render() -> str:
    """The text of ``dbt_project/macros/causes.sql`` for the current vocabulary."""
    kinds = _case(
        "{{ kind }}",
        [(kind, str(cause)) for kind, cause in KIND_TO_CAUSE.items()],
        _literal(str(cause_of(None))),
    )
    reasons = _case(
        "{{ cause }}", [(str(cause), CAUSE_TEXT[cause].reason) for cause in Cause], "null"
    )
    return (
        _HEADER
        + "\n{% macro cause_of_kind(kind) -%}\n"
        + kinds
        + "\n{%- endmacro %}\n\n{% macro cause_reason(cause) -%}\n"
        + reasons
        + "\n{%- endmacro %}\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Write the macro file (``--check``: only say whether it is current)."""
    args = sys.argv[1:] if argv is None else argv
    current = MACRO_FILE.read_text() if MACRO_FILE.exists() else ""
    if current == render():
        print(f"{MACRO_FILE} is current")
        return 0
    if "--check" in args:
        print(f"{MACRO_FILE} is out of date: run python -m ads_platform.ingestion.cause_sql")
        return 1
    MACRO_FILE.write_text(render())
    print(f"wrote {MACRO_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
