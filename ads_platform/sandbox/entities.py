"""Entity nodes as Graph renders them: ad accounts, campaigns, ad sets, ads.

A view is the full field set of one entity at the clock; the handlers project it on
the requested ``fields`` (plus ``id``). Lists are newest first (created_time
descending, then id), filtered by ``effective_status`` (default: everything but
DELETED and ARCHIVED, as on Graph) and by ``filtering``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .clock import ClockView
from .filters import Filter, matches, parse_filtering, parse_string_list
from .wire import fmt_time, invalid_param
from .world import HIDDEN_BY_DEFAULT, AccountData, AccountSpec, Entity

KIND_BY_EDGE = {"campaigns": "campaign", "adsets": "adset", "ads": "ad"}
ACCOUNT_DEFAULT_FIELDS = (
    "id",
    "account_id",
    "name",
    "currency",
    "timezone_name",
    "account_status",
)
_KIND_RANK = {"ad": 0, "adset": 1, "campaign": 2}
_TIME_FIELDS = frozenset({"updated_time", "created_time", "start_time", "stop_time", "end_time"})


def account_view(spec: AccountSpec, clock: ClockView) -> dict[str, Any]:
    offset = clock.local_now(spec.tz).utcoffset() or dt.timedelta(0)
    return {
        "id": spec.id,
        "account_id": spec.digits,
        "name": spec.name,
        "currency": spec.currency,
        "timezone_name": spec.timezone_name,
        "account_status": 1,
        "timezone_offset_hours_utc": offset.total_seconds() / 3600.0,
        "disable_reason": 0,
    }


def project(
    view: dict[str, Any], fields: list[str] | None, default: tuple[str, ...]
) -> dict[str, Any]:
    """Requested known fields plus ``id``; unknown fields are ignored (Graph-loosely)."""
    wanted = list(default) if fields is None else ["id", *fields]
    out: dict[str, Any] = {}
    for name in wanted:
        if name in view and name not in out:
            out[name] = view[name]
    return out


def entity_view(data: AccountData, entity: Entity, instant: dt.datetime) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": entity.id,
        "account_id": entity.account.digits,
    }
    if entity.campaign_id is not None:
        view["campaign_id"] = entity.campaign_id
        view["campaign"] = {"id": entity.campaign_id}
    if entity.adset_id is not None:
        view["adset_id"] = entity.adset_id
        view["adset"] = {"id": entity.adset_id}
    status = entity.status_at(instant)
    view["name"] = entity.name_at(instant)
    view["status"] = status
    view["configured_status"] = status
    view["effective_status"] = data.effective_status(entity, instant)
    if entity.kind == "campaign":
        view["objective"] = entity.objective
        view["buying_type"] = "AUCTION"
    if entity.kind == "adset":
        view["optimization_goal"] = entity.optimization_goal
        view["billing_event"] = entity.billing_event
    if entity.daily_budget is not None:
        view["daily_budget"] = str(entity.daily_budget)
    if entity.lifetime_budget is not None:
        view["lifetime_budget"] = str(entity.lifetime_budget)
    if entity.kind in ("campaign", "adset"):
        view["start_time"] = fmt_time(entity.created)
        if entity.scheduled_end is not None:
            view["stop_time" if entity.kind == "campaign" else "end_time"] = fmt_time(
                entity.scheduled_end
            )
    creative = entity.creative_at(instant)
    if creative is not None:
        view["creative"] = {"id": creative}
    view["created_time"] = fmt_time(entity.created)
    view["updated_time"] = fmt_time(entity.updated_at(instant))
    return view


def _resolve(data: AccountData, entity: Entity, prefix: str | None) -> Entity:
    """The entity a prefixed filter field refers to (self, or a parent)."""
    if (
        prefix is None
        or prefix == entity.kind
        or _KIND_RANK.get(prefix, -1) < _KIND_RANK[entity.kind]
    ):
        return entity
    parent_id = entity.campaign_id if prefix == "campaign" else entity.adset_id
    return data.by_id[parent_id] if parent_id is not None else entity


def _filter_value(data: AccountData, entity: Entity, f: Filter, instant: dt.datetime) -> Any:
    target = _resolve(data, entity, f.prefix)
    name = f.name
    if name == "updated_time":
        return int(target.updated_at(instant).timestamp())
    if name in ("created_time", "start_time"):
        return int(target.created.timestamp())
    if name == "effective_status":
        return data.effective_status(target, instant)
    if name in ("status", "configured_status"):
        return target.status_at(instant)
    if name == "id":
        return target.id
    if name == "name":
        return target.name_at(instant)
    if name == "objective":
        campaign = data.by_id[target.campaign_id] if target.campaign_id else target
        return campaign.objective
    raise invalid_param(f"Filtering field {f.field} is invalid")


def _time_target(value: Any) -> Any:
    """Accept unix seconds or an ISO date-time for time filters."""
    if isinstance(value, str) and not value.lstrip("-").isdigit():
        try:
            return int(dt.datetime.fromisoformat(value.replace("+0000", "+00:00")).timestamp())
        except ValueError as exc:
            raise invalid_param(f"Invalid time value {value!r} in filtering") from exc
    return value


def list_entities(
    data: AccountData, kind: str, params: dict[str, str], clock: ClockView
) -> list[dict[str, Any]]:
    """Visible entities of ``kind`` after status and ``filtering`` rules, newest first."""
    instant = clock.instant
    statuses = parse_string_list(params.get("effective_status"), "effective_status")
    wanted = {s.upper() for s in statuses} if statuses is not None else None
    filters = parse_filtering(params.get("filtering"))
    out: list[tuple[dt.datetime, str, dict[str, Any]]] = []
    for entity in data.entities(kind):
        if entity.created > instant:
            continue
        eff = data.effective_status(entity, instant)
        if wanted is None:
            if eff in HIDDEN_BY_DEFAULT:
                continue
        elif eff not in wanted:
            continue
        keep = True
        for f in filters:
            target = _time_target(f.value) if f.name in _TIME_FIELDS else f.value
            if not matches(_filter_value(data, entity, f, instant), f.operator, target):
                keep = False
                break
        if keep:
            out.append((entity.created, entity.id, entity_view(data, entity, instant)))
    out.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [view for _, _, view in out]
