"""The Graph API surface: routing, auth, faults and the endpoint handlers.

Transport-independent on purpose: ``GraphApi.handle`` turns a ``GraphRequest`` into
a ``Response``; the HTTP server and the batch endpoint both call it, so a batch
item is answered exactly like the same request sent on its own.

Request pipeline: route -> record usage -> token (header ``Authorization: Bearer``
or ``access_token`` param; 190 when missing) -> optional ``appsecret_proof`` check
-> token/account association -> token expiry (190/463) -> at most one fault ->
handler -> usage headers -> stats.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

from .clock import ClockView
from .creatives import FIELDS as CREATIVE_FIELDS
from .creatives import Creative, visible
from .entities import (
    ACCOUNT_DEFAULT_FIELDS,
    KIND_BY_EDGE,
    account_view,
    entity_view,
    list_entities,
    project,
)
from .faults import (
    ASYNC_FAULTS,
    GENERAL_FAULTS,
    INSIGHTS_FAULTS,
    LIST_FAULTS,
    TOKEN_FAULTS,
    FaultHit,
    drop_field,
    throttle_error,
)
from .filters import parse_fields, parse_json_param, parse_string_list
from .hashing import h64
from .insights import InsightQuery, parse_query, too_large
from .reports import FAILED, NORMAL, STUCK, ReportRun, job_delay_seconds
from .state import SandboxState
from .usage import INSIGHTS, MANAGEMENT
from .wire import (
    HTML_TYPE,
    TEXT_TYPE,
    GraphError,
    Response,
    decode_cursor,
    dumps,
    encode_cursor,
    invalid_param,
    json_response,
    param_text,
    unknown_object,
)
from .world import EFFECTIVE_STATUSES, AccountSpec, Entity, account_index_of

DEFAULT_VERSION = "v25.0"
APP_ID = "1234567890123456"
APP_NAME = "Ads Platform Sandbox"
SCOPES = ("ads_read", "ads_management", "business_management")
DEFAULT_LIMIT = 25
MAX_LIMIT = 500
MAX_BATCH = 50
EXCHANGED_EXPIRES_IN = 5_184_000
_VERSION_RE = re.compile(r"^v\d+(\.\d+)?$")
_PAGING_DROP = frozenset({"access_token", "appsecret_proof", "after", "before", "limit"})
_STATUSES = frozenset(EFFECTIVE_STATUSES)
_INSIGHT_OPS = frozenset({"insights", "report_create", "report", "report_insights"})

MSG_NEEDS_AUTH = "An active access token must be used to query information about the current user."
MSG_REVOKED = (
    "Error validating access token: The session has been invalidated because the user "
    "changed their password or Facebook has changed the session for security reasons."
)
MSG_TOO_MUCH = "Please reduce the amount of data you're asking for, then retry your request"
MSG_SERVER = "An unexpected error has occurred. Please retry your request later."
HTML_UNAVAILABLE = (
    b"<html><head><title>Service Unavailable</title></head>"
    b"<body><h1>Service Unavailable</h1></body></html>"
)


@dataclass(slots=True)
class GraphRequest:
    """A Graph call: method, raw path (with version prefix), merged params."""

    method: str
    path: str
    params: dict[str, str]
    authorization: str | None = None
    in_batch: bool = False
    default_version: str | None = None


@dataclass(slots=True)
class _Route:
    op: str
    segments: list[str]
    version: str | None
    account: AccountSpec | None = None
    run: ReportRun | None = None
    node: Entity | Creative | None = None
    error: GraphError | None = None


@dataclass(slots=True)
class _Effects:
    """What a consumed fault changes about the normal answer."""

    zeros: bool = False
    looping: bool = False
    truncate: bool = False
    async_mark: str | None = None
    sleep_s: float = 0.0
    drop: bool = False
    reset: bool = False
    drop_field: str | None = None
    extra: list[tuple[str, str]] = field(default_factory=list)


def split_path(path: str) -> tuple[str | None, list[str]]:
    """``/v25.0/act_1/insights`` -> ``("v25.0", ["act_1", "insights"])``."""
    segments = [unquote(s) for s in path.split("/") if s]
    if segments and _VERSION_RE.match(segments[0]):
        return segments[0], segments[1:]
    return None, segments


def _meta_time(moment: dt.datetime) -> str:
    """Meta's wording of a time in token errors: ``Friday, 13-Mar-26 05:00:00 PDT``."""
    from zoneinfo import ZoneInfo

    local = moment.astimezone(ZoneInfo("America/Los_Angeles"))
    return local.strftime("%A, %d-%b-%y %H:%M:%S %Z")


