"""Parsing of Graph's list-valued parameters (``filtering``, ``effective_status``, ``fields``).

Clients send these as JSON text (the SDK), sometimes with Python-style quotes, or
as plain comma lists; being forgiving about the *encoding* while strict about the
*meaning* (unknown filter fields are an error, as on Graph) catches client bugs
without making tests brittle.
"""

from __future__ import annotations

import json
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
    """JSON, or JSON written with single quotes (what ``str(dict)`` produces)."""
    try:
        return json.loads(raw)
    except ValueError:
        try:
            return json.loads(raw.replace("'", '"'))
        except ValueError as exc:
            raise invalid_param(f"Param {name} must be a valid JSON value") from exc


def parse_string_list(raw: str | None, name: str) -> list[str] | None:
    """A JSON list or a comma-separated list of strings; ``None`` when absent."""
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    if text.startswith("["):
        value = parse_json_param(text, name)
        if not isinstance(value, list):
            raise invalid_param(f"Param {name} must be an array")
        return [str(v) for v in value]
    return [part.strip() for part in text.split(",") if part.strip()]


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


def parse_fields(raw: str | None) -> list[str] | None:
    """``id,name,creative{id,name}`` -> ``["id", "name", "creative"]``."""
    if raw is None or raw.strip() == "":
        return None
    fields: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in raw:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            fields.append("".join(current).strip())
            current = []
        elif depth == 0:
            current.append(ch)
    fields.append("".join(current).strip())
    return [f.split(".", 1)[0] for f in fields if f]


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
