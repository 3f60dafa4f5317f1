"""Control endpoints under ``/__sandbox/`` (never faulted, never counted, no token).

======  ===========================  ==================================================
method  path                         body / query -> answer
======  ===========================  ==================================================
GET     /__sandbox/health            -> {"status": "ok"}
GET     /__sandbox/info              -> base_url, seed, accounts (id, currency, tz,
                                        ads, quiet), latency_ms, ads_per_account, clock
GET     /__sandbox/clock             -> {"today", "instant", "fixed"}
POST    /__sandbox/clock             {"today": "YYYY-MM-DD" | null} (UTC date; null =
                                     follow the real date) -> same as GET
GET     /__sandbox/faults            -> {"faults": [...]}
POST    /__sandbox/faults            {"fault", "account_id"?, "count"?, "seconds"?,
                                     "regain_seconds"?, "drop"?, "field"?, "after"?}
                                     -> the fault
DELETE  /__sandbox/faults            -> {"cleared": n}
POST    /__sandbox/token_expiry      {"account_id", "expires_at": unix | ISO | null}
GET     /__sandbox/truth             ?account_id=&since=&until= -> ground truth
GET     /__sandbox/truth/breakdowns  ?account_id=&since=&until=&breakdowns=age,gender
                                     -> per breakdown value and day, beside the totals
GET     /__sandbox/truth/creatives   ?account_id= -> every creative with its ad and validity
GET     /__sandbox/truth/passthrough ?account_id=&since=&until=&fields=cpp,unique_clicks
                                     -> the extra fields of every ad-day row served
GET     /__sandbox/truth/reach       ?account_id=&since=&until=&level=adset
                                     -> reach over the whole range per entity, and per day
GET     /__sandbox/stats             -> counters; POST /__sandbox/stats/reset clears
POST    /__sandbox/usage             {"pct_per_call": float} -> usage factor
======  ===========================  ==================================================
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from .breakdowns import parse_breakdowns
from .creatives import truth as creative_truth
from .faults import FAULT_NAMES
from .state import SandboxState
from .truth import breakdown_truth, ground_truth, passthrough_truth, reach_truth
from .wire import GraphError, Response, json_response
from .world import AccountSpec


class ControlError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ControlError("body must be JSON") from exc
    if not isinstance(value, dict):
        raise ControlError("body must be a JSON object")
    return value


def _date(value: Any, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ControlError(f"{name} must be YYYY-MM-DD") from exc


def _account(state: SandboxState, query: Mapping[str, Any]) -> AccountSpec:
    """The account a truth request names (404 when the world has none)."""
    spec = state.world.account(query.get("account_id", ""))
    if spec is None:
        raise ControlError(f"unknown account {query.get('account_id')!r}", status=404)
    return spec


def _account_range(
    state: SandboxState, query: Mapping[str, Any]
) -> tuple[AccountSpec, dt.date, dt.date]:
    """The account and the since..until days a truth request names."""
    spec = _account(state, query)
    since = _date(query.get("since"), "since")
    until = _date(query.get("until"), "until")
    if since > until:
        raise ControlError("since must be <= until")
    return spec, since, until


def _moment(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ControlError("expires_at must be unix seconds, ISO 8601 or null") from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


class ControlApi:
    """Handles ``/__sandbox/*``."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def handle(self, method: str, path: str, query: dict[str, str], raw_body: bytes) -> Response:
        try:
            return json_response(self._route(method.upper(), path.rstrip("/"), query, raw_body))
        except ControlError as exc:
            return json_response({"error": str(exc)}, status=exc.status)
        except ValueError as exc:
            return json_response({"error": str(exc)}, status=400)

    def _clock(self) -> dict[str, Any]:
        view = self.state.clock.view()
        return {
            "today": view.utc_date.isoformat(),
            "instant": view.instant.isoformat(),
            "fixed": self.state.clock.is_fixed,
        }

    def _account_id(self, value: Any) -> str:
        spec = self.state.world.account(str(value))
        if spec is None:
            raise ControlError(f"unknown account {value!r}", status=404)
        return spec.id

    def _route(self, method: str, path: str, query: dict[str, str], raw: bytes) -> Any:
        state = self.state
        if path == "/__sandbox/health" and method == "GET":
            return {"status": "ok"}
        if path == "/__sandbox/info" and method == "GET":
            config = state.config
            return {
                "base_url": state.base_url,
                "seed": config.seed,
                "latency_ms": config.latency_ms,
                "ads_per_account": config.ads_per_account,
                "clock": self._clock(),
                "fault_names": list(FAULT_NAMES),
                "accounts": [
                    {
                        "id": spec.id,
                        "account_id": spec.digits,
                        "name": spec.name,
                        "currency": spec.currency,
                        "timezone_name": spec.timezone_name,
                        "ads": state.world.ad_count(spec),
                        "quiet": spec.index in state.world.quiet,
                    }
                    for spec in state.world.accounts
                ],
            }
        if path == "/__sandbox/clock":
            if method == "POST":
                body = _body(raw)
                today = body.get("today")
                state.clock.set_today(None if today is None else _date(today, "today"))
                return self._clock()
            if method == "GET":
                return self._clock()
        if path == "/__sandbox/faults":
            if method == "GET":
                return {"faults": state.faults.snapshot()}
            if method == "DELETE":
                return {"cleared": state.faults.clear()}
            if method == "POST":
                body = _body(raw)
                name = body.get("fault")
                if name not in FAULT_NAMES:
                    raise ControlError(f"unknown fault {name!r}; known: {', '.join(FAULT_NAMES)}")
                account = body.get("account_id")
                count = body.get("count")
                after = body.get("after")
                fault = state.faults.add(
                    str(name),
                    None if account is None else self._account_id(account),
                    None if count is None else int(count),
                    seconds=body.get("seconds"),
                    regain_seconds=body.get("regain_seconds"),
                    drop=bool(body.get("drop", False)),
                    field=None if body.get("field") is None else str(body["field"]),
                    after=None if after is None else int(after),
                )
                return fault.to_json()
        if path == "/__sandbox/token_expiry" and method == "POST":
            body = _body(raw)
            account_id = self._account_id(body.get("account_id"))
            state.tokens.set_account_expiry(account_id, _moment(body.get("expires_at")))
            return {"account_id": account_id, "expires_at": body.get("expires_at")}
        if path == "/__sandbox/truth" and method == "GET":
            spec, since, until = _account_range(state, query)
            return ground_truth(state.insights, spec, since, until, state.clock.view())
        if path == "/__sandbox/truth/creatives" and method == "GET":
            spec = _account(state, query)
            return creative_truth(state.creatives, spec, state.clock.view().instant)
        if path == "/__sandbox/truth/breakdowns" and method == "GET":
            spec, since, until = _account_range(state, query)
            names = [n for n in query.get("breakdowns", "").split(",") if n]
            try:
                breakdown = parse_breakdowns(names, None)
            except GraphError as exc:
                raise ControlError(exc.message) from None
            if breakdown is None:
                raise ControlError("breakdowns is required (e.g. age,gender)")
            return breakdown_truth(
                state.insights, spec, since, until, breakdown, state.clock.view()
            )
        if path == "/__sandbox/truth/passthrough" and method == "GET":
            spec, since, until = _account_range(state, query)
            names = [n for n in query.get("fields", "").split(",") if n]
            try:
                return passthrough_truth(
                    state.insights, spec, since, until, names, state.clock.view()
                )
            except ValueError as exc:
                raise ControlError(str(exc)) from None
        if path == "/__sandbox/truth/reach" and method == "GET":
            spec, since, until = _account_range(state, query)
            try:
                return reach_truth(
                    state.insights,
                    spec,
                    since,
                    until,
                    query.get("level", "account"),
                    state.clock.view(),
                )
            except ValueError as exc:
                raise ControlError(str(exc)) from None
        if path == "/__sandbox/stats" and method == "GET":
            return state.stats.snapshot()
        if path == "/__sandbox/stats/reset" and method == "POST":
            state.stats.reset()
            return {"reset": True}
        if path == "/__sandbox/usage" and method == "POST":
            body = _body(raw)
            pct = float(body.get("pct_per_call", state.usage.pct_per_call))
            if pct < 0:
                raise ControlError("pct_per_call must be >= 0")
            state.usage.pct_per_call = pct
            return {"pct_per_call": pct}
        raise ControlError(f"no control endpoint {method} {path}", status=404)
