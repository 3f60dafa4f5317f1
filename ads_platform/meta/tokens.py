"""Token health and encrypted token storage.

Meta does not announce that a token will stop working: it expires (~60 days for
long-lived user tokens), is revoked when a password changes, or loses a scope.  The
platform checks each token with ``debug_token`` ahead of time (:class:`TokenInfo`) so
the alert arrives days before a pull fails, and keeps tokens it refreshed itself in an
encrypted file (:class:`TokenStore`) rather than in plain text next to the code.

Which token an account uses is decided in one place, :meth:`TokenStore.choose`: a
refreshed token is only newer than the environment variable's token it was refreshed
from.  The store remembers that origin as a keyed fingerprint, so when the operator
puts a different token in the variable (the thing every re-authorize message asks
for), the variable wins and the stale stored token is dropped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from ads_platform import atomic
from ads_platform.meta.redaction import register_secret

__all__ = [
    "DEFAULT_KEY_ENV",
    "REQUIRED_SCOPES",
    "ChosenToken",
    "StoredToken",
    "TokenInfo",
    "TokenStore",
    "TokenStoreError",
    "appsecret_proof",
]

REQUIRED_SCOPES: tuple[str, ...] = ("ads_read",)
DEFAULT_KEY_ENV = "ADS_PLATFORM_TOKEN_KEY"


def appsecret_proof(token: str, secret: str) -> str:
    """hex HMAC-SHA256(key=app secret, msg=token), as Meta requires with "Require App Secret"."""
    return hmac.new(secret.encode("utf-8"), token.encode("utf-8"), hashlib.sha256).hexdigest()


def _timestamp(value: object) -> dt.datetime | None:
    """Unix seconds to aware UTC; 0/absent/garbage → None.

    ``expires_at == 0`` is read as "never expires" (system-user tokens).  Meta's docs
    do not state this outright (unconfirmed); callers should treat ``None`` as "no
    known expiry", not as a guarantee.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    if seconds <= 0:
        return None
    try:
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True)
class TokenInfo:
    """What ``debug_token`` says about one token, reduced to what operators act on."""

    is_valid: bool
    expires_at: dt.datetime | None
    data_access_expires_at: dt.datetime | None
    issued_at: dt.datetime | None
    scopes: tuple[str, ...]
    missing_scopes: tuple[str, ...]
    checked_at: dt.datetime
    app_id: str | None = None
    user_id: str | None = None
    token_type: str | None = None
    error_code: int | None = None
    error_subcode: int | None = None
    error_message: str | None = None
    granular_scopes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_debug_token(
        cls,
        data: Mapping[str, Any],
        *,
        required_scopes: Iterable[str] = REQUIRED_SCOPES,
        now: dt.datetime | None = None,
    ) -> TokenInfo:
        """Build from the ``data`` object of ``GET /debug_token`` (tolerant of missing keys)."""
        raw_scopes = data.get("scopes")
        scopes = (
            tuple(s for s in raw_scopes if isinstance(s, str))
            if isinstance(raw_scopes, list)
            else ()
        )
        missing = tuple(s for s in required_scopes if s not in scopes)
        granular: dict[str, tuple[str, ...]] = {}
        raw_granular = data.get("granular_scopes")
        if isinstance(raw_granular, list):
            for item in raw_granular:
                if isinstance(item, Mapping) and isinstance(item.get("scope"), str):
                    targets = item.get("target_ids")
                    granular[item["scope"]] = (
                        tuple(str(t) for t in targets) if isinstance(targets, list) else ()
                    )
        raw_error = data.get("error")
        error: Mapping[str, Any] = raw_error if isinstance(raw_error, Mapping) else {}
        return cls(
            is_valid=data.get("is_valid") is True,
            expires_at=_timestamp(data.get("expires_at")),
            data_access_expires_at=_timestamp(data.get("data_access_expires_at")),
            issued_at=_timestamp(data.get("issued_at")),
            scopes=scopes,
            missing_scopes=missing,
            checked_at=now or dt.datetime.now(dt.UTC),
            app_id=str(data["app_id"]) if data.get("app_id") is not None else None,
            user_id=str(data["user_id"]) if data.get("user_id") is not None else None,
            token_type=data.get("type") if isinstance(data.get("type"), str) else None,
            error_code=error.get("code") if isinstance(error.get("code"), int) else None,
            error_subcode=error.get("subcode") if isinstance(error.get("subcode"), int) else None,
            error_message=error.get("message") if isinstance(error.get("message"), str) else None,
            granular_scopes=granular,
        )

    @property
    def days_left(self) -> float | None:
        """Days until expiry as of ``checked_at``; ``None`` when no expiry is known."""
        if self.expires_at is None:
            return None
        return (self.expires_at - self.checked_at).total_seconds() / 86400.0

    @property
    def data_access_days_left(self) -> float | None:
        """Days until the user's data-access grant lapses (90-day rolling window)."""
        if self.data_access_expires_at is None:
            return None
        return (self.data_access_expires_at - self.checked_at).total_seconds() / 86400.0

    @property
    def healthy(self) -> bool:
        """Valid, not expired, and carrying every required scope."""
        expired = self.days_left is not None and self.days_left <= 0
        return self.is_valid and not expired and not self.missing_scopes


