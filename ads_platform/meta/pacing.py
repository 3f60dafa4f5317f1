"""Slow down before Meta throttles us, using the usage Meta reports on every response.

Meta starts throttling at 100 % of any usage metric and then makes the caller wait
(often minutes) before anything works again; extractors that only react to the throttle
error lose far more time than they would by spacing calls earlier.  So every response's
usage headers are parsed and, before the next call, we sleep according to
:func:`decide_wait`.

Each header is about one *scope*, and a wait is only imposed on that scope:

* ``X-Ad-Account-Usage`` and the ``acc_id_util_pct`` of ``X-FB-Ads-Insights-Throttle``
  describe the ad account the request was for;
* ``X-Business-Use-Case-Usage`` is keyed by the object Meta counts against: the ad
  account itself (then it paces that account) or a business (then it paces every
  account whose responses reported that business);
* ``X-App-Usage`` and ``app_id_util_pct`` are app-wide and pace every account.

So a throttled account waits alone and healthy accounts keep their pace; only app-wide
usage slows everyone.  The decision is a pure function and the :class:`Pacer` takes its
clock and sleep as arguments, so the policy is unit-tested without waiting.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_POLICY",
    "ObjectUsage",
    "Pacer",
    "PacingPolicy",
    "UsageReport",
    "decide_wait",
    "parse_usage_headers",
]

APP_KEY = "_app"
#: Prefix of the pacing scope of a business named in ``X-Business-Use-Case-Usage``.
BUSINESS_PREFIX = "business:"

_logger = logging.getLogger("ads_platform.meta")


@dataclass(frozen=True)
class PacingPolicy:
    """Usage thresholds (percent) and the waits they trigger (seconds).

    Defaults: nothing below 75 %, 2 s from 75 %, 10 s from 90 %, and at 100 % the time
    Meta says it needs (``estimated_time_to_regain_access`` or the account's
    ``reset_time_duration``), else 60 s.  ``max_wait`` caps a single pacing sleep so a
    garbage header cannot park a worker for a day.
    """

    low_pct: float = 75.0
    high_pct: float = 90.0
    short_wait: float = 2.0
    long_wait: float = 10.0
    full_wait: float = 60.0
    max_wait: float = 3600.0


DEFAULT_POLICY = PacingPolicy()


@dataclass(frozen=True)
class ObjectUsage:
    """Business Use Case usage of one object (ad account or business) Meta keyed it by."""

    pct: float = 0.0
    regain_seconds: float = 0.0


@dataclass(frozen=True)
class UsageReport:
    """Usage read from one response's headers (percentages 0-100+, times in seconds).

    ``account_pct``/``regain_seconds`` are the highest values of any non-app header (what
    a throttle error on this response should wait for); the pacer uses the scoped
    fields: ``ad_account_pct`` (about the requested account) and ``by_object``.
    """

    account_pct: float = 0.0
    app_pct: float = 0.0
    regain_seconds: float = 0.0
    reset_seconds: float = 0.0
    #: Highest percentage per Business Use Case type (ads_insights, ads_management…).
    by_use_case: Mapping[str, float] = field(default_factory=dict)
    #: Whether account-level / app-level usage headers were present: absent headers
    #: mean "no news", not "usage fell to zero", so they must not reset the state.
    account_seen: bool = False
    app_seen: bool = False
    #: From ``X-Ad-Account-Usage`` / ``X-FB-Ads-Insights-Throttle``: the requested account.
    ad_account_pct: float = 0.0
    ad_account_seen: bool = False
    #: ``X-Business-Use-Case-Usage`` per object id, as Meta keyed it.
    by_object: Mapping[str, ObjectUsage] = field(default_factory=dict)

    @property
    def seen(self) -> bool:
        return self.account_seen or self.app_seen


def _num(value: object) -> float:
    """Best-effort non-negative float; garbage counts as 0 (no information)."""
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip().rstrip("%"))
        except ValueError:
            return 0.0
    else:
        return 0.0
    if math.isnan(result) or math.isinf(result) or result < 0:
        return 0.0
    return result


def _json_header(headers: Mapping[str, str], name: str) -> Any:
    raw = headers.get(name)
    if raw is None:
        lowered = name.lower()
        raw = next((v for k, v in headers.items() if k.lower() == lowered), None)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, TypeError):
        return None


def _buc_entries(value: Any) -> Iterable[tuple[str | None, Mapping[str, Any]]]:
    """``(object id, entry)`` pairs; a bare list (no object id) yields ``None`` ids."""
    if isinstance(value, Mapping):
        for key, entries in value.items():
            if isinstance(entries, Mapping):
                yield str(key), entries
            elif isinstance(entries, list):
                yield from ((str(key), e) for e in entries if isinstance(e, Mapping))
    elif isinstance(value, list):
        yield from ((None, e) for e in value if isinstance(e, Mapping))


_BUC_METRICS = ("call_count", "total_cputime", "total_time")


def parse_usage_headers(headers: Mapping[str, str]) -> UsageReport:
    """Read the four usage headers; malformed or missing values contribute nothing.

    Business Use Case entries keep the object id Meta keyed them by (``by_object``), so
    the pacer can tell the requested account's usage from a business's.  An entry
    without an object id (a bare list) is taken to be about the requested account.
    """
    account_pct = app_pct = regain = reset = 0.0
    ad_account_pct = 0.0
    by_use_case: dict[str, float] = {}
    by_object: dict[str, ObjectUsage] = {}
    account_seen = app_seen = ad_account_seen = False

    buc = _json_header(headers, "X-Business-Use-Case-Usage")
    for object_id, entry in _buc_entries(buc):
        account_seen = True
        pct = max((_num(entry.get(m)) for m in _BUC_METRICS), default=0.0)
        entry_regain = _num(entry.get("estimated_time_to_regain_access")) * 60.0
        account_pct = max(account_pct, pct)
        regain = max(regain, entry_regain)
        use_case = entry.get("type")
        if isinstance(use_case, str):
            by_use_case[use_case] = max(by_use_case.get(use_case, 0.0), pct)
        if object_id is None:
            ad_account_seen = True
            ad_account_pct = max(ad_account_pct, pct)
            continue
        old = by_object.get(object_id, ObjectUsage())
        by_object[object_id] = ObjectUsage(
            pct=max(old.pct, pct), regain_seconds=max(old.regain_seconds, entry_regain)
        )

    acc = _json_header(headers, "X-Ad-Account-Usage")
    if isinstance(acc, Mapping):
        account_seen = ad_account_seen = True
        pct = _num(acc.get("acc_id_util_pct"))
        account_pct = max(account_pct, pct)
        ad_account_pct = max(ad_account_pct, pct)
        reset = max(reset, _num(acc.get("reset_time_duration")))

    app = _json_header(headers, "X-App-Usage")
    if isinstance(app, Mapping):
        app_seen = True
        app_pct = max(app_pct, *(_num(app.get(m)) for m in _BUC_METRICS))

    insights = _json_header(headers, "X-FB-Ads-Insights-Throttle")
    if isinstance(insights, Mapping):
        if "acc_id_util_pct" in insights:
            account_seen = ad_account_seen = True
            pct = _num(insights.get("acc_id_util_pct"))
            account_pct = max(account_pct, pct)
            ad_account_pct = max(ad_account_pct, pct)
        if "app_id_util_pct" in insights:
            app_seen = True
            app_pct = max(app_pct, _num(insights.get("app_id_util_pct")))

    return UsageReport(
        account_pct=account_pct,
        app_pct=app_pct,
        regain_seconds=regain,
        reset_seconds=reset,
        by_use_case=by_use_case,
        account_seen=account_seen,
        app_seen=app_seen,
        ad_account_pct=ad_account_pct,
        ad_account_seen=ad_account_seen,
        by_object=by_object,
    )


def decide_wait(
    usage_pct: float,
    regain_seconds: float = 0.0,
    *,
    reset_seconds: float = 0.0,
    policy: PacingPolicy = DEFAULT_POLICY,
) -> float:
    """Seconds to wait before the next call, given the latest usage.

    Meta's own estimate wins whenever it is positive: it means we are already blocked.
    """
    if regain_seconds > 0:
        return min(regain_seconds, policy.max_wait)
    if usage_pct >= 100:
        return min(reset_seconds if reset_seconds > 0 else policy.full_wait, policy.max_wait)
    if usage_pct >= policy.high_pct:
        return policy.long_wait
    if usage_pct >= policy.low_pct:
        return policy.short_wait
    return 0.0


def account_key(account_id: str | None) -> str:
    """Normalize ``123`` and ``act_123`` to one key; ``None`` is the app-wide key."""
    if not account_id:
        return APP_KEY
    return account_id if account_id.startswith("act_") else f"act_{account_id}"


class Pacer:
    """Per-scope "not before" times derived from usage headers and throttle errors.

    Scopes: one per ad account, one per business named in Business Use Case headers
    (linked to the accounts whose responses named it) and one app-wide.  A call for an
    account waits for its own scope, its businesses and the app; never for another
    account's.  One pacer serves every client of a process (``resources.shared_pacer``)
    because the app budget is shared.

    Thread-safe: Dagster pulls several accounts in parallel through one pacer.  Sleeps
    happen outside the lock, so a throttled account's wait never holds up another
    account's thread.  After a wait is served, the deadlines it covered are cleared, so an
    injected fake sleep (tests) does not make every later call wait again.
    """

    def __init__(
        self,
        policy: PacingPolicy = DEFAULT_POLICY,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        logger: logging.Logger | None = None,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._sleep = sleep
        self._logger = logger or _logger
        self._lock = threading.Lock()
        self._paced_until: dict[str, float] = {}
        self._blocked_until: dict[str, float] = {}
        self._latest: dict[str, UsageReport] = {}
        #: account key -> business scopes its responses reported usage for.
        self._businesses: dict[str, set[str]] = {}
        self._waits = 0
        self._wait_seconds = 0.0

    def observe(self, account_id: str | None, headers: Mapping[str, str]) -> UsageReport:
        """Record the usage a response reported and schedule the next allowed call."""
        report = parse_usage_headers(headers)
        if not report.seen:
            return report
        now = self._clock()
        key = account_key(account_id)
        with self._lock:
            if key != APP_KEY and report.account_seen:
                self._latest[key] = report
                self._observe_account(key, report, now)
            if report.app_seen:
                self._latest[APP_KEY] = UsageReport(app_pct=report.app_pct, app_seen=True)
                # App-wide usage only: an account's throttle estimate says nothing about
                # the app's budget and must not make other accounts wait.
                self._paced_until[APP_KEY] = now + decide_wait(report.app_pct, policy=self.policy)
        return report

    def _observe_account(self, key: str, report: UsageReport, now: float) -> None:
        """Schedule ``key`` and the businesses its response named (lock held)."""
        own_pct, own_regain, own_seen = report.ad_account_pct, 0.0, report.ad_account_seen
        for object_id, usage in report.by_object.items():
            if account_key(object_id) == key:  # Meta keys ad-account usage by the account id
                own_pct = max(own_pct, usage.pct)
                own_regain = max(own_regain, usage.regain_seconds)
                own_seen = True
                continue
            scope = BUSINESS_PREFIX + object_id
            self._businesses.setdefault(key, set()).add(scope)
            self._paced_until[scope] = now + decide_wait(
                usage.pct, usage.regain_seconds, policy=self.policy
            )
        if own_seen:
            self._paced_until[key] = now + decide_wait(
                own_pct, own_regain, reset_seconds=report.reset_seconds, policy=self.policy
            )

    def block(self, account_id: str | None, seconds: float) -> None:
        """Forbid calls for ``account_id`` for ``seconds`` (from a throttle error)."""
        if seconds <= 0:
            return
        until = self._clock() + min(seconds, self.policy.max_wait)
        key = account_key(account_id)
        with self._lock:
            self._blocked_until[key] = max(self._blocked_until.get(key, 0.0), until)

    def _scopes(self, key: str) -> tuple[str, ...]:
        """Every scope a call for ``key`` must respect (lock held)."""
        if key == APP_KEY:
            return (APP_KEY,)
        return (key, APP_KEY, *sorted(self._businesses.get(key, ())))

    def _target(self, scopes: Iterable[str]) -> float:
        return max(
            (d.get(k, -math.inf) for d in (self._paced_until, self._blocked_until) for k in scopes),
            default=-math.inf,
        )

    def pending_wait(self, account_id: str | None) -> float:
        """Seconds the next call for ``account_id`` would wait now (0 if none)."""
        key = account_key(account_id)
        with self._lock:
            return max(0.0, self._target(self._scopes(key)) - self._clock())

    def wait(self, account_id: str | None) -> float:
        """Sleep until a call for ``account_id`` is allowed; return the seconds slept."""
        key = account_key(account_id)
        with self._lock:
            scopes = self._scopes(key)
            target = self._target(scopes)
            delay = target - self._clock()
            usage = self._latest.get(key)
            app_usage = self._latest.get(APP_KEY, UsageReport())
        if delay <= 0:
            return 0.0
        self._logger.info(
            "pacing %s: waiting %.1fs (account usage %.0f%%, app usage %.0f%%)",
            key,
            delay,
            usage.account_pct if usage else 0.0,
            app_usage.app_pct,
        )
        self._sleep(delay)  # outside the lock: other accounts' threads keep going
        with self._lock:
            self._waits += 1
            self._wait_seconds += delay
            for deadlines in (self._paced_until, self._blocked_until):
                for k in scopes:
                    if deadlines.get(k, math.inf) <= target:
                        deadlines.pop(k, None)
        return delay

    def usage(self, account_id: str | None) -> UsageReport | None:
        """Latest usage seen for the account (or the app when ``None``)."""
        with self._lock:
            return self._latest.get(account_key(account_id))

    def totals(self) -> dict[str, float]:
        """How often and how long this pacer slept, for run metadata."""
        with self._lock:
            return {"throttle_waits": self._waits, "throttle_seconds": round(self._wait_seconds, 3)}