def expired_error(expired_at: dt.datetime, clock: ClockView) -> GraphError:
    return GraphError(
        f"Error validating access token: Session has expired on {_meta_time(expired_at)}. "
        f"The current time is {_meta_time(clock.instant)}.",
        code=190,
        subcode=463,
        user_title="Session expired",
        user_msg="Your session has expired. Please log in again.",
    )


def revoked_error() -> GraphError:
    return GraphError(MSG_REVOKED, code=190, subcode=460)


class GraphApi:
    """Answers Graph API requests from a ``SandboxState``."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.user_id = str(10**14 + h64(state.config.seed, "user") % (9 * 10**14))

    # -- entry point -------------------------------------------------------------------

    def handle(self, req: GraphRequest) -> Response:
        state = self.state
        clock = state.clock.view()
        trace = state.next_trace_id()
        route = self._route(req)
        account = route.account
        digits = account.digits if account is not None else None
        use_case = INSIGHTS if route.op in _INSIGHT_OPS else MANAGEMENT
        state.usage.record(digits, use_case)
        scope: frozenset[str] = frozenset()
        hit: FaultHit | None = None
        effects = _Effects()
        try:
            if route.error is not None:
                raise route.error
            token: str | None = None
            if route.op != "oauth":
                token = self._token(req)
                self._check_proof(req, token)
                if account is not None:
                    state.tokens.associate(token, account.id)
            scope = self._scope(route, req)
            if (
                token is not None
                and route.op != "debug_token"
                and state.tokens.is_expired(token, clock)
            ):
                raise expired_error(state.tokens.expires_at(token, clock), clock)
            names = self._fault_names(route)
            hit = state.faults.take(scope, names) if names else None
            early = self._apply_fault(hit, effects, clock) if hit is not None else None
            resp = early if early is not None else self._dispatch(route, req, clock, effects, token)
            if effects.drop_field and resp.status == 200:
                resp.body = drop_field(resp.body, effects.drop_field)
            if effects.truncate and resp.status == 200:
                resp.body = resp.body[: max(1, len(resp.body) // 2)]
            resp.sleep_s = effects.sleep_s
            resp.drop = effects.drop
            resp.reset = effects.reset
        except GraphError as exc:
            resp = exc.response(trace)
        except Exception:  # a sandbox bug must still look like a Graph error
            traceback.print_exc(file=sys.stderr)
            resp = GraphError(MSG_SERVER, code=1, http_status=500, is_transient=True).response(
                trace
            )
        throttled = hit is not None and hit.name == "throttled"
        regain = hit.regain_seconds if hit is not None and throttled else 0.0
        if not throttled:
            active = state.faults.peek(scope, frozenset({"throttled"}))
            if active is not None:
                throttled, regain = True, active.regain_seconds
        resp.headers.extend(
            state.usage.headers(
                digits,
                use_case,
                insights=use_case == INSIGHTS,
                throttled=throttled,
                regain_seconds=regain,
            )
        )
        resp.headers.extend(effects.extra)
        resp.headers.append(("x-fb-trace-id", trace))
        resp.headers.append(("facebook-api-version", route.version or DEFAULT_VERSION))
        path = "/" + "/".join(route.segments)
        state.stats.record(
            path,
            account.id if account is not None else None,
            resp.status,
            in_batch=req.in_batch,
            fault=hit.name if hit is not None else None,
            op=route.op,
        )
        return resp

    # -- routing -----------------------------------------------------------------------

    def _route(self, req: GraphRequest) -> _Route:
        version, segs = split_path(req.path)
        route = _Route(op="unknown", segments=segs, version=version or req.default_version)
        method = req.method.upper()
        if not segs:
            if method == "POST" and not req.in_batch:
                route.op = "batch"
            else:
                route.error = GraphError(
                    f"Unsupported {method.lower()} request.",
                    code=100,
                    error_type="GraphMethodException",
                )
            return route
        head, rest = segs[0], segs[1:]
        if head.startswith("act_"):
            account = self.state.world.account(head)
            if account is None:
                route.op = "account"
                route.error = unknown_object(head)
                return route
            route.account = account
            if not rest and method == "GET":
                route.op = "account"
            elif len(rest) == 1 and rest[0] in KIND_BY_EDGE and method == "GET":
                route.op = "entities"
            elif rest == ["adcreatives"] and method == "GET":
                route.op = "creatives"
            elif len(rest) == 1 and rest[0] == "insights" and method in ("GET", "POST"):
                route.op = "insights" if method == "GET" else "report_create"
            elif len(rest) == 1 and method == "GET":
                route.error = invalid_param(
                    f"Tried accessing nonexisting field ({rest[0]}) on node type (AdAccount)"
                )
            else:
                route.error = self._unsupported(method, segs)
        elif head == "me" and not rest and method == "GET":
            route.op = "me"
        elif head == "me" and rest == ["adaccounts"] and method == "GET":
            route.op = "me_adaccounts"
        elif head == "debug_token" and not rest and method == "GET":
            route.op = "debug_token"
        elif head == "oauth" and rest == ["access_token"] and method in ("GET", "POST"):
            route.op = "oauth"
        elif account_index_of(head) is not None:
            self._route_node(route, head, rest, method)
        elif head.isdigit():
            run = self.state.reports.get(head)
            if run is None:
                route.error = unknown_object(head)
                return route
            route.run = run
            route.account = run.query.account
            if not rest and method == "GET":
                route.op = "report"
            elif rest == ["insights"] and method == "GET":
                route.op = "report_insights"
            else:
                route.error = self._unsupported(method, segs)
        else:
            route.error = GraphError(f"Unknown path components: /{'/'.join(segs)}", code=2500)
        return route

    def _route_node(self, route: _Route, head: str, rest: list[str], method: str) -> None:
        """``GET <campaign|adset|ad|creative id>``: the object's own node.

        Objects are found through the account their id encodes; one created after
        the clock's instant does not exist yet (the check happens at dispatch).
        """
        index = account_index_of(head)
        accounts = self.state.world.accounts
        node: Entity | Creative | None = None
        if index is not None and index < len(accounts):
            spec = accounts[index]
            node = self.state.world.data(spec).by_id.get(head)
            if node is None:
                node = self.state.creatives.get(spec, head)
            route.account = spec
        if node is None:
            route.error = unknown_object(head)
        elif rest or method != "GET":
            route.error = self._unsupported(method, route.segments)
        else:
            route.op = "node"
            route.node = node

    @staticmethod
    def _unsupported(method: str, segs: list[str]) -> GraphError:
        return GraphError(
            f"Unsupported {method.lower()} request. Object with ID '{'/'.join(segs)}' does not "
            "exist, cannot be loaded due to missing permissions, or does not support this "
            "operation.",
            code=100,
            subcode=33,
            error_type="GraphMethodException",
        )

    def _scope(self, route: _Route, req: GraphRequest) -> frozenset[str]:
        if route.account is not None:
            return frozenset({route.account.id})
        if route.op == "debug_token":
            return self.state.tokens.accounts_of(req.params.get("input_token", ""))
        if route.op == "oauth":
            return self.state.tokens.accounts_of(req.params.get("fb_exchange_token", ""))
        return frozenset()

    def _fault_names(self, route: _Route) -> frozenset[str]:
        op = route.op
        if op == "debug_token":
            return GENERAL_FAULTS - TOKEN_FAULTS
        if op in ("me_adaccounts", "entities", "creatives"):
            return GENERAL_FAULTS | LIST_FAULTS
        if op in ("insights", "report_insights"):
            return GENERAL_FAULTS | LIST_FAULTS | INSIGHTS_FAULTS
        if op == "report_create":
            return GENERAL_FAULTS | ASYNC_FAULTS
        if op == "report" and route.run is not None and not self.state.reports.finished(route.run):
            return GENERAL_FAULTS | ASYNC_FAULTS
        return GENERAL_FAULTS

    # -- auth --------------------------------------------------------------------------

    @staticmethod
    def _token(req: GraphRequest) -> str:
        token = ""
        if req.authorization:
            scheme, _, value = req.authorization.partition(" ")
            if scheme.lower() in ("bearer", "oauth"):
                token = value.strip()
        if not token:
            token = req.params.get("access_token", "").strip()
        if not token:
            raise GraphError(MSG_NEEDS_AUTH, code=190)
        return token

    def _check_proof(self, req: GraphRequest, token: str) -> None:
        secret = self.state.config.app_secret
        proof = req.params.get("appsecret_proof")
        if secret is None or proof is None:
            return
        expected = hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, proof.strip().lower()):
            raise GraphError(
                "Invalid appsecret_proof provided in the API argument",
                code=100,
                error_type="GraphMethodException",
            )

    # -- faults ------------------------------------------------------------------------

    def _apply_fault(self, hit: FaultHit, effects: _Effects, clock: ClockView) -> Response | None:
        name = hit.name
        if name == "token_expired":
            raise expired_error(clock.instant - dt.timedelta(days=1), clock)
        if name == "token_revoked":
            raise revoked_error()
        if name == "permission_denied":
            raise GraphError(
                "(#200) Ad account owner has NOT grant ads_management or ads_read permission",
                code=200,
                http_status=403,
            )
        if name == "throttled":
            raise throttle_error(hit.hit)
        if name == "server_error":
            if hit.hit % 2 == 1:
                raise GraphError(MSG_SERVER, code=2, http_status=500, is_transient=True)
            return Response(status=503, body=b"Service Unavailable", content_type=TEXT_TYPE)
        if name == "timeout":
            effects.sleep_s = hit.seconds
            effects.drop = hit.drop
        elif name == "connection_reset":
            effects.reset = True
        elif name == "malformed_json":
            if hit.hit % 2 == 1:
                return Response(status=200, body=HTML_UNAVAILABLE, content_type=HTML_TYPE)
            return Response(status=200, body=b"Service Unavailable")
        elif name == "truncated_page":
            effects.truncate = True
        elif name == "looping_next":
            effects.looping = True
        elif name == "zeros":
            effects.zeros = True
        elif name == "drop_field":
            effects.drop_field = hit.field
        elif name == "async_job_failed":
            effects.async_mark = FAILED
        elif name == "async_job_stuck":
            effects.async_mark = STUCK
        return None

    # -- handlers ----------------------------------------------------------------------

    def _dispatch(
        self,
        route: _Route,
        req: GraphRequest,
        clock: ClockView,
        effects: _Effects,
        token: str | None,
    ) -> Response:
        op = route.op
        account = route.account
        if op == "batch":
            return self._batch(req, route, token)
        if op == "me":
            return json_response({"id": self.user_id, "name": "Sandbox User"})
        if op == "me_adaccounts":
            fields = parse_fields(req.params.get("fields"))
            views = [
                project(account_view(spec, clock), fields, ACCOUNT_DEFAULT_FIELDS)
                for spec in self.state.world.accounts
            ]
            return self._paged(route, req, views, effects)
        if op == "debug_token":
            return self._debug_token(req, clock)
        if op == "oauth":
            return self._oauth(req, clock)
        if op == "report":
            assert route.run is not None
            return json_response(self.state.reports.poll(route.run, effects.async_mark))
        if op == "report_insights":
            assert route.run is not None
            return self._report_insights(route, req, route.run, effects)
        assert account is not None
        if op == "account":
            fields = parse_fields(req.params.get("fields"))
            return json_response(
                project(account_view(account, clock), fields, ACCOUNT_DEFAULT_FIELDS)
            )
        if op == "entities":
            data = self.state.world.data(account)
            kind = KIND_BY_EDGE[route.segments[1]]
            fields = parse_fields(req.params.get("fields"))
            # list_entities reads the statuses; this refuses a value Meta does not know.
            parse_string_list(req.params.get("effective_status"), "effective_status", _STATUSES)
            views = [
                project(v, fields, ("id",)) for v in list_entities(data, kind, req.params, clock)
            ]
            return self._paged(route, req, views, effects)
        if op == "creatives":
            if req.params.get("filtering") or req.params.get("effective_status"):
                raise invalid_param(
                    "The sandbox does not filter adcreatives (filtering, effective_status): "
                    "page the whole edge"
                )
            fields = parse_fields(req.params.get("fields"))
            spec_creatives = self.state.creatives.of(account)
            views = [
                project(c.view, fields, ("id",)) for c in visible(spec_creatives, clock.instant)
            ]
            return self._paged(route, req, views, effects)
        if op == "node":
            return self._node(route, req, clock)
        if op == "insights":
            query = parse_query(req.params, account, clock)
            values = 1
            if query.breakdown is not None:
                cells = self.state.insights.splitter.cells
                values = len(cells.projection(account, query.breakdown)[1])
            if too_large(query, self.state.world.data(account), values):
                raise GraphError(
                    MSG_TOO_MUCH,
                    code=100,
                    subcode=1504018,
                    user_title="Too much data requested",
                    user_msg=(
                        "Please reduce the amount of data you're asking for, "
                        "or use an async report run."
                    ),
                )
            return self._insights_page(route, req, query, clock, effects)
        if op == "report_create":
            query = parse_query(req.params, account, clock)
            params = {k: v for k, v in req.params.items() if k not in _PAGING_DROP}
            delay = job_delay_seconds(
                self.state.config.seed, query, self.state.config.async_delay_scale
            )
            run = self.state.reports.create(
                query, params, clock, effects.async_mark or NORMAL, delay_s=delay
            )
            return json_response({"report_run_id": run.id})
        raise GraphError(f"Unknown path components: /{'/'.join(route.segments)}", code=2500)

    def _node(self, route: _Route, req: GraphRequest, clock: ClockView) -> Response:
        node, account = route.node, route.account
        assert node is not None and account is not None
        if node.created > clock.instant:
            raise unknown_object(route.segments[0])
        fields = parse_fields(req.params.get("fields"))
        if isinstance(node, Creative):
            unknown = [f for f in fields or () if f not in CREATIVE_FIELDS]
            view = node.view
        else:
            view = entity_view(self.state.world.data(account), node, clock.instant)
            unknown = []
        if unknown:
            raise invalid_param(
                f"Tried accessing nonexisting field ({unknown[0]}) on node type (AdCreative)"
            )
        return json_response(project(view, fields, ("id", "name")))

    # -- paging ------------------------------------------------------------------------

    @staticmethod
    def _limit(params: dict[str, str]) -> int:
        raw = params.get("limit")
        if raw is None or raw == "":
            return DEFAULT_LIMIT
        try:
            value = int(raw)
        except ValueError as exc:
            raise invalid_param("limit must be an integer") from exc
        return max(1, min(MAX_LIMIT, value))

    def _url(self, route: _Route, params: dict[str, str], extra: dict[str, str]) -> str:
        kept = {k: v for k, v in params.items() if k not in _PAGING_DROP}
        kept.update(extra)
        prefix = f"/{route.version}" if route.version else ""
        return f"{self.state.base_url}{prefix}/{'/'.join(route.segments)}?{urlencode(kept)}"

    def _paging(
        self,
        route: _Route,
        req: GraphRequest,
        limit: int,
        here: tuple[int, int],
        after: tuple[int, int],
        has_next: bool,
        effects: _Effects,
    ) -> dict[str, Any]:
        """Meta's paging block; ``next`` is absolute and deliberately carries no token."""
        paging: dict[str, Any] = {
            "cursors": {"before": encode_cursor(here), "after": encode_cursor(after)}
        }
        if effects.looping:
            current = {"limit": str(limit)}
            if "after" in req.params:
                current["after"] = req.params["after"]
            paging["next"] = self._url(route, req.params, current)
        elif has_next:
            paging["next"] = self._url(
                route, req.params, {"limit": str(limit), "after": encode_cursor(after)}
            )
        return paging

    def _paged(
        self, route: _Route, req: GraphRequest, items: list[dict[str, Any]], effects: _Effects
    ) -> Response:
        limit = self._limit(req.params)
        after = req.params.get("after")
        offset = decode_cursor(after)[1] if after else 0
        page = items[offset : offset + limit]
        end = offset + len(page)
        body: dict[str, Any] = {"data": page}
        if page or effects.looping:
            body["paging"] = self._paging(
                route, req, limit, (0, offset), (0, end), end < len(items), effects
            )
        return json_response(body)

    def _insights_page(
        self,
        route: _Route,
        req: GraphRequest,
        query: InsightQuery,
        clock: ClockView,
        effects: _Effects,
    ) -> Response:
        limit = self._limit(req.params)
        after = req.params.get("after")
        here = decode_cursor(after) if after else (0, 0)
        rows, nxt = self.state.insights.page(query, clock, here, limit, zeros=effects.zeros)
        body: dict[str, Any] = {"data": rows}
        if rows or effects.looping or nxt is not None:
            end = nxt if nxt is not None else (len(query.buckets()), 0)
            body["paging"] = self._paging(route, req, limit, here, end, nxt is not None, effects)
        return json_response(body)

    def _report_insights(
        self, route: _Route, req: GraphRequest, run: ReportRun, effects: _Effects
    ) -> Response:
        if run.mode == FAILED:
            raise GraphError("Report Failed, try again later", code=2, subcode=2490547)
        if not self.state.reports.completed(run):
            raise invalid_param(
                f"Report run {run.id} is not complete yet: poll it until async_status is "
                "'Job Completed' before reading its insights"
            )
        return self._insights_page(route, req, run.query, run.clock, effects)

    # -- tokens ------------------------------------------------------------------------

    def _debug_token(self, req: GraphRequest, clock: ClockView) -> Response:
        tokens = self.state.tokens
        input_token = req.params.get("input_token", "").strip()
        if not input_token:
            raise invalid_param("The parameter input_token is required")
        accounts = tokens.accounts_of(input_token)
        expires = tokens.expires_at(input_token, clock)
        error: dict[str, Any] | None = None
        fault = self.state.faults.peek(accounts, TOKEN_FAULTS)
        if fault is not None and fault.name == "token_expired":
            expires = clock.instant - dt.timedelta(days=1)
            error = {"code": 190, "message": expired_error(expires, clock).message, "subcode": 463}
        elif fault is not None:
            error = {"code": 190, "message": MSG_REVOKED, "subcode": 460}
        elif expires <= clock.instant:
            error = {"code": 190, "message": expired_error(expires, clock).message, "subcode": 463}
        all_ids = [spec.digits for spec in self.state.world.accounts]
        data: dict[str, Any] = {
            "app_id": APP_ID,
            "type": "USER",
            "application": APP_NAME,
            "data_access_expires_at": int((clock.instant + dt.timedelta(days=90)).timestamp()),
            "expires_at": int(expires.timestamp()),
            "is_valid": error is None,
            "issued_at": int(tokens.issued_at(input_token, clock).timestamp()),
            "scopes": list(SCOPES),
            "granular_scopes": [
                {"scope": "ads_read", "target_ids": all_ids},
                {"scope": "ads_management", "target_ids": all_ids},
                {"scope": "business_management"},
            ],
            "user_id": self.user_id,
        }
        if error is not None:
            data["error"] = error
        return json_response({"data": data})

    def _oauth(self, req: GraphRequest, clock: ClockView) -> Response:
        params = req.params
        if params.get("grant_type") != "fb_exchange_token":
            raise invalid_param("grant_type must be fb_exchange_token")
        for name in ("client_id", "client_secret", "fb_exchange_token"):
            if not params.get(name, "").strip():
                raise invalid_param(f"Missing required parameter: {name}")
        secret = self.state.config.app_secret
        if secret is not None and params["client_secret"] != secret:
            raise GraphError("Error validating client secret.", code=1)
        old = params["fb_exchange_token"].strip()
        tokens = self.state.tokens
        if tokens.is_expired(old, clock):
            raise expired_error(tokens.expires_at(old, clock), clock)
        new = tokens.exchange(old, clock)
        return json_response(
            {"access_token": new, "token_type": "bearer", "expires_in": EXCHANGED_EXPIRES_IN}
        )

    # -- batch -------------------------------------------------------------------------

    def _batch(self, req: GraphRequest, route: _Route, token: str | None) -> Response:
        raw = req.params.get("batch")
        if not raw:
            raise invalid_param("The parameter batch is required")
        items = parse_json_param(raw, "batch")
        if not isinstance(items, list):
            raise invalid_param("batch must be a JSON array")
        if len(items) > MAX_BATCH:
            raise invalid_param(
                f"Too many requests in batch message. Maximum batch size is {MAX_BATCH}"
            )
        results: list[dict[str, Any]] = []
        for item in items:
            if not isinstance(item, dict) or not item.get("relative_url"):
                err = invalid_param("Each batch item needs a relative_url").body(
                    self.state.next_trace_id()
                )
                results.append({"code": 400, "headers": [], "body": dumps(err).decode()})
                continue
            rel = str(item["relative_url"]).lstrip("/")
            path, _, query = rel.partition("?")
            params = dict(parse_qsl(query, keep_blank_values=True))
            body = item.get("body")
            if isinstance(body, str):
                params.update(parse_qsl(body, keep_blank_values=True))
            elif isinstance(body, dict):
                params.update({str(k): param_text(v) for k, v in body.items()})
            if "access_token" not in params and token is not None:
                params["access_token"] = token
            sub = self.handle(
                GraphRequest(
                    method=str(item.get("method", "GET")).upper(),
                    path="/" + path,
                    params=params,
                    in_batch=True,
                    default_version=route.version,
                )
            )
            if sub.sleep_s:
                time.sleep(sub.sleep_s)
            if sub.reset:  # the connection carrying the batch is the one cut
                return Response(status=200, body=b"", reset=True)
            headers = [{"name": "Content-Type", "value": sub.content_type}]
            headers.extend({"name": n, "value": v} for n, v in sub.headers)
            results.append(
                {
                    "code": sub.status,
                    "headers": headers,
                    "body": sub.body.decode("utf-8", "replace"),
                }
            )
        return json_response(results)
