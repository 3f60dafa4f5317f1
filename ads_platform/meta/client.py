"""Synchronous Graph / Marketing API client for one access token.

Why a client of our own rather than Meta's SDK: the SDK puts the token in every URL,
retries nothing, ignores usage headers, treats a 200 with a broken body as data, and
cannot fall back from a too-large synchronous insights request.  This client:

* sends the token in an ``Authorization`` header (or, when configured, as a query
  parameter that is redacted everywhere) and adds ``appsecret_proof`` when an app
  secret is known;
* retries transient failures with exponential backoff and jitter (tenacity), waits out
  throttles using Meta's own estimate, and never retries auth/permission/parameter
  errors, all within a per-call time budget;
* paces calls per ad account from the usage headers *before* Meta throttles;
* follows ``paging.next`` to the end, refusing loops and foreign hosts;
* pulls insights for a whole date range in one request (``time_increment=1``), switching
  to async report runs (:mod:`ads_platform.meta.reports`, which split the range in
  halves when a run fails or hangs) for long ranges or when Meta says the request is
  too big;
* counts every HTTP request per account and endpoint in :class:`CallStats`.

One client per token: an agency has one token per client business, and a token's
failure must only fail that client's accounts.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import random
import ssl
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import httpx
import orjson
import tenacity

from ads_platform.datasets import (
    ACCOUNTS,
    AD_HISTORY,
    AD_INSIGHTS,
    AD_SET_HISTORY,
    CAMPAIGN_HISTORY,
    CREATIVE_HISTORY,
)
from ads_platform.meta.errors import (
    MalformedResponseError,
    MetaApiError,
    NetworkError,
    ThrottledError,
    TooMuchDataError,
    classify,
    required_field,
    transport_error,
)
from ads_platform.meta.pacing import Pacer
from ads_platform.meta.redaction import install_log_redaction, redact_url, register_secret
from ads_platform.meta.reports import ReportPolling, ReportRuns, halves, time_range
from ads_platform.meta.stats import CallStats
from ads_platform.meta.tokens import appsecret_proof
from ads_platform.meta.urls import (
    ACCOUNT_RE,
    VERSION_RE,
    encode_params,
    fingerprint,
    merge_query,
    normalize_account_id,
    normalize_endpoint,
    origin,
    strip_auth,
)

__all__ = [
    "DEFAULT_ACCOUNT_FIELDS",
    "DEFAULT_ENTITY_FIELDS",
    "DEFAULT_INSIGHT_FIELDS",
    "EntityKind",
    "GraphClient",
    "InsightsMode",
    "encode_params",
    "normalize_account_id",
    "normalize_endpoint",
]

EntityKind = Literal["campaigns", "adsets", "ads", "adcreatives"]
InsightsMode = Literal["auto", "sync", "async"]
InsightsLevel = Literal["account", "campaign", "adset", "ad"]

# What is asked for by default is what the lake stores: the datasets' declarations.
DEFAULT_ACCOUNT_FIELDS: tuple[str, ...] = ACCOUNTS.api_fields
DEFAULT_ENTITY_FIELDS: Mapping[str, tuple[str, ...]] = {
    "campaigns": CAMPAIGN_HISTORY.api_fields,
    "adsets": AD_SET_HISTORY.api_fields,
    "ads": AD_HISTORY.api_fields,
    "adcreatives": CREATIVE_HISTORY.api_fields,
}
DEFAULT_INSIGHT_FIELDS: tuple[str, ...] = AD_INSIGHTS.api_fields

_ENTITY_SINGULAR: Mapping[str, str] = {
    "campaigns": "campaign",
    "adsets": "adset",
    "ads": "ad",
    "adcreatives": "adcreative",
}

#: Smallest page size the client shrinks to when Meta asks for less data per page.
MIN_PAGE_LIMIT = 25
#: Throttles without an estimate back off from this many seconds (5, 10, 20, 40 …),
#: like the peers that survive Meta's limits; transient errors start at backoff_base.
THROTTLE_BACKOFF_START = 5.0
#: Retries for a host that cannot be reached at all (DNS, refused, unreachable): one,
#: for a blip; an outage outlasts any backoff and must be reported in seconds.
MAX_NETWORK_RETRIES = 1


@dataclass
class _CallState:
    """Book-keeping for one logical call across its retries."""

    started: float
    waited: float = 0.0
    transient: int = 0
    network: int = 0
    malformed: int = 0
    throttled: int = 0
    retries: int = 0
    give_up: bool = False


@dataclass(frozen=True)
class _Request:
    method: str
    url: str
    params: Mapping[str, str]
    data: Mapping[str, str] | None
    headers: Mapping[str, str]
    account_id: str | None
    endpoint: str


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def decode_body(content: bytes) -> object:
    """A response body as JSON, or the raw bytes when it is empty or not JSON.

    The bytes are kept so that :func:`classify` can tell an HTML error page or a
    truncated answer from a Graph error object.  orjson because a 500-row insights page
    is about 400 KB: the standard library spent longer decoding it than the rest of the
    ingest path spent on its rows.
    """
    if not content.strip():
        return content
    try:
        return orjson.loads(content)
    except ValueError:  # orjson.JSONDecodeError is one
        return content


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's one verifying TLS context, shared by every client.

    httpx builds a new one per client by default, loading the CA bundle each time
    (23 ms on this project's machines).  A run makes a client per account and attempt,
    so a 50-account daily run paid seconds for identical contexts.  Same settings as
    httpx's default (certifi's bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``).
    """
    return httpx.create_ssl_context(trust_env=True)


