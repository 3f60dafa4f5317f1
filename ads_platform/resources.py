"""Dagster resources: settings, the lake and Graph API clients, built per run.

Configuration flows in through the resource (its ``config_path`` and the environment),
never through module globals, so the same definitions run the demo against the
sandbox and production against Meta.  Tokens are read from each account's environment
variable (or from the encrypted store once the platform has refreshed them) at the
moment a client is built; they never enter run config, the UI or a log.
"""

from __future__ import annotations

import os
import threading

import dagster as dg

from ads_platform.lake import Lake
from ads_platform.meta.client import GraphClient
from ads_platform.meta.pacing import Pacer
from ads_platform.meta.redaction import install_log_redaction, register_secret
from ads_platform.meta.stats import CallStats
from ads_platform.meta.tokens import TokenStore, TokenStoreError
from ads_platform.settings import Settings, SettingsError, load_settings

# One pacer per Graph API host and process: X-App-Usage is app-wide, so every client
# of this process (one per account token) must see the same app budget.
_PACERS: dict[str, Pacer] = {}
_PACERS_LOCK = threading.Lock()


def shared_pacer(base_url: str) -> Pacer:
    with _PACERS_LOCK:
        return _PACERS.setdefault(base_url, Pacer())


class PlatformResource(dg.ConfigurableResource):  # type: ignore[misc,type-arg]
    """Everything an ingestion asset needs to reach Meta and the lake."""

    config_path: str | None = None

    def settings(self) -> Settings:
        try:
            return load_settings(self.config_path, require_tokens=False)
        except SettingsError as exc:
            raise dg.Failure(description=str(exc)) from None

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
        """``(token, env var name)`` for an account; a refreshed stored token wins.

        Discovered accounts use the discovery token (the one that listed them).
        """
        configured = {a.id for a in settings.accounts}
        if account_id in configured:
            token_env = settings.account(account_id).token_env
        elif settings.discovery.enabled and settings.discovery.token_env:
            token_env = settings.discovery.token_env
        else:
            raise SettingsError(f"{account_id} is not configured and discovery is off")
        store = self.token_store(settings)
        stored = None
        if store is not None:
            try:
                stored = store.get(token_env)
            except TokenStoreError:
                stored = None
        token = stored or os.environ.get(token_env, "").strip()
        if not token:
            raise SettingsError(
                f"the token for {account_id} is not available: environment variable "
                f"{token_env} is not set"
            )
        register_secret(token)
        return token, token_env

    def client(self, settings: Settings, token: str, stats: CallStats | None = None) -> GraphClient:
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
