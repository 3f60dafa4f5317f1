"""Count what the Graph client did, per ad account and endpoint.

Meta's budgets are per account and per use case, and an agency pays for each account's
pull in API calls.  Assets report "API calls used" for their own work by taking a
:meth:`CallStats.snapshot` before and after and calling :func:`diff`, so one shared
``CallStats`` can serve concurrent assets without resetting anything.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["NO_ACCOUNT", "CallStats", "Counts", "diff"]

#: Account key for calls that are not about one ad account (debug_token, me/adaccounts).
NO_ACCOUNT = "_none"


@dataclass
class Counts:
    """Counters for one (account, endpoint) cell; ``calls`` counts HTTP requests sent."""

    calls: int = 0
    errors: int = 0
    pages: int = 0
    retries: int = 0
    throttle_waits: int = 0
    throttle_seconds: float = 0.0
    rows: int = 0

    def add(self, other: Counts) -> None:
        self.calls += other.calls
        self.errors += other.errors
        self.pages += other.pages
        self.retries += other.retries
        self.throttle_waits += other.throttle_waits
        self.throttle_seconds += other.throttle_seconds
        self.rows += other.rows

    def as_dict(self) -> dict[str, float | int]:
        data: dict[str, float | int] = asdict(self)
        data["throttle_seconds"] = round(self.throttle_seconds, 3)
        return data


def _key(account_id: str | None) -> str:
    if not account_id:
        return NO_ACCOUNT
    return account_id if account_id.startswith("act_") else f"act_{account_id}"


class CallStats:
    """Thread-safe counters keyed by (account, normalized endpoint)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cells: dict[tuple[str, str], Counts] = {}

    def _cell(self, account_id: str | None, endpoint: str) -> Counts:
        key = (_key(account_id), endpoint)
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = Counts()
        return cell

    def record_call(self, account_id: str | None, endpoint: str, *, ok: bool = True) -> None:
        with self._lock:
            cell = self._cell(account_id, endpoint)
            cell.calls += 1
            if not ok:
                cell.errors += 1

    def record_page(self, account_id: str | None, endpoint: str, rows: int = 0) -> None:
        with self._lock:
            cell = self._cell(account_id, endpoint)
            cell.pages += 1
            cell.rows += rows

    def record_retry(self, account_id: str | None, endpoint: str) -> None:
        with self._lock:
            self._cell(account_id, endpoint).retries += 1

    def record_throttle_wait(self, account_id: str | None, endpoint: str, seconds: float) -> None:
        with self._lock:
            cell = self._cell(account_id, endpoint)
            cell.throttle_waits += 1
            cell.throttle_seconds += seconds

    def _aggregate(self, account: str | None) -> dict[str, Any]:
        totals = Counts()
        by_endpoint: dict[str, dict[str, float | int]] = {}
        for (acct, endpoint), cell in self._cells.items():
            if account is not None and acct != account:
                continue
            totals.add(cell)
            if account is not None:
                by_endpoint[endpoint] = cell.as_dict()
        result: dict[str, Any] = {"totals": totals.as_dict()}
        if account is not None:
            result["by_endpoint"] = by_endpoint
        return result

    def for_account(self, account_id: str | None) -> dict[str, Any]:
        """``{"totals": {...}, "by_endpoint": {endpoint: {...}}}`` for one account."""
        with self._lock:
            return self._aggregate(_key(account_id))

    def snapshot(self) -> dict[str, Any]:
        """Everything as plain dicts: totals plus per account and per endpoint."""
        with self._lock:
            accounts = sorted({acct for acct, _ in self._cells})
            return {
                "totals": self._aggregate(None)["totals"],
                "by_account": {acct: self._aggregate(acct) for acct in accounts},
            }

    def total(self, field: str, account_id: str | None = None) -> float:
        """One counter summed over endpoints (and accounts unless one is given)."""
        with self._lock:
            return sum(
                float(getattr(cell, field))
                for (acct, _), cell in self._cells.items()
                if account_id is None or acct == _key(account_id)
            )


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """``after - before`` for nested snapshot dicts; keys only in ``after`` count from 0.

    Leaves that did not change are dropped, so the result is "what this asset used".
    """
    result: dict[str, Any] = {}
    for key, value in after.items():
        old = before.get(key)
        if isinstance(value, Mapping):
            nested = diff(old if isinstance(old, Mapping) else {}, value)
            if nested:
                result[key] = nested
        elif isinstance(value, int | float) and not isinstance(value, bool):
            base = old if isinstance(old, int | float) and not isinstance(old, bool) else 0
            delta = value - base
            if delta:
                result[key] = round(delta, 3) if isinstance(delta, float) else delta
    return result
