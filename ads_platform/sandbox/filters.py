"""Parsing of Graph's request parameters: one function per parameter *type*.

Lists (``fields``, ``breakdowns``, ``action_breakdowns``,
``action_attribution_windows``, ``effective_status``...), JSON objects
(``time_range``), arrays of objects (``time_ranges``, ``filtering``), enums and
booleans are each parsed by one function here, and every route (synchronous
insights, async report creation, batch items, entity edges, query string or form
body) goes through the same ones, so an encoding is either understood everywhere
or refused everywhere.

Forgiving about the *encoding* Meta accepts (comma list or JSON array; JSON with
single quotes, as in Meta's own examples) and strict about the *meaning* (an
unknown name or malformed JSON is a code-100 error naming the parameter, never a
silently different answer).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from .wire import invalid_param

OPERATORS = frozenset(
    {
        "EQUAL",
        "NOT_EQUAL",
        "GREATER_THAN",
        "GREATER_THAN_OR_EQUAL",
        "LESS_THAN",
        "LESS_THAN_OR_EQUAL",
        "IN",
        "NOT_IN",
        "IN_RANGE",
        "NOT_IN_RANGE",
        "CONTAIN",
        "NOT_CONTAIN",
    }
)


@dataclass(frozen=True, slots=True)
class Filter:
    """One ``{field, operator, value}`` clause; ``field`` keeps its prefix (``ad.``)."""

    field: str
    operator: str
    value: Any

    @property
    def prefix(self) -> str | None:
        return self.field.split(".", 1)[0] if "." in self.field else None

    @property
    def name(self) -> str:
        return self.field.rsplit(".", 1)[-1]


def parse_json_param(raw: str, name: str) -> Any:
    """JSON, or JSON written with single quotes (Meta's own examples, and ``str(dict)``).

    Malformed JSON is refused with code 100 naming the parameter, as Graph does; it is
    never read as something else (a silently ignored ``time_range`` answers with the
    default 30 days, which a client cannot tell from the range it asked for).
    """
    try:
        return json.loads(raw)
    except ValueError:
        try:
            return json.loads(raw.replace("'", '"'))
        except ValueError as exc:
            shown = raw if len(raw) <= 60 else raw[:57] + "..."
            raise invalid_param(f"Param {name} must be valid JSON, got {shown!r}") from exc


def _split_top_level(text: str) -> list[str]:
    """``a,b{c,d},e`` -> ``["a", "b{c,d}", "e"]``: commas inside braces/parens stay."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch in "{(":
            depth += 1
        elif ch in "})":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def parse_string_list(
    raw: str | None, name: str, allowed: frozenset[str] | None = None
) -> list[str] | None:
    """A list parameter in either encoding Meta accepts; ``None`` when absent.

    ``a,b,c`` (what the SDK sends for ``fields=`` and most hand-written URLs) and
    ``["a","b","c"]`` (what the SDK sends for every list in ``params``, so Airbyte
    and tap-facebook) mean the same list. An empty JSON array is an empty list. With
    ``allowed``, an element outside it is refused with Graph's enum error.
    """
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    if text.startswith("["):
        value = parse_json_param(text, name)
        if not isinstance(value, list) or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in value
        ):
            raise invalid_param(f"Param {name} must be an array of strings")
        items = [str(v).strip() for v in value]
    else:
        items = _split_top_level(text)
    if allowed is not None:
        for i, item in enumerate(items):
            if item not in allowed:
                raise invalid_param(
                    f"param {name}[{i}] must be one of {{{', '.join(sorted(allowed))}}}"
                )
    return items


def parse_enum(raw: str | None, name: str, allowed: frozenset[str]) -> str | None:
    """A single enum parameter (``level``, ``date_preset``...); ``None`` when absent."""
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':  # a JSON-encoded string
        value = value[1:-1]
    if value not in allowed:
        raise invalid_param(f"param {name} must be one of {{{', '.join(sorted(allowed))}}}")
    return value


def parse_bool(raw: str | None, name: str) -> bool | None:
    """``true``/``false`` (the SDK's JSON encoding) or ``1``/``0``; ``None`` when absent."""
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise invalid_param(f"param {name} must be a boolean (true or false)")


def parse_fields(raw: str | None) -> list[str] | None:
    """``id,name,creative{id,name}`` or ``["id","name"]`` -> ``["id", "name", ...]``.

    Nested selections and modifiers (``creative{id}``, ``ads.limit(5)``) are reduced
    to the field they select on.
    """
    items = parse_string_list(raw, "fields")
    if items is None:
        return None
    return [item.split("{", 1)[0].split(".", 1)[0].strip() for item in items]


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_date(value: Any, name: str) -> dt.date:
    """A ``YYYY-MM-DD`` date (Graph takes no timestamps in insights ranges)."""
    text = str(value).strip()
    try:
        if not _DATE_RE.match(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise invalid_param(f"{name} must be a date in YYYY-MM-DD format, got {text!r}") from exc


def date_range(value: Any, name: str) -> tuple[dt.date, dt.date]:
    """One ``{"since", "until"}`` object (already decoded) -> (since, until)."""
    if not isinstance(value, dict) or "since" not in value or "until" not in value:
        raise invalid_param(
            f"{name} must be an object with since and until, e.g. "
            '{"since":"2026-01-01","until":"2026-01-31"}'
        )
    since = parse_date(value["since"], f"{name}.since")
    until = parse_date(value["until"], f"{name}.until")
    if since > until:
        raise invalid_param(
            f"since must be on or before until in {name} (got {since} after {until})"
        )
    return since, until


def parse_time_range(raw: str | None) -> tuple[dt.date, dt.date] | None:
    """``time_range={"since":..,"until":..}``; ``None`` when absent."""
    if raw is None or raw.strip() == "":
        return None
    return date_range(parse_json_param(raw.strip(), "time_range"), "time_range")


def parse_time_ranges(raw: str | None) -> list[tuple[dt.date, dt.date]] | None:
    """``time_ranges=[{"since":..,"until":..}, ...]`` (at least one); ``None`` when absent."""
    if raw is None or raw.strip() == "":
        return None
    value = parse_json_param(raw.strip(), "time_ranges")
    if not isinstance(value, list) or not value:
        raise invalid_param('time_ranges must be a non-empty array of {"since","until"} objects')
    return [date_range(item, f"time_ranges[{i}]") for i, item in enumerate(value)]


def parse_filtering(raw: str | None) -> list[Filter]:
    if raw is None or raw.strip() == "":
        return []
    value = parse_json_param(raw, "filtering")
    if not isinstance(value, list):
        raise invalid_param("Param filtering must be an array")
    out: list[Filter] = []
    for clause in value:
        if not isinstance(clause, dict) or "field" not in clause or "operator" not in clause:
            raise invalid_param("Each filtering clause needs field, operator and value")
        operator = str(clause["operator"]).upper()
        if operator not in OPERATORS:
            raise invalid_param(f"Filtering operator {operator} is not supported")
        out.append(Filter(str(clause["field"]), operator, clause.get("value")))
    return out


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def matches(actual: Any, operator: str, target: Any) -> bool:
    """Evaluate one clause; numbers compare numerically, everything else as text."""
    if operator in ("IN", "NOT_IN"):
        items = target if isinstance(target, list) else [target]
        found = str(actual) in {str(t) for t in items}
        return found if operator == "IN" else not found
    if operator in ("IN_RANGE", "NOT_IN_RANGE"):
        if not isinstance(target, list) or len(target) != 2:
            raise invalid_param(f"{operator} needs a [low, high] value")
        a, lo, hi = _number(actual), _number(target[0]), _number(target[1])
        if a is None or lo is None or hi is None:
            raise invalid_param(f"{operator} needs numeric values")
        inside = lo <= a <= hi
        return inside if operator == "IN_RANGE" else not inside
    if operator in ("CONTAIN", "NOT_CONTAIN"):
        found = str(target).lower() in str(actual).lower()
        return found if operator == "CONTAIN" else not found
    a_num, t_num = _number(actual), _number(target)
    if operator in ("EQUAL", "NOT_EQUAL"):
        same = (
            a_num == t_num
            if a_num is not None and t_num is not None
            else str(actual) == str(target)
        )
        return same if operator == "EQUAL" else not same
    if a_num is None or t_num is None:
        raise invalid_param(f"{operator} needs a numeric value")
    if operator == "GREATER_THAN":
        return a_num > t_num
    if operator == "GREATER_THAN_OR_EQUAL":
        return a_num >= t_num
    if operator == "LESS_THAN":
        return a_num < t_num
    return a_num <= t_num
