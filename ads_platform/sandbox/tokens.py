"""Access tokens: which accounts a token has touched, and when it expires.

The sandbox accepts any non-empty token. To make per-account token health
testable it keeps a token -> accounts association: a token becomes associated
with an account the first time it is used on that account's paths
(``act_<id>/...`` or one of its report runs). ``/me/adaccounts`` does not
associate.

Expiry of a token, as reported by ``debug_token`` and enforced on every request:

* a token minted by ``oauth/access_token`` expires 60 days after the clock at
  which it was exchanged (``expires_in: 5184000``);
* ``set_token_expiry(account, when)`` sets ``when`` on every token already
  associated with the account and on tokens associated with it later (when a
  token is tied to several such accounts, the earliest wins); ``None`` removes it;
* otherwise a token expires 60 days after the current clock (it never runs out).

A request whose token has expired (expiry <= clock instant) fails with 190/463.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from dataclasses import dataclass, field

from .clock import ClockView

TOKEN_LIFETIME = dt.timedelta(days=60)
DATA_ACCESS_LIFETIME = dt.timedelta(days=90)


@dataclass(slots=True)
class _TokenState:
    accounts: set[str] = field(default_factory=set)
    expires_at: dt.datetime | None = None
    issued_at: dt.datetime | None = None


class TokenBook:
    """Thread-safe token associations and expiries."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, _TokenState] = {}
        self._account_expiry: dict[str, dt.datetime] = {}

    def associate(self, token: str, account_id: str) -> None:
        with self._lock:
            state = self._tokens.setdefault(token, _TokenState())
            if account_id in state.accounts:
                return
            state.accounts.add(account_id)
            forced = self._account_expiry.get(account_id)
            if forced is not None and (state.expires_at is None or forced < state.expires_at):
                state.expires_at = forced

    def accounts_of(self, token: str) -> frozenset[str]:
        with self._lock:
            state = self._tokens.get(token)
            return frozenset(state.accounts) if state is not None else frozenset()

    def set_account_expiry(self, account_id: str, expires_at: dt.datetime | None) -> None:
        with self._lock:
            if expires_at is None:
                self._account_expiry.pop(account_id, None)
            else:
                self._account_expiry[account_id] = expires_at
            for state in self._tokens.values():
                if account_id in state.accounts:
                    state.expires_at = expires_at

    def expires_at(self, token: str, clock: ClockView) -> dt.datetime:
        with self._lock:
            state = self._tokens.get(token)
            explicit = state.expires_at if state is not None else None
        return explicit if explicit is not None else clock.instant + TOKEN_LIFETIME

    def issued_at(self, token: str, clock: ClockView) -> dt.datetime:
        with self._lock:
            state = self._tokens.get(token)
            issued = state.issued_at if state is not None else None
        return issued if issued is not None else clock.instant - dt.timedelta(days=1)

    def is_expired(self, token: str, clock: ClockView) -> bool:
        with self._lock:
            state = self._tokens.get(token)
            explicit = state.expires_at if state is not None else None
        return explicit is not None and explicit <= clock.instant

    def exchange(self, token: str, clock: ClockView) -> str:
        """Mint the long-lived token for ``token`` (deterministic), inheriting its accounts."""
        new = "EAAS" + hashlib.blake2b(("exchange:" + token).encode(), digest_size=24).hexdigest()
        with self._lock:
            old = self._tokens.get(token)
            state = self._tokens.setdefault(new, _TokenState())
            if old is not None:
                state.accounts |= old.accounts
            state.issued_at = clock.instant
            state.expires_at = clock.instant + TOKEN_LIFETIME
        return new
