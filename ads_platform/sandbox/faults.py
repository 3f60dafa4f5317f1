"""Faults on demand: what can go wrong, for whom, and how many times.

A fault has a name, an optional account (``None`` = every Graph request), an
optional count (``None`` = until cleared) and an optional ``after`` (default 0). Each
request that a fault *applies to* consumes one count; at zero the fault disappears.
``after`` = N lets the first N requests the fault would apply to through, answered
normally, and the fault applies from the N+1-th on: a token that expires in the middle
of a run, a page that breaks after the first ones. A fault still letting requests
through is invisible (no usage headers, no ``debug_token`` verdict) and does not hide
the faults added after it.

Which requests a fault applies to depends on its name (``graph.GraphApi._fault_names``):
``zeros`` only touches insights pages, ``looping_next``/``truncated_page`` only paged
lists, the async faults only report creation and polls of unfinished runs; the rest
apply to every Graph request in scope. Control paths (``/__sandbox/*``) are never faulted.

When several faults apply, the oldest wins and only it is consumed.

``connection_reset`` cuts the connection without an answer and with a TCP reset
(``SO_LINGER`` 0), so the client reads ``ECONNRESET`` as it does when a proxy or a
load balancer drops it; ``timeout`` with ``drop`` closes it cleanly after its delay.

``throttled`` answers with Meta's throttle codes in turn (17 user limit, 80000 ads
insights Business Use Case limit, 613 custom limit); ``drop_field`` removes one field
(``field``) from the answer's object and from every object of its ``data``, as a
changed or broken API would.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from .wire import GraphError, dumps

FAULT_NAMES: tuple[str, ...] = (
    "token_expired",
    "token_revoked",
    "permission_denied",
    "throttled",
    "server_error",
    "timeout",
    "connection_reset",
    "malformed_json",
    "truncated_page",
    "looping_next",
    "async_job_failed",
    "async_job_stuck",
    "zeros",
    "drop_field",
)
TOKEN_FAULTS = frozenset({"token_expired", "token_revoked"})
GENERAL_FAULTS = frozenset(
    {
        "token_expired",
        "token_revoked",
        "permission_denied",
        "throttled",
        "server_error",
        "timeout",
        "connection_reset",
        "malformed_json",
        "drop_field",
    }
)
LIST_FAULTS = frozenset({"truncated_page", "looping_next"})
INSIGHTS_FAULTS = frozenset({"zeros"})
ASYNC_FAULTS = frozenset({"async_job_failed", "async_job_stuck"})
DEFAULT_TIMEOUT_SECONDS = 3.0


@dataclass(slots=True)
class Fault:
    """An active fault. ``hits`` counts the requests it has affected so far; ``after``
    how many more requests it lets through before it applies."""

    id: int
    name: str
    account_id: str | None
    remaining: int | None
    seconds: float = DEFAULT_TIMEOUT_SECONDS
    regain_seconds: float = 0.0
    drop: bool = False
    field: str | None = None
    hits: int = 0
    after: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "fault": self.name,
            "account_id": self.account_id,
            "count": self.remaining,
            "seconds": self.seconds,
            "regain_seconds": self.regain_seconds,
            "drop": self.drop,
            "field": self.field,
            "hits": self.hits,
            "after": self.after,
        }


@dataclass(frozen=True, slots=True)
class FaultHit:
    """A consumed fault: a snapshot plus which hit this was (1-based; alternations use it)."""

    name: str
    account_id: str | None
    hit: int
    seconds: float
    regain_seconds: float
    drop: bool
    field: str | None = None


class FaultBook:
    """Thread-safe registry of active faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1

    def add(
        self,
        name: str,
        account_id: str | None = None,
        count: int | None = None,
        *,
        seconds: float | None = None,
        regain_seconds: float | None = None,
        drop: bool = False,
        field: str | None = None,
        after: int | None = None,
    ) -> Fault:
        if name not in FAULT_NAMES:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULT_NAMES)}")
        if count is not None and count < 1:
            raise ValueError("count must be >= 1 (or absent for unlimited)")
        if after is not None and after < 0:
            raise ValueError("after must be >= 0 (requests let through before the fault applies)")
        if name == "drop_field" and not field:
            raise ValueError("drop_field needs the name of the field to drop (field)")
        with self._lock:
            fault = Fault(
                id=self._next_id,
                name=name,
                account_id=account_id,
                remaining=count,
                seconds=DEFAULT_TIMEOUT_SECONDS if seconds is None else float(seconds),
                regain_seconds=0.0 if regain_seconds is None else float(regain_seconds),
                drop=drop,
                field=field,
                after=after or 0,
            )
            self._next_id += 1
            self._faults.append(fault)
            return fault

    def clear(self) -> int:
        with self._lock:
            n = len(self._faults)
            self._faults.clear()
            return n

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self._faults]

    @staticmethod
    def _matches(fault: Fault, scope: frozenset[str], names: frozenset[str]) -> bool:
        return fault.name in names and (fault.account_id is None or fault.account_id in scope)

    def take(self, scope: frozenset[str], names: frozenset[str]) -> FaultHit | None:
        """Consume one count of the oldest fault among ``names`` that covers ``scope``.

        Faults still letting requests through (``after``) count this one and step aside.
        """
        if not self._faults:  # lock-free fast path for the common no-fault case
            return None
        with self._lock:
            for fault in self._faults:
                if self._matches(fault, scope, names):
                    if fault.after > 0:
                        fault.after -= 1
                        continue
                    fault.hits += 1
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults.remove(fault)
                    return FaultHit(
                        name=fault.name,
                        account_id=fault.account_id,
                        hit=fault.hits,
                        seconds=fault.seconds,
                        regain_seconds=fault.regain_seconds,
                        drop=fault.drop,
                        field=fault.field,
                    )
        return None

    def peek(self, scope: frozenset[str], names: frozenset[str]) -> Fault | None:
        """The fault that would apply, without consuming it (debug_token, usage headers)."""
        if not self._faults:
            return None
        with self._lock:
            for fault in self._faults:
                if fault.after == 0 and self._matches(fault, scope, names):
                    return fault
        return None


#: ``(code, message)`` of the throttle errors a ``throttled`` fault answers in turn.
_THROTTLES: tuple[tuple[int, str], ...] = (
    (17, "(#17) User request limit reached"),
    (
        80000,
        "(#80000) There have been too many calls from this ad-account. Wait a bit and try "
        "again. For more info, please refer to "
        "https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-management.",
    ),
    (613, "(#613) Calls to this api have exceeded the rate limit."),
)


def throttle_error(hit: int) -> GraphError:
    """The error of the ``hit``-th (1-based) request a ``throttled`` fault affects."""
    code, message = _THROTTLES[(hit - 1) % len(_THROTTLES)]
    user = code == 17
    return GraphError(
        message,
        code=code,
        subcode=2446079,
        is_transient=True,
        user_title="Ad Account Has Too Many API Calls" if user else None,
        user_msg="There have been too many calls from this ad-account. "
        "Please wait a bit and try again."
        if user
        else None,
    )


def drop_field(body: bytes, name: str) -> bytes:
    """``body`` without ``name`` in its top-level object and in each object of ``data``.

    Bodies that are not a JSON object (errors rendered as text, truncated pages) are
    returned unchanged.
    """
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    if not isinstance(parsed, dict):
        return body
    parsed.pop(name, None)
    data = parsed.get("data")
    items = data if isinstance(data, list) else [data]
    for item in items:
        if isinstance(item, dict):
            item.pop(name, None)
    return dumps(parsed)
