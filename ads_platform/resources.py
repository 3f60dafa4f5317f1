"""Dagster resources: settings, the lake and Graph API clients, built per run.

Configuration flows in through the resource (its ``config_path`` and the environment),
read once when Dagster sets the resource up for a run or a tick, never through module
globals, so the same definitions run the demo against the
sandbox and production against Meta.  Tokens are read from each account's environment
variable (or from the encrypted store while the token the platform refreshed is newer
than the variable's, see :meth:`TokenStore.choose`) at the moment a client is built;
they never enter run config, the UI or a log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import dagster as dg
from pydantic import PrivateAttr

from ads_platform.lake import Lake
from ads_platform.meta.client import GraphClient
from ads_platform.meta.errors import TokenInvalidError
from ads_platform.meta.pacing import Pacer
from ads_platform.meta.redaction import install_log_redaction, register_secret
from ads_platform.meta.stats import CallStats
from ads_platform.meta.tokens import ChosenToken, TokenStore, TokenStoreError
from ads_platform.settings import Settings, SettingsError, load_settings

log = logging.getLogger("ads_platform.tokens")
T = TypeVar("T")

# One pacer per Graph API host and process: X-App-Usage is app-wide, so every client
# of this process (one per account token) must see the same app budget.
_PACERS: dict[str, Pacer] = {}
_PACERS_LOCK = threading.Lock()


def shared_pacer(base_url: str) -> Pacer:
    with _PACERS_LOCK:
        return _PACERS.setdefault(base_url, Pacer())


@dataclass(frozen=True)
class Credential:
    """The token a client was built with and the variable it comes from (for messages)."""

    token: str = field(repr=False)
    token_env: str


class PlatformResource(dg.ConfigurableResource):  # type: ignore[misc,type-arg]
    """Everything an ingestion asset needs to reach Meta and the lake."""

    config_path: str | None = None
    _settings: Settings | None = PrivateAttr(default=None)
    _settings_error: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Read the settings once for this run or tick (Dagster sets up a copy each time)."""
        del context
        self._load()

    def _load(self) -> None:
        try:
            self._settings = load_settings(self.config_path, require_tokens=False)
        except SettingsError as exc:
            self._settings_error = str(exc)

    def settings(self) -> Settings:
        """The settings of this run or tick, read once (on first use outside Dagster)."""
        if self._settings is None and self._settings_error is None:
            self._load()
        if self._settings is None:
            raise dg.Failure(description=str(self._settings_error))
        return self._settings

    def lake(self, settings: Settings | None = None) -> Lake:
        return Lake((settings or self.settings()).lake_dir)

    def token_store(self, settings: Settings) -> TokenStore | None:
        try:
            return TokenStore.from_env(
                settings.home / "secrets" / "tokens.fernet", settings.tokens.store_key_env
            )
        except TokenStoreError:
            return None

    def pullable_accounts(self, settings: Settings) -> set[str]:
        """Enabled accounts of the settings, plus discovered ones while discovery is on.

        An account removed from the settings stops being pulled (its history stays).
        """
        accounts = {a.id for a in settings.enabled_accounts}
        if settings.discovery.enabled:
            from ads_platform.ingestion.accounts import discovered_accounts

            accounts |= discovered_accounts(self.lake(settings))
        return accounts

    def token(self, settings: Settings, account_id: str) -> tuple[str, str]:
        """``(token, env var name)`` for an account, by the one rule of
        :meth:`TokenStore.choose`: a token the platform refreshed is used while the
        variable still holds the token it was refreshed from; a new token in the
        variable wins.  Calls to Meta go through :meth:`client_for`, which also falls
        back when a stored token is rejected.

        Discovered accounts use the discovery token (the one that listed them).
        """
        token_env = self._token_env(settings, account_id)
        return self._choose(settings, token_env, account_id).token, token_env

    def with_token(
        self,
        settings: Settings,
        account_id: str,
        use: Callable[[str, str], T],
        rejected: Callable[[T], bool] | None = None,
    ) -> T:
        """``use(token, env var name)`` with the account's token.  When Meta rejects a
        stored (refreshed) token — a 190, or ``rejected(result)`` for calls that report
        an invalid token as a result — the stale entry is dropped and ``use`` runs once
        more with the variable's token before failing.

        Meta can revoke a refreshed token (password change, app removed) while the
        variable's token still works: the variable is also what every message points at.
        """
        token_env = self._token_env(settings, account_id)
        return self._with_variable(settings, token_env, account_id, use, rejected)

    def client_for(
        self,
        settings: Settings,
        account_id: str,
        use: Callable[[GraphClient, Credential], T],
        *,
        stats: CallStats | None = None,
        rejected: Callable[[T], bool] | None = None,
    ) -> T:
        """``use(client, credential)`` with a client on the account's token.

        The one way the platform reaches Meta for an account (pulls, sensors, doctor):
        the token by :meth:`with_token`'s rule, including its one fall-back from a
        rejected stored token to the variable's, with a fresh client per attempt.
        """
        token_env = self._token_env(settings, account_id)
        attempt = self._with_client(settings, use, stats)
        return self._with_variable(settings, token_env, account_id, attempt, rejected)

    def discovery_client(
        self,
        settings: Settings,
        use: Callable[[GraphClient, Credential], T],
        *,
        stats: CallStats | None = None,
    ) -> T:
        """``use(client, credential)`` with the discovery token (it lists ``me/adaccounts``).

        The same rule as an account's token (the variable's, or the one the platform
        refreshed for that variable while it is newer, one fall-back when rejected):
        discovered accounts are pulled with this very token.
        """
        token_env = settings.discovery.token_env
        if not settings.discovery.enabled or not token_env:
            raise SettingsError("discovery is off: there is no token to list ad accounts with")
        attempt = self._with_client(settings, use, stats)
        return self._with_variable(settings, token_env, "me/adaccounts", attempt, None)

    def _with_client(
        self,
        settings: Settings,
        use: Callable[[GraphClient, Credential], T],
        stats: CallStats | None,
    ) -> Callable[[str, str], T]:
        def attempt(token: str, token_env: str) -> T:
            with self._client(settings, token, stats) as client:
                return use(client, Credential(token, token_env))

        return attempt

    def _with_variable(
        self,
        settings: Settings,
        token_env: str,
        who: str,
        use: Callable[[str, str], T],
        rejected: Callable[[T], bool] | None,
    ) -> T:
        chosen = self._choose(settings, token_env, who)
        if not chosen.from_store:
            return use(chosen.token, token_env)
        try:
            result = use(chosen.token, token_env)
        except TokenInvalidError:
            if not self._fall_back(settings, who, token_env, chosen):
                raise
        else:
            if rejected is None or not rejected(result):
                return result
            if not self._fall_back(settings, who, token_env, chosen):
                return result
        return use(self._choose(settings, token_env, who).token, token_env)

    @staticmethod
    def _token_env(settings: Settings, account_id: str) -> str:
        if account_id in {a.id for a in settings.accounts}:
            return settings.account(account_id).token_env
        if settings.discovery.enabled and settings.discovery.token_env:
            return settings.discovery.token_env
        raise SettingsError(f"{account_id} is not configured and discovery is off")

    def _choose(self, settings: Settings, token_env: str, who: str) -> ChosenToken:
        """The token of one variable: the variable's, or the store's while it is newer."""
        variable = os.environ.get(token_env, "").strip()
        chosen: ChosenToken | None = ChosenToken(variable, False) if variable else None
        store = self.token_store(settings)
        if store is not None:
            # An unreadable store (wrong key) must not hide the variable's token.
            with contextlib.suppress(TokenStoreError):
                chosen = store.choose(token_env, variable)
        if chosen is None:
            raise SettingsError(
                f"the token for {who} is not available: environment variable {token_env} is not set"
            )
        register_secret(chosen.token)
        return chosen

    def _fall_back(
        self, settings: Settings, account_id: str, token_env: str, rejected: ChosenToken
    ) -> bool:
        """Drop a rejected stored token; whether the variable holds another one to try."""
        variable = os.environ.get(token_env, "").strip()
        store = self.token_store(settings)
        if store is None or not variable or variable == rejected.token:
            return False
        try:
            store.discard(token_env, rejected.token)
        except TokenStoreError:
            return False
        log.warning(
            "%s: Meta rejected the token the platform had refreshed for %s; "
            "using the token in that environment variable instead",
            account_id,
            token_env,
        )
        return True

    def _client(
        self, settings: Settings, token: str, stats: CallStats | None = None
    ) -> GraphClient:
        """A client on ``token`` with the settings' transport options and the shared pacer."""
        install_log_redaction()
        app_secret = settings.app_secret()
        register_secret(app_secret)
        meta = settings.meta
        return GraphClient(
            access_token=token,
            base_url=meta.graph_base_url,
            api_version=meta.api_version,
            app_secret=app_secret,
            token_in_query=meta.token_in_query,
            page_limit=meta.page_limit,
            connect_timeout=meta.connect_timeout_seconds,
            read_timeout=meta.read_timeout_seconds,
            max_retries=meta.max_retries,
            retry_budget_seconds=meta.retry_budget_seconds,
            async_threshold_days=meta.async_threshold_days,
            async_poll_timeout=meta.async_poll_timeout_seconds,
            stats=stats,
            pacer=shared_pacer(meta.graph_base_url),
        )
