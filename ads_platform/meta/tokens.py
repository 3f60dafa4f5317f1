"""Token health and encrypted token storage.

Meta does not announce that a token will stop working: it expires (~60 days for
long-lived user tokens), is revoked when a password changes, or loses a scope.  The
platform checks each token with ``debug_token`` ahead of time (:class:`TokenInfo`) so
the alert arrives days before a pull fails, and keeps tokens it refreshed itself in an
encrypted file (:class:`TokenStore`) rather than in plain text next to the code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from ads_platform import atomic
from ads_platform.meta.redaction import register_secret

__all__ = [
    "DEFAULT_KEY_ENV",
    "REQUIRED_SCOPES",
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


class TokenStore:
    """Named tokens in one Fernet-encrypted file (mode 0600, written atomically).

    The whole mapping is one ciphertext, so neither names nor tokens are visible on
    disk.  Writes go to a temporary file in the same directory, are fsynced and then
    renamed over the old file, so a crash leaves either the old or the new store, never
    a half-written one.  Concurrent writers in one process are serialized; separate
    processes writing the same store are not supported (last rename wins).
    """

    def __init__(self, path: str | os.PathLike[str], key: str | bytes) -> None:
        self.path = Path(path)
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise TokenStoreError("token store key is not a valid Fernet key") from None
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

    def _read(self) -> dict[str, str]:
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
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise TokenStoreError(f"token store {self.path} does not hold a token map")
        for token in data.values():
            register_secret(token)
        return data

    def _write(self, data: Mapping[str, str]) -> None:
        blob = self._fernet.encrypt(json.dumps(dict(data), sort_keys=True).encode("utf-8"))
        atomic.write_bytes(self.path, blob, mode=0o600)

    def put(self, name: str, token: str) -> None:
        """Store (or replace) the token called ``name``."""
        register_secret(token)
        with self._lock:
            data = self._read()
            data[name] = token
            self._write(data)

    def get(self, name: str) -> str | None:
        with self._lock:
            return self._read().get(name)

    def delete(self, name: str) -> bool:
        """Remove ``name``; return whether it existed."""
        with self._lock:
            data = self._read()
            if name not in data:
                return False
            del data[name]
            self._write(data)
            return True

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._read())
