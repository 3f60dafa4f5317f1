"""Slow down before Meta throttles us, using the usage Meta reports on every response.

Meta starts throttling at 100 % of any usage metric and then makes the caller wait
(often minutes) before anything works again; extractors that only react to the throttle
error lose far more time than they would by spacing calls earlier.  So every response's
usage headers are parsed, the latest value per ad account and for the app is kept, and
before the next call to that account we sleep according to :func:`decide_wait`.

The decision is a pure function and the :class:`Pacer` takes its clock and sleep as
arguments, so the policy is unit-tested without waiting.
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
    "Pacer",
    "PacingPolicy",
    "UsageReport",
    "decide_wait",
    "parse_usage_headers",
]

APP_KEY = "_app"

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
class UsageReport:
    """Usage read from one response's headers (percentages 0-100+, times in seconds)."""

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

    @property
    def seen(self) -> bool:
        return self.account_seen or self.app_seen

    @property
    def max_pct(self) -> float:
        return max(self.account_pct, self.app_pct)


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


def _buc_entries(value: Any) -> Iterable[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        for entries in value.values():
            if isinstance(entries, Mapping):
                yield entries
            elif isinstance(entries, list):
                yield from (e for e in entries if isinstance(e, Mapping))
    elif isinstance(value, list):
        yield from (e for e in value if isinstance(e, Mapping))


_BUC_METRICS = ("call_count", "total_cputime", "total_time")


def parse_usage_headers(headers: Mapping[str, str]) -> UsageReport:
    """Read the four usage headers; malformed or missing values contribute nothing.

    Business Use Case entries are keyed by a business or account id that need not match
    the requested account, so every entry in a response is attributed to the account
    the request was for (a conservative choice: it can only make us slower).
    """
    account_pct = app_pct = regain = reset = 0.0
    by_use_case: dict[str, float] = {}
    account_seen = app_seen = False

    buc = _json_header(headers, "X-Business-Use-Case-Usage")
    for entry in _buc_entries(buc):
        account_seen = True
        pct = max((_num(entry.get(m)) for m in _BUC_METRICS), default=0.0)
        account_pct = max(account_pct, pct)
        regain = max(regain, _num(entry.get("estimated_time_to_regain_access")) * 60.0)
        use_case = entry.get("type")
        if isinstance(use_case, str):
            by_use_case[use_case] = max(by_use_case.get(use_case, 0.0), pct)

    acc = _json_header(headers, "X-Ad-Account-Usage")
    if isinstance(acc, Mapping):
        account_seen = True
        account_pct = max(account_pct, _num(acc.get("acc_id_util_pct")))
        reset = max(reset, _num(acc.get("reset_time_duration")))

    app = _json_header(headers, "X-App-Usage")
    if isinstance(app, Mapping):
        app_seen = True
        app_pct = max(app_pct, *(_num(app.get(m)) for m in _BUC_METRICS))

    insights = _json_header(headers, "X-FB-Ads-Insights-Throttle")
    if isinstance(insights, Mapping):
        if "acc_id_util_pct" in insights:
            account_seen = True
            account_pct = max(account_pct, _num(insights.get("acc_id_util_pct")))
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
    """Per-account and app-wide "not before" times derived from usage headers.

    Thread-safe: Dagster may pull several accounts in parallel through one pacer.  Sleeps
    happen outside the lock.  After a wait is served, the deadlines it covered are
    cleared, so an injected fake sleep (tests) does not make every later call wait again.
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
                wait = decide_wait(
                    report.account_pct,
                    report.regain_seconds,
                    reset_seconds=report.reset_seconds,
                    policy=self.policy,
                )
                self._paced_until[key] = now + wait
            if report.app_seen:
                self._latest[APP_KEY] = UsageReport(app_pct=report.app_pct, app_seen=True)
                # Meta's estimate (from the Business Use Case header) may shorten the
                # app-wide wait but never lengthen it: it describes one account's use
                # case, and a long account block must not stop every other account.
                app_wait = decide_wait(report.app_pct, policy=self.policy)
                if report.regain_seconds > 0:
                    app_wait = min(app_wait, report.regain_seconds)
                self._paced_until[APP_KEY] = now + app_wait
        return report

    def block(self, account_id: str | None, seconds: float) -> None:
        """Forbid calls for ``account_id`` for ``seconds`` (from a throttle error)."""
        if seconds <= 0:
            return
        until = self._clock() + min(seconds, self.policy.max_wait)
        key = account_key(account_id)
        with self._lock:
            self._blocked_until[key] = max(self._blocked_until.get(key, 0.0), until)

    def _target(self, key: str) -> float:
        keys = (key, APP_KEY) if key != APP_KEY else (APP_KEY,)
        return max(
            (d.get(k, -math.inf) for d in (self._paced_until, self._blocked_until) for k in keys),
            default=-math.inf,
        )

    def pending_wait(self, account_id: str | None) -> float:
        """Seconds the next call for ``account_id`` would wait now (0 if none)."""
        key = account_key(account_id)
        with self._lock:
            return max(0.0, self._target(key) - self._clock())

    def wait(self, account_id: str | None) -> float:
        """Sleep until a call for ``account_id`` is allowed; return the seconds slept."""
        key = account_key(account_id)
        with self._lock:
            target = self._target(key)
            delay = target - self._clock()
        if delay <= 0:
            return 0.0
        usage = self._latest.get(key)
        self._logger.info(
            "pacing %s: waiting %.1fs (account usage %.0f%%, app usage %.0f%%)",
            key,
            delay,
            usage.account_pct if usage else 0.0,
            self._latest.get(APP_KEY, UsageReport()).app_pct,
        )
        self._sleep(delay)
        with self._lock:
            self._waits += 1
            self._wait_seconds += delay
            for deadlines in (self._paced_until, self._blocked_until):
                for k in (key, APP_KEY):
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
