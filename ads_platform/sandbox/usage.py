"""Rate-limit usage headers computed from a 60-second sliding window of calls.

Each header describes one scope, as Meta's do:

* ``X-App-Usage`` is app-wide: it rises with the app's total load only;
* ``X-Ad-Account-Usage`` is the requested ad account's;
* ``X-Business-Use-Case-Usage`` is keyed by the ad account id (Meta keys it by the
  business or ad account the call counts against) and lists that account's use cases;
* ``X-FB-Ads-Insights-Throttle`` (insights only) carries the app's and the account's.

Formula (documented for the client's pacing tests): every Graph call is recorded
for its account and its use case (``ads_insights`` for insights and report runs,
``ads_management`` for everything else). For an account,

* ``pct(type) = min(100, calls of that type in the last 60 s x P)``,
* ``acc_id_util_pct = min(100, all calls of the account in the last 60 s x P)``,
* app-wide ``call_count = min(100, all calls in the last 60 s x P / 10)``,

with ``P = usage_pct_per_call`` (default 0.1: 1,000 calls per minute per account
to reach 100 %, so tests and a 10-account x 90-day backfill stay well under 75 %).
``total_cputime``/``total_time`` are 50 %/70 % of ``call_count``. While a
``throttled`` fault covers the request every value *of that account* is 100 and
``estimated_time_to_regain_access`` is the fault's ``regain_seconds / 60``
minutes (0 by default, an int when whole, else a float) so tests never sleep
for minutes; the app-wide figures are untouched (one account's throttle is not
app load). Requests without an account carry ``X-Business-Use-Case-Usage: {}``
and ``acc_id_util_pct: 0``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque

WINDOW_SECONDS = 60.0
INSIGHTS = "ads_insights"
MANAGEMENT = "ads_management"
TIER = "standard_access"


def _minutes(seconds: float) -> int | float:
    minutes = seconds / 60.0
    return int(minutes) if minutes == int(minutes) else round(minutes, 4)


def _num(x: float) -> int | float:
    return int(x) if x == int(x) else round(x, 2)


class UsageMeter:
    """Sliding-window call counters per (account, use case) and app-wide."""

    def __init__(self, pct_per_call: float, window_s: float = WINDOW_SECONDS) -> None:
        self.pct_per_call = pct_per_call
        self.window_s = window_s
        self._lock = threading.Lock()
        self._app: deque[float] = deque()
        self._acct: dict[tuple[str, str], deque[float]] = {}

    def _prune(self, q: deque[float], now: float) -> None:
        cutoff = now - self.window_s
        while q and q[0] <= cutoff:
            q.popleft()

    def record(self, account_digits: str | None, use_case: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._app.append(now)
            self._prune(self._app, now)
            if account_digits is not None:
                q = self._acct.setdefault((account_digits, use_case), deque())
                q.append(now)
                self._prune(q, now)

    def _pct(self, calls: int, factor: float = 1.0) -> float:
        return min(100.0, calls * self.pct_per_call * factor)

    def headers(
        self,
        account_digits: str | None,
        use_case: str,
        *,
        insights: bool,
        throttled: bool,
        regain_seconds: float = 0.0,
    ) -> list[tuple[str, str]]:
        now = time.monotonic()
        with self._lock:
            self._prune(self._app, now)
            app_calls = len(self._app)
            per_type: dict[str, int] = {}
            oldest: float | None = None
            if account_digits is not None:
                for kind in (INSIGHTS, MANAGEMENT):
                    q = self._acct.get((account_digits, kind))
                    if q is not None:
                        self._prune(q, now)
                        per_type[kind] = len(q)
                        if q and (oldest is None or q[0] < oldest):
                            oldest = q[0]
        app_pct = self._pct(app_calls, 0.1)  # app load only, never an account's throttle
        app_usage = {
            "call_count": int(app_pct),
            "total_cputime": int(app_pct * 0.5),
            "total_time": int(app_pct * 0.7),
        }
        out = [("X-App-Usage", json.dumps(app_usage))]
        if account_digits is None:
            acc_usage = {
                "acc_id_util_pct": 0,
                "reset_time_duration": 0,
                "ads_api_access_tier": TIER,
            }
            out.append(("X-Ad-Account-Usage", json.dumps(acc_usage)))
            out.append(("X-Business-Use-Case-Usage", "{}"))
            return out
        total = sum(per_type.values())
        acc_pct = 100.0 if throttled else self._pct(total)
        reset = 0 if oldest is None else max(0, int(oldest + self.window_s - now) + 1)
        acc_usage = {
            "acc_id_util_pct": _num(acc_pct),
            "reset_time_duration": reset,
            "ads_api_access_tier": TIER,
        }
        out.append(("X-Ad-Account-Usage", json.dumps(acc_usage)))
        entries = []
        kinds = (use_case, MANAGEMENT if use_case == INSIGHTS else INSIGHTS)
        for kind in kinds:
            pct = 100.0 if throttled else self._pct(per_type.get(kind, 0))
            entries.append(
                {
                    "type": kind,
                    "call_count": int(pct),
                    "total_cputime": int(pct * 0.5),
                    "total_time": int(pct * 0.7),
                    "estimated_time_to_regain_access": _minutes(regain_seconds) if throttled else 0,
                    "ads_api_access_tier": TIER,
                }
            )
        out.append(("X-Business-Use-Case-Usage", json.dumps({account_digits: entries})))
        if insights:
            ins_pct = 100.0 if throttled else self._pct(per_type.get(INSIGHTS, 0))
            throttle = {"app_id_util_pct": _num(app_pct), "acc_id_util_pct": _num(ins_pct)}
            out.append(("X-FB-Ads-Insights-Throttle", json.dumps(throttle)))
        return out