class GraphClient:
    """Graph API client bound to one access token.  Thread-safe; use as a context manager."""

    def __init__(
        self,
        *,
        access_token: str,
        base_url: str = "https://graph.facebook.com",
        api_version: str = "v25.0",
        app_secret: str | None = None,
        token_in_query: bool = False,
        page_limit: int = 500,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_retries: int = 5,
        max_malformed_retries: int = 2,
        max_throttle_retries: int = 10,
        retry_budget_seconds: float = 300.0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        async_threshold_days: int = 31,
        async_poll_timeout: float = 600.0,
        async_poll_interval: float = 1.0,
        async_poll_max_interval: float = 30.0,
        max_pages: int = 100_000,
        stats: CallStats | None = None,
        pacer: Pacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if not access_token:
            raise ValueError("access_token is required")
        if not VERSION_RE.match(api_version):
            raise ValueError(f"api_version must look like v25.0, got {api_version!r}")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        if page_limit < 1:
            raise ValueError("page_limit must be positive")
        self._token = access_token
        self._app_secret = app_secret
        self._proof = appsecret_proof(access_token, app_secret) if app_secret else None
        for secret in (access_token, app_secret, self._proof):
            register_secret(secret)
        install_log_redaction()

        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.token_in_query = token_in_query
        self.page_limit = page_limit
        self.max_retries = max_retries
        self.max_malformed_retries = min(max_malformed_retries, max_retries)
        self.max_throttle_retries = max_throttle_retries
        self.retry_budget_seconds = retry_budget_seconds
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.async_threshold_days = async_threshold_days
        self.max_pages = max_pages
        self.stats = stats if stats is not None else CallStats()
        self._sleep = sleep
        self._clock = clock
        self.logger = logger or logging.getLogger("ads_platform.meta")
        self.pacer = (
            pacer if pacer is not None else Pacer(clock=clock, sleep=sleep, logger=self.logger)
        )
        self._origin = origin(self.base_url)
        self._http = httpx.Client(
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            transport=transport,
            verify=tls_context(),
            follow_redirects=False,
            headers={"User-Agent": "ads-platform-graph-client/0.1"},
        )
        #: Async report runs go through this client's calls (retries, pacing, stats).
        self.reports = ReportRuns(
            self,
            ReportPolling(
                timeout=async_poll_timeout,
                interval=async_poll_interval,
                max_interval=async_poll_max_interval,
            ),
            sleep=sleep,
            clock=clock,
            logger=self.logger,
        )

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:  # never show the token
        return f"GraphClient(base_url={self.base_url!r}, api_version={self.api_version!r})"

    # ------------------------------------------------------------------ plain calls

    def get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        account_id: str | None = None,
        endpoint: str | None = None,
    ) -> dict[str, Any]:
        """GET one Graph object/edge; raises a classified :class:`MetaApiError`."""
        return self._call("GET", path, params, account_id=account_id, endpoint=endpoint)

    def post(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        account_id: str | None = None,
        endpoint: str | None = None,
    ) -> dict[str, Any]:
        """POST form parameters (e.g. to start an async report run)."""
        return self._call("POST", path, params, account_id=account_id, endpoint=endpoint)

    # ------------------------------------------------------------------ paging

    def iter_pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        account_id: str | None = None,
        endpoint: str | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield each page's ``data`` list, following ``paging.next`` until it is absent.

        Pages can be short or empty while more remain, so only a missing ``next`` ends
        the walk.  A ``next`` seen before (same URL or cursor), a ``next`` on another
        host (it would receive the token) or more than ``max_pages`` pages raise
        :class:`MalformedResponseError`.  When Meta asks to "reduce the amount of
        data", the same page is re-requested with half the ``limit`` (down to 25).

        Pages already yielded stay yielded when a later page fails: callers must
        treat an exception as failure of the whole walk (stage, then commit).
        """
        account = self._account_for(path, account_id)
        endpoint = endpoint or normalize_endpoint(path)
        query: dict[str, Any] = dict(params or {})
        query.setdefault("limit", self.page_limit)
        target: str = path
        target_params: Mapping[str, Any] | None = query
        limit = int(query["limit"])
        seen: set[str] = {
            fingerprint(self._url(path) + "?" + urllib.parse.urlencode(encode_params(query)))
        }
        cursors: set[str] = set()
        pages = 0
        while True:
            try:
                body = self._call(
                    "GET", target, target_params, account_id=account, endpoint=endpoint
                )
            except TooMuchDataError as exc:
                if exc.remedy != "smaller_page" or limit <= MIN_PAGE_LIMIT:
                    raise
                limit = max(MIN_PAGE_LIMIT, limit // 2)
                self.logger.warning(
                    "%s for %s: Meta asked for less data per page; retrying with limit=%d",
                    endpoint,
                    account or "-",
                    limit,
                )
                if target_params is None:
                    target = merge_query(target, {"limit": str(limit)})
                else:
                    target_params = {**target_params, "limit": limit}
                continue
            data = required_field(body, "data", account_id=account, endpoint=endpoint, what="page")
            if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
                raise MalformedResponseError(
                    "page has no 'data' list of objects",
                    reason="unexpected_shape",
                    field="data",
                    account_id=account,
                    endpoint=endpoint,
                )
            pages += 1
            self.stats.record_page(account, endpoint, rows=len(data))
            yield data

            next_url, after = self._next_link(body, account, endpoint)
            if next_url is None:
                return
            page_id = fingerprint(next_url)
            if page_id in seen or (after is not None and after in cursors):
                raise MalformedResponseError(
                    f"paging.next loops back to a page already fetched (after {pages} pages)",
                    reason="looping_next",
                    account_id=account,
                    endpoint=endpoint,
                )
            if pages >= self.max_pages:
                raise MalformedResponseError(
                    f"more than {self.max_pages} pages: refusing to page further",
                    reason="too_many_pages",
                    account_id=account,
                    endpoint=endpoint,
                )
            seen.add(page_id)
            if after is not None:
                cursors.add(after)
            target, target_params = next_url, None

    def _next_link(
        self, body: Mapping[str, Any], account: str | None, endpoint: str
    ) -> tuple[str | None, str | None]:
        paging = body.get("paging")
        if paging is None:
            return None, None
        if not isinstance(paging, dict):
            raise MalformedResponseError(
                "'paging' is not an object", account_id=account, endpoint=endpoint
            )
        next_url = paging.get("next")
        if next_url is None or next_url == "":
            return None, None
        if not isinstance(next_url, str):
            raise MalformedResponseError(
                "'paging.next' is not a URL", account_id=account, endpoint=endpoint
            )
        if origin(next_url) != self._origin:
            raise MalformedResponseError(
                "paging.next points to another host; not sending the token there",
                reason="foreign_next",
                account_id=account,
                endpoint=endpoint,
            )
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(next_url).query))
        after = query.get("after")
        cursors = paging.get("cursors")
        if after is None and isinstance(cursors, dict) and isinstance(cursors.get("after"), str):
            after = cursors["after"]
        return next_url, after

    def iter_rows(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        account_id: str | None = None,
        endpoint: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Rows of :meth:`iter_pages`, flattened (same failure semantics)."""
        for page in self.iter_pages(path, params, account_id=account_id, endpoint=endpoint):
            yield from page

    # ------------------------------------------------------------------ accounts & entities

    def get_account(
        self, account_id: str, fields: Sequence[str] = DEFAULT_ACCOUNT_FIELDS
    ) -> dict[str, Any]:
        """The ad account node (name, currency, time zone, status)."""
        act = normalize_account_id(account_id)
        return self._call("GET", act, {"fields": list(fields)}, account_id=act, endpoint="account")

    def list_ad_accounts(
        self, fields: Sequence[str] = DEFAULT_ACCOUNT_FIELDS
    ) -> Iterator[dict[str, Any]]:
        """Every ad account the token can reach (``me/adaccounts``)."""
        return self.iter_rows("me/adaccounts", {"fields": list(fields)}, endpoint="me/adaccounts")

    def iter_entities(
        self,
        account_id: str,
        kind: EntityKind,
        fields: Sequence[str] | None = None,
        effective_status: Sequence[str] | None = None,
        updated_since: dt.datetime | None = None,
        *,
        extra_params: Mapping[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Campaigns, ad sets or ads of one account, optionally only those updated since.

        ``effective_status`` must list deleted/archived statuses explicitly to get them:
        Meta hides them by default.  A naive ``updated_since`` is taken as UTC.
        """
        if kind not in _ENTITY_SINGULAR:
            raise ValueError(f"kind must be one of {sorted(_ENTITY_SINGULAR)}, got {kind!r}")
        act = normalize_account_id(account_id)
        params: dict[str, Any] = {"fields": list(fields or DEFAULT_ENTITY_FIELDS[kind])}
        if effective_status:
            params["effective_status"] = list(effective_status)
        if updated_since is not None:
            if updated_since.tzinfo is None:
                updated_since = updated_since.replace(tzinfo=dt.UTC)
            params["filtering"] = [
                {
                    "field": f"{_ENTITY_SINGULAR[kind]}.updated_time",
                    "operator": "GREATER_THAN",
                    "value": int(updated_since.timestamp()),
                }
            ]
        params.update(extra_params or {})
        return self.iter_rows(f"{act}/{kind}", params, account_id=act, endpoint=f"act/{kind}")

    # ------------------------------------------------------------------ insights

    def iter_insights(
        self,
        account_id: str,
        since: dt.date,
        until: dt.date,
        *,
        level: InsightsLevel = "ad",
        fields: Sequence[str] | None = None,
        action_attribution_windows: Sequence[str] | None = None,
        time_increment: int | Literal["all_days"] = 1,
        breakdowns: Sequence[str] | None = None,
        mode: InsightsMode = "auto",
        extra_params: Mapping[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Insight rows for ``since..until`` (inclusive), streamed page by page.

        One request covers the whole range (``time_increment=1`` → one row per object
        and day).  ``mode="auto"`` uses a synchronous request for ranges of at most
        ``async_threshold_days`` days (default 31) and an async report run above that.
        A synchronous request refused as too large (100/1504018, 2/1504038) before any
        row was yielded is asked again as two synchronous halves, and a half refused
        again as an async report run (:meth:`_sync_first`).  Async runs that fail, are
        skipped or do not finish within ``async_poll_timeout`` are retried as two half
        ranges, recursively down to single days; a single day that still fails raises
        :class:`AsyncJobError`.

        No row is yielded twice: async rows are only fetched after the run completed,
        so a failed run yields nothing before the split.  A synchronous walk that fails
        mid-way (after retries) raises after yielding the earlier pages; callers must
        discard the partial range.
        """
        if until < since:
            raise ValueError(f"until ({until}) is before since ({since})")
        act = normalize_account_id(account_id)
        params: dict[str, Any] = {
            "level": level,
            "fields": list(fields or DEFAULT_INSIGHT_FIELDS),
            "time_increment": time_increment,
        }
        if action_attribution_windows:
            params["action_attribution_windows"] = list(action_attribution_windows)
        if breakdowns:
            params["breakdowns"] = list(breakdowns)
        params.update(extra_params or {})
        days = (until - since).days + 1
        if mode == "async" or (mode == "auto" and days > self.async_threshold_days):
            yield from self.reports.rows(act, since, until, params)
            return

        yield from self._sync_first(act, since, until, params, strict=mode == "sync", halve=True)

    def _sync_first(
        self,
        act: str,
        since: dt.date,
        until: dt.date,
        params: Mapping[str, Any],
        *,
        strict: bool,
        halve: bool,
    ) -> Iterator[dict[str, Any]]:
        """One synchronous request for the range; when Meta refuses it as too large, less.

        Meta's refusal (100/1504018, 2/1504038) says "reduce the amount of data": the two
        halves of the range are asked for synchronously, once (``halve``), and only a
        half refused again becomes an async report run.  Why not async at once: a report
        run waits seconds to minutes before its first row (the sandbox models 12-29 s for
        a 30-day breakdown of 100 ads) and some breakdowns have an async quota, while two
        synchronous halves answer at once; a 30-day age x gender breakdown, refused
        whole, fits in halves.  One level only: a query Meta refuses at any size costs
        three refused calls and two report runs, never a refusal per day.
        """
        yielded = False
        try:
            for page in self.iter_pages(
                f"{act}/insights",
                {**params, "time_range": time_range(since, until)},
                account_id=act,
                endpoint="act/insights",
            ):
                for row in page:
                    yielded = True
                    yield row
        except TooMuchDataError as exc:
            if strict or yielded:
                raise
            split = halve and until > since
            self.logger.info(
                "insights for %s %s..%s too large for a synchronous request (%s); %s",
                act,
                since,
                until,
                exc.code,
                "asking for each half" if split else "using async",
            )
        else:
            return
        if not split:
            yield from self.reports.rows(act, since, until, params)
            return
        for part_since, part_until in halves(since, until):
            yield from self._sync_first(
                act, part_since, part_until, params, strict=False, halve=False
            )

    # ------------------------------------------------------------------ tokens

    def debug_token(
        self, input_token: str | None = None, app_token: str | None = None
    ) -> dict[str, Any]:
        """``GET /debug_token``: the ``data`` object describing ``input_token``.

        Inspects this client's own token by default; ``app_token`` (``app_id|secret``)
        is used as the caller's credential when given, as Meta recommends.
        """
        register_secret(input_token)
        register_secret(app_token)
        body = self._call(
            "GET",
            "debug_token",
            {"input_token": input_token or self._token},
            endpoint="debug_token",
            token=app_token,
        )
        data = required_field(body, "data", endpoint="debug_token")
        if not isinstance(data, dict):
            raise MalformedResponseError(
                "debug_token answer has no 'data' object", field="data", endpoint="debug_token"
            )
        # Read as "invalid" when absent, a broken answer would tell the operator to replace
        # a working token.
        required_field(data, "is_valid", endpoint="debug_token", what="data")
        return data

    def exchange_token(self, app_id: str, app_secret: str, token: str) -> dict[str, Any]:
        """Swap a still-valid user token for a long-lived one (``fb_exchange_token``).

        Returns ``{access_token, token_type, expires_in}``; the new token is registered
        for redaction before it is returned.  An expired token cannot be exchanged.
        """
        for secret in (app_secret, token):
            register_secret(secret)
        body = self._call(
            "GET",
            "oauth/access_token",
            {
                "grant_type": "fb_exchange_token",
                "client_id": app_id,
                "client_secret": app_secret,
                "fb_exchange_token": token,
            },
            endpoint="oauth/access_token",
            auth=False,
        )
        new_token = body.get("access_token")
        if isinstance(new_token, str) and new_token:
            register_secret(new_token)  # before anything can echo it in a message
        else:  # no excerpt: this answer is the one place a credential is expected
            raise MalformedResponseError(
                "oauth/access_token answer has no 'access_token'",
                reason="missing_field",
                field="access_token",
                endpoint="oauth/access_token",
            )
        expires_in = body.get("expires_in")
        if expires_in is not None and not _is_number(expires_in):
            raise MalformedResponseError(
                f"oauth/access_token answer has an 'expires_in' that is not seconds: "
                f"{str(expires_in)[:40]!r}",
                field="expires_in",
                endpoint="oauth/access_token",
            )
        return body

    # ------------------------------------------------------------------ transport

    def _url(self, target: str) -> str:
        if target.startswith(("http://", "https://")):
            return target
        return f"{self.base_url}/{self.api_version}/{target.lstrip('/')}"

    @staticmethod
    def _account_for(path: str, account_id: str | None) -> str | None:
        if account_id:
            return normalize_account_id(account_id)
        head = path.lstrip("/").split("/", 1)[0].split("?", 1)[0]
        return head if head.startswith("act_") and ACCOUNT_RE.match(head) else None

    def _build(
        self,
        method: str,
        target: str,
        params: Mapping[str, Any] | None,
        *,
        account_id: str | None,
        endpoint: str,
        token: str | None,
        auth: bool,
    ) -> _Request:
        absolute = target.startswith(("http://", "https://"))
        if absolute and origin(target) != self._origin:
            raise MalformedResponseError(
                "refusing to send credentials to another host",
                reason="foreign_next",
                account_id=account_id,
                endpoint=endpoint,
            )
        url = strip_auth(target) if absolute else self._url(target)
        encoded = encode_params(params or {})
        query: dict[str, str] = {}
        data: dict[str, str] | None = None
        if method == "GET":
            query.update(encoded)
        else:
            data = encoded
        headers: dict[str, str] = {}
        if auth:
            credential = token or self._token
            if self.token_in_query:
                query["access_token"] = credential
            else:
                headers["Authorization"] = f"Bearer {credential}"
            if self._app_secret:
                proof = (
                    self._proof
                    if credential == self._token and self._proof
                    else appsecret_proof(credential, self._app_secret)
                )
                register_secret(proof)
                query["appsecret_proof"] = proof
        return _Request(method, url, query, data, headers, account_id, endpoint)

    def _call(
        self,
        method: Literal["GET", "POST"],
        target: str,
        params: Mapping[str, Any] | None,
        *,
        account_id: str | None = None,
        endpoint: str | None = None,
        token: str | None = None,
        auth: bool = True,
    ) -> dict[str, Any]:
        absolute = target.startswith(("http://", "https://"))
        account = (
            normalize_account_id(account_id)
            if account_id
            else (None if absolute else self._account_for(target, None))
        )
        request = self._build(
            method,
            target,
            params,
            account_id=account,
            endpoint=endpoint or normalize_endpoint(target),
            token=token,
            auth=auth,
        )
        state = _CallState(started=self._clock())
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(lambda exc: self._retryable(exc, state)),
            wait=lambda rs: self._wait_for(rs, request, state),
            stop=lambda rs: self._should_stop(rs, request, state),
            sleep=lambda seconds: self._retry_sleep(seconds, state),
            before_sleep=lambda rs: self._before_retry(rs, request, state),
            reraise=True,
        )
        try:
            return retrying(self._attempt, request, state)
        except MetaApiError as exc:
            exc.retries = state.retries
            raise

    # -- tenacity hooks ------------------------------------------------------------

    def _used(self, state: _CallState) -> float:
        # Wall time covers real sleeps and slow requests; ``waited`` covers injected
        # sleeps that do not advance the clock (tests), so the budget holds for both.
        return max(self._clock() - state.started, state.waited)

    @staticmethod
    def _retryable(exc: BaseException, state: _CallState) -> bool:
        return isinstance(exc, MetaApiError) and exc.is_transient and not state.give_up

    def _backoff(self, attempt: int, start: float) -> float:
        ceiling = min(self.backoff_max, start * (2 ** max(attempt - 1, 0)))
        return float(ceiling / 2 + random.uniform(0, ceiling / 2))

    def _wait_for(self, rs: tenacity.RetryCallState, request: _Request, state: _CallState) -> float:
        exc = rs.outcome.exception() if rs.outcome else None
        if isinstance(exc, ThrottledError):
            desired = exc.wait_seconds or self._backoff(
                state.throttled, THROTTLE_BACKOFF_START * self.backoff_base
            )
            if exc.blocked:
                desired = min(desired, max(0.0, self.retry_budget_seconds - self._used(state)))
            # App-wide limits (4 app, 341 application) block every account of this app.
            scope = None if exc.code in (4, 341) else request.account_id
            self.pacer.block(scope, desired)
            # The pacer sleeps before the next attempt, so waits are not doubled when
            # the usage headers already scheduled one.
            return 0.0
        return self._backoff(state.transient + state.malformed, self.backoff_base)

    def _should_stop(
        self, rs: tenacity.RetryCallState, request: _Request, state: _CallState
    ) -> bool:
        exc = rs.outcome.exception() if rs.outcome else None
        if state.give_up:
            return True
        if isinstance(exc, ThrottledError):
            if state.throttled > self.max_throttle_retries:
                return True
            upcoming = self.pacer.pending_wait(request.account_id)
            if self._used(state) + upcoming > self.retry_budget_seconds:
                exc.wait_seconds = max(exc.wait_seconds or 0.0, upcoming)
                return True
            return False
        if isinstance(exc, MalformedResponseError) and state.malformed > self.max_malformed_retries:
            return True
        if isinstance(exc, NetworkError) and state.network > MAX_NETWORK_RETRIES:
            return True
        if state.transient + state.malformed > self.max_retries:
            return True
        return self._used(state) + rs.upcoming_sleep > self.retry_budget_seconds

    def _retry_sleep(self, seconds: float, state: _CallState) -> None:
        if seconds > 0:
            state.waited += seconds
            self._sleep(seconds)

    def _before_retry(
        self, rs: tenacity.RetryCallState, request: _Request, state: _CallState
    ) -> None:
        exc = rs.outcome.exception() if rs.outcome else None
        state.retries += 1
        self.stats.record_retry(request.account_id, request.endpoint)
        wait = rs.upcoming_sleep or self.pacer.pending_wait(request.account_id)
        self.logger.warning(
            "retry %d of %s %s for %s in %.1fs after %s: %s",
            state.retries,
            request.method,
            request.endpoint,
            request.account_id or "-",
            wait,
            type(exc).__name__,
            exc,
        )

    # -- one HTTP attempt ----------------------------------------------------------

    def _attempt(self, request: _Request, state: _CallState) -> dict[str, Any]:
        try:
            return self._send(request, state)
        except ThrottledError:
            state.throttled += 1
            raise
        except MalformedResponseError as exc:
            if exc.is_transient:
                state.malformed += 1
            raise
        except MetaApiError as exc:
            if exc.is_transient:
                state.transient += 1
            if isinstance(exc, NetworkError):
                state.network += 1
            raise

    def _pace(self, request: _Request, state: _CallState) -> None:
        pending = self.pacer.pending_wait(request.account_id)
        if pending <= 0:
            return
        if self._used(state) + pending > self.retry_budget_seconds:
            state.give_up = True
            raise ThrottledError(
                f"usage limits require waiting {pending:.0f}s, beyond the retry budget "
                f"of {self.retry_budget_seconds:.0f}s",
                wait_seconds=pending,
                account_id=request.account_id,
                endpoint=request.endpoint,
            )
        slept = self.pacer.wait(request.account_id)
        if slept > 0:
            state.waited += slept
            self.stats.record_throttle_wait(request.account_id, request.endpoint, slept)

    def _send(self, request: _Request, state: _CallState) -> dict[str, Any]:
        self._pace(request, state)
        account, endpoint = request.account_id, request.endpoint
        started = self._clock()
        url = merge_query(request.url, request.params)
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug(
                "%s %s (%s, account %s)",
                request.method,
                redact_url(url),
                endpoint,
                account or "-",
            )
        try:
            response = self._http.request(
                request.method,
                url,
                data=request.data,
                headers=request.headers,
            )
        except (httpx.TransportError, httpx.DecodingError) as exc:
            self.stats.record_call(account, endpoint, ok=False)
            raise transport_error(
                exc, account_id=account, endpoint=endpoint, url=request.url
            ) from None

        self.pacer.observe(account, response.headers)
        body = decode_body(response.content)
        error = classify(
            response.status_code,
            body,
            headers=response.headers,
            account_id=account,
            endpoint=endpoint,
        )
        self.stats.record_call(account, endpoint, ok=error is None)
        self.logger.debug(
            "%s %s for %s -> HTTP %d in %.0f ms",
            request.method,
            endpoint,
            account or "-",
            response.status_code,
            (self._clock() - started) * 1000,
        )
        if error is not None:
            raise error
        if not isinstance(body, dict):
            raise MalformedResponseError(
                f"HTTP {response.status_code} JSON is not an object",
                http_status=response.status_code,
                account_id=account,
                endpoint=endpoint,
            )
        return body
