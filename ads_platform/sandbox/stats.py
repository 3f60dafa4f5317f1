"""Request statistics, so tests can assert how a client used the API.

Every Graph call counts once: an HTTP request under its path, and each item of a
batch under its own path as well (the batch request itself counts under ``/``).
Paths have the version prefix and the query removed (``/act_123/insights``).
``by_op`` counts the same calls by what the router made of them (``insights`` for a
synchronous read, ``report_create`` for ``POST act_x/insights``, ``report`` for a
poll, ``report_insights`` for a run's results...), because one path serves both a
synchronous read (GET) and an async run's creation (POST).
Control paths are not counted.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._total = 0
        self._http = 0
        self._batch_items = 0
        self._faults = 0
        self._by_path: Counter[str] = Counter()
        self._by_op: Counter[str] = Counter()
        self._by_account: Counter[str] = Counter()
        self._by_status: Counter[str] = Counter()
        self._by_fault: Counter[str] = Counter()
        self._in_flight = 0
        self._max_in_flight = 0

    def reset(self) -> None:
        with self._lock:
            in_flight = self._in_flight
            self._reset()
            self._in_flight = in_flight

    def enter(self) -> None:
        """An HTTP Graph request started (tracks the client's concurrency)."""
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def leave(self) -> None:
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def record(
        self,
        path: str,
        account_id: str | None,
        status: int,
        *,
        in_batch: bool,
        fault: str | None,
        op: str = "unknown",
    ) -> None:
        with self._lock:
            self._total += 1
            if in_batch:
                self._batch_items += 1
            else:
                self._http += 1
            self._by_path[path] += 1
            self._by_op[op] += 1
            if account_id is not None:
                self._by_account[account_id] += 1
            self._by_status[str(status)] += 1
            if fault is not None:
                self._faults += 1
                self._by_fault[fault] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self._total,
                "http_requests": self._http,
                "batch_items": self._batch_items,
                "faults_applied": self._faults,
                "by_path": dict(self._by_path),
                "by_op": dict(self._by_op),
                "by_account": dict(self._by_account),
                "by_status": dict(self._by_status),
                "by_fault": dict(self._by_fault),
                "in_flight": self._in_flight,
                "max_in_flight": self._max_in_flight,
            }