class TokenStoreError(RuntimeError):
    """The store cannot be read with this key or is not a token store."""


@dataclass(frozen=True)
class StoredToken:
    """A refreshed token and the keyed fingerprint of the variable token it came from.

    ``source`` is ``None`` for entries written before origins were recorded (or by
    :meth:`TokenStore.put` without one); :meth:`TokenStore.choose` adopts the variable's
    current token as their origin the first time it sees them.
    """

    token: str = field(repr=False)
    source: str | None = None


@dataclass(frozen=True)
class ChosenToken:
    """The token an account's calls use, and where it came from."""

    token: str = field(repr=False)
    from_store: bool


class TokenStore:
    """Named tokens in one Fernet-encrypted file (mode 0600, written atomically).

    The whole mapping is one ciphertext, so neither names nor tokens are visible on
    disk.  Writes go to a temporary file in the same directory, are fsynced and then
    renamed over the old file, so a crash leaves either the old or the new store, never
    a half-written one.  Every read-modify-write holds a lock on the store's directory
    (threads and processes alike: run workers refresh and drop tokens concurrently),
    so no writer loses another's change.

    Each entry remembers which token of the environment variable it was refreshed
    from, as an HMAC keyed with the store key (never the token itself), so
    :meth:`choose` can tell "the platform refreshed this variable's token" from "the
    operator has put a new token in the variable since".
    """

    def __init__(self, path: str | os.PathLike[str], key: str | bytes) -> None:
        self.path = Path(path)
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise TokenStoreError("token store key is not a valid Fernet key") from None
        raw_key = key.encode("ascii") if isinstance(key, str) else bytes(key)
        self._mac_key = hashlib.sha256(b"ads_platform token origin\0" + raw_key).digest()
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, path: str | os.PathLike[str], key_env: str = DEFAULT_KEY_ENV) -> TokenStore:
        """Open the store with the key held in the environment variable ``key_env``."""
        key = os.environ.get(key_env)
        if not key:
            raise TokenStoreError(f"environment variable {key_env} (token store key) is not set")
        return cls(path, key)

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    def fingerprint(self, token: str) -> str:
        """Keyed hash of a token: comparable, not reversible, useless without the key."""
        return hmac.new(self._mac_key, token.encode("utf-8"), hashlib.sha256).hexdigest()

    # -- storage -------------------------------------------------------------------

    def _read(self) -> dict[str, StoredToken]:
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(self._fernet.decrypt(blob))
        except InvalidToken:
            raise TokenStoreError(
                f"cannot decrypt token store {self.path}: wrong key or corrupted file"
            ) from None
        except ValueError:
            raise TokenStoreError(f"token store {self.path} does not hold a token map") from None
        if not isinstance(data, dict):
            raise TokenStoreError(f"token store {self.path} does not hold a token map")
        out: dict[str, StoredToken] = {}
        for name, value in data.items():
            entry = _entry(value)
            if not isinstance(name, str) or entry is None:
                raise TokenStoreError(f"token store {self.path} does not hold a token map")
            register_secret(entry.token)
            out[name] = entry
        return out

    def _write(self, data: Mapping[str, StoredToken]) -> None:
        plain = {
            name: {"token": e.token, "source": e.source} if e.source else e.token
            for name, e in data.items()
        }
        blob = self._fernet.encrypt(json.dumps(plain, sort_keys=True).encode("utf-8"))
        atomic.write_bytes(self.path, blob, mode=0o600)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, StoredToken]]:
        """Read-modify-write under a thread lock and an flock on the store's directory
        (a lock file beside the store would be one more file to explain); the mapping
        yielded is written back when the block ends without an exception."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                data = self._read()
                before = dict(data)
                yield data
                if data != before:
                    self._write(data)
            finally:
                os.close(fd)  # closing releases the flock

    # -- plain access --------------------------------------------------------------

    def put(self, name: str, token: str, *, source: str | None = None) -> None:
        """Store (or replace) the token called ``name``; ``source`` is the variable's
        token it was derived from (kept only as :meth:`fingerprint`)."""
        register_secret(token)
        with self._locked() as data:
            data[name] = StoredToken(token, self.fingerprint(source) if source else None)

    def get(self, name: str) -> str | None:
        entry = self.entry(name)
        return entry.token if entry is not None else None

    def entry(self, name: str) -> StoredToken | None:
        with self._lock:
            return self._read().get(name)

    def delete(self, name: str) -> bool:
        """Remove ``name``; return whether it existed."""
        with self._locked() as data:
            return data.pop(name, None) is not None

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._read())

    # -- the rule ------------------------------------------------------------------

    def put_refreshed(self, name: str, token: str, *, refreshed_from: str) -> None:
        """Store ``token``, obtained by exchanging ``refreshed_from``.

        When ``refreshed_from`` is the stored token itself (a refresh of a refresh), the
        entry keeps its origin; otherwise it came from the variable, which becomes the
        origin.  Either way the variable's token is what the entry is compared with.
        """
        register_secret(token)
        with self._locked() as data:
            current = data.get(name)
            if current is not None and hmac.compare_digest(current.token, refreshed_from):
                source = current.source
            else:
                source = self.fingerprint(refreshed_from)
            data[name] = StoredToken(token, source)

    def choose(self, name: str, variable: str | None) -> ChosenToken | None:
        """The token to use for ``name`` given the variable's current value.

        * nothing stored: the variable (``None`` when it is empty too);
        * stored, variable empty: the stored token (it is all there is);
        * stored from this very variable token: the stored one (it is the newer);
        * stored from another token: the operator has changed the variable since the
          refresh, so the variable wins and the stale entry is dropped;
        * stored without a known origin (older stores): the variable's current token is
          recorded as its origin, so any later change of the variable is seen.

        A home that cannot be written (a read-only mount) still gets the same answer;
        only the drop / the recorded origin wait for a writable one.
        """
        variable = (variable or "").strip() or None
        if not self.path.exists():
            return ChosenToken(variable, False) if variable else None
        try:
            with self._locked() as data:
                chosen, keep = self._decide(data.get(name), variable)
                if keep is not None:
                    data[name] = keep
                else:
                    data.pop(name, None)
                return chosen
        except OSError:
            return self._decide(self.entry(name), variable)[0]

    def _decide(
        self, entry: StoredToken | None, variable: str | None
    ) -> tuple[ChosenToken | None, StoredToken | None]:
        """``(token to use, entry to keep)`` for :meth:`choose`."""
        if entry is None:
            return (ChosenToken(variable, False) if variable else None), None
        if variable is None:
            return ChosenToken(entry.token, True), entry
        if entry.source is None:
            return ChosenToken(entry.token, True), StoredToken(
                entry.token, self.fingerprint(variable)
            )
        if hmac.compare_digest(entry.source, self.fingerprint(variable)):
            return ChosenToken(entry.token, True), entry
        return ChosenToken(variable, False), None

    def discard(self, name: str, token: str) -> bool:
        """Drop ``name`` if it still holds ``token`` (Meta rejected it); a token stored
        meanwhile by a concurrent refresh is kept."""
        with self._locked() as data:
            entry = data.get(name)
            if entry is None or not hmac.compare_digest(entry.token, token):
                return False
            del data[name]
            return True


def _entry(value: object) -> StoredToken | None:
    """An entry as stored: a plain string (older stores) or ``{token, source}``."""
    if isinstance(value, str):
        return StoredToken(value)
    if isinstance(value, dict) and isinstance(value.get("token"), str):
        source = value.get("source")
        return StoredToken(value["token"], source if isinstance(source, str) else None)
    return None
