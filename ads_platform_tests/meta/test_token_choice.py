"""Which token an account uses: the newest valid one, by one rule everywhere.

A token the platform refreshed is only newer than the variable's token it was
refreshed from.  When the operator puts another token in the variable (what every
re-authorize message asks for), that one wins; when Meta rejects the stored token,
the variable's is tried once before failing.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from ads_platform.meta.client import GraphClient
from ads_platform.meta.errors import TokenInvalidError
from ads_platform.meta.tokens import ChosenToken, TokenStore
from ads_platform.resources import Credential, PlatformResource
from ads_platform.settings import SettingsError

ENV = "META_TOKEN_CLIENT_A"
ACCOUNT = "act_101"
ORIGINAL = "EAAoriginal" + "O" * 40
REFRESHED = "EAArefreshed" + "R" * 40
OPERATOR = "EAAoperator" + "P" * 40


@pytest.fixture
def key() -> str:
    return TokenStore.generate_key()


@pytest.fixture
def store(tmp_path: Path, key: str) -> TokenStore:
    return TokenStore(tmp_path / "secrets" / "tokens.fernet", key)


def test_a_refreshed_token_is_used_while_the_variable_holds_the_token_it_came_from(
    store: TokenStore,
) -> None:
    assert store.choose(ENV, ORIGINAL) == ChosenToken(ORIGINAL, from_store=False)
    store.put_refreshed(ENV, REFRESHED, refreshed_from=ORIGINAL)
    assert store.choose(ENV, ORIGINAL) == ChosenToken(REFRESHED, from_store=True)
    assert store.choose(ENV, "") == ChosenToken(REFRESHED, from_store=True)  # all there is


def test_a_new_token_in_the_variable_wins_and_the_stale_stored_one_is_dropped(
    store: TokenStore,
) -> None:
    store.put_refreshed(ENV, REFRESHED, refreshed_from=ORIGINAL)
    assert store.choose(ENV, OPERATOR) == ChosenToken(OPERATOR, from_store=False)
    assert store.get(ENV) is None
    # Putting the old token back does not resurrect the dropped one.
    assert store.choose(ENV, ORIGINAL) == ChosenToken(ORIGINAL, from_store=False)


def test_refreshing_the_refreshed_token_keeps_the_variable_as_its_origin(
    store: TokenStore,
) -> None:
    store.put_refreshed(ENV, REFRESHED, refreshed_from=ORIGINAL)
    again = "EAAagain" + "A" * 40
    store.put_refreshed(ENV, again, refreshed_from=REFRESHED)
    assert store.choose(ENV, ORIGINAL) == ChosenToken(again, from_store=True)
    assert store.choose(ENV, OPERATOR) == ChosenToken(OPERATOR, from_store=False)


def test_an_entry_of_an_older_store_adopts_the_variable_then_sees_it_change(
    tmp_path: Path, key: str
) -> None:
    path = tmp_path / "tokens.fernet"
    path.write_bytes(Fernet(key).encrypt(json.dumps({ENV: REFRESHED}).encode()))
    store = TokenStore(path, key)
    assert store.choose(ENV, ORIGINAL) == ChosenToken(REFRESHED, from_store=True)
    assert store.choose(ENV, ORIGINAL) == ChosenToken(REFRESHED, from_store=True)
    assert store.choose(ENV, OPERATOR) == ChosenToken(OPERATOR, from_store=False)


def test_the_origin_is_a_keyed_fingerprint_never_the_token(
    tmp_path: Path, store: TokenStore, key: str
) -> None:
    store.put_refreshed(ENV, REFRESHED, refreshed_from=ORIGINAL)
    plain = Fernet(key).decrypt(store.path.read_bytes()).decode()
    assert ORIGINAL not in plain
    assert REFRESHED in plain  # the refreshed token itself must be kept (encrypted)
    other = TokenStore(tmp_path / "other.fernet", TokenStore.generate_key())
    assert other.fingerprint(ORIGINAL) != store.fingerprint(ORIGINAL)
    assert store.fingerprint(ORIGINAL) in plain
    for secret in (ORIGINAL, REFRESHED):
        assert secret.encode() not in store.path.read_bytes()


def _put_many(path: str, key: str, prefix: str, count: int) -> None:
    store = TokenStore(path, key)
    for i in range(count):
        store.put(f"{prefix}{i}", f"token-{prefix}-{i}-0123456789")


def test_processes_writing_the_store_at_once_lose_no_token(tmp_path: Path, key: str) -> None:
    path = str(tmp_path / "tokens.fernet")
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_put_many, args=(path, key, prefix, 40)) for prefix in "ab"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    names = TokenStore(path, key).names()
    assert len(names) == 80
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokens.fernet"]  # no lock file


# -- PlatformResource: the rule applied to calls -----------------------------------------


def _settings_file(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "ads_platform.yaml"
    path.write_text(
        f"home: {home}\naccounts:\n  - id: {ACCOUNT}\n    token_env: {ENV}\n", encoding="utf-8"
    )
    return path


@pytest.fixture
def platform(
    tmp_path: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[PlatformResource, TokenStore]:
    config = _settings_file(tmp_path / "home")
    monkeypatch.setenv("ADS_PLATFORM_TOKEN_KEY", key)
    monkeypatch.setenv(ENV, ORIGINAL)
    resource = PlatformResource(config_path=str(config))
    store = resource.token_store(resource.settings())
    assert store is not None
    return resource, store


def _rejecting(*bad: str) -> tuple[list[str], Callable[[str, str], str]]:
    used: list[str] = []

    def use(token: str, token_env: str) -> str:
        assert token_env == ENV
        used.append(token)
        if token in bad:
            raise TokenInvalidError("Error validating access token", code=190, subcode=460)
        return "pulled"

    return used, use


def test_a_rejected_stored_token_is_retried_once_with_the_variable(
    platform: tuple[PlatformResource, TokenStore],
) -> None:
    resource, store = platform
    store.put_refreshed(ENV, REFRESHED, refreshed_from=ORIGINAL)
    used, use = _rejecting(REFRESHED)
    assert resource.with_token(resource.settings(), ACCOUNT, use) == "pulled"
    assert used == [REFRESHED, ORIGINAL]
    assert store.get(ENV) is None  # rejected: dropped, the next call goes straight
    used.clear()
    resource.with_token(resource.settings(), ACCOUNT, use)
    assert used == [ORIGINAL]


def test_when_both_tokens_are_rejected_the_error_points_at_the_variable(
    platform: tuple[PlatformResource, TokenStore],
) -> None:
    from ads_platform.ingestion.failures import describe

    resource, store = platform
    store.put_refreshed(ENV, REFRESHED, refreshed_from=ORIGINAL)
    used, use = _rejecting(REFRESHED, ORIGINAL)
    with pytest.raises(TokenInvalidError) as caught:
        resource.with_token(resource.settings(), ACCOUNT, use)
    assert used == [REFRESHED, ORIGINAL]  # once each, no loop
    kind, message = describe(caught.value, account_id=ACCOUNT, token_env=ENV)
    assert kind == "token_invalid"
    assert message.endswith(
        f"set the new token in environment variable {ENV}; the next pull uses it"
    )


def test_a_rejected_variable_token_is_not_retried(
    platform: tuple[PlatformResource, TokenStore],
) -> None:
    resource, _ = platform
    used, use = _rejecting(ORIGINAL)
    with pytest.raises(TokenInvalidError):
        resource.with_token(resource.settings(), ACCOUNT, use)
    assert used == [ORIGINAL]


def test_a_result_that_says_invalid_also_falls_back(
    platform: tuple[PlatformResource, TokenStore],
) -> None:
    resource, store = platform
    store.put_refreshed(ENV, REFRESHED, refreshed_from=ORIGINAL)
    seen: list[str] = []

    def check(token: str, _env: str) -> dict[str, bool]:
        seen.append(token)
        return {"is_valid": token != REFRESHED}

    result = resource.with_token(
        resource.settings(), ACCOUNT, check, rejected=lambda d: not d["is_valid"]
    )
    assert result == {"is_valid": True} and seen == [REFRESHED, ORIGINAL]


def test_token_resolution_uses_the_variable_when_the_store_key_is_wrong(
    platform: tuple[PlatformResource, TokenStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    resource, store = platform
    store.put_refreshed(ENV, REFRESHED, refreshed_from=ORIGINAL)
    monkeypatch.setenv("ADS_PLATFORM_TOKEN_KEY", TokenStore.generate_key())
    assert resource.token(resource.settings(), ACCOUNT) == (ORIGINAL, ENV)
    monkeypatch.delenv(ENV)
    with pytest.raises(SettingsError, match=f"environment variable {ENV} is not set"):
        resource.token(resource.settings(), ACCOUNT)


def test_a_client_for_an_account_is_built_on_the_token_the_rule_chooses(
    platform: tuple[PlatformResource, TokenStore],
) -> None:
    resource, store = platform
    store.put_refreshed(ENV, REFRESHED, refreshed_from=ORIGINAL)
    seen: list[tuple[GraphClient, Credential]] = []

    def use(client: GraphClient, credential: Credential) -> str:
        seen.append((client, credential))
        if credential.token == REFRESHED:
            raise TokenInvalidError("Error validating access token", code=190, subcode=460)
        return "pulled"

    assert resource.client_for(resource.settings(), ACCOUNT, use) == "pulled"
    assert [c.token for _, c in seen] == [REFRESHED, ORIGINAL]
    assert {c.token_env for _, c in seen} == {ENV}
    first, second = (client for client, _ in seen)
    assert first is not second  # a fresh client per token
    assert ORIGINAL not in repr(seen[1][1]) and ORIGINAL not in repr(second)


def test_discovery_lists_accounts_with_the_same_token_rule_as_the_accounts(
    tmp_path: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    config = home / "ads_platform.yaml"
    config.write_text(
        f"home: {home}\ndiscovery: {{enabled: true, token_env: {ENV}}}\n", encoding="utf-8"
    )
    monkeypatch.setenv("ADS_PLATFORM_TOKEN_KEY", key)
    monkeypatch.setenv(ENV, ORIGINAL)
    resource = PlatformResource(config_path=str(config))
    settings = resource.settings()
    store = resource.token_store(settings)
    assert store is not None
    store.put_refreshed(ENV, REFRESHED, refreshed_from=ORIGINAL)

    tokens = resource.discovery_client(settings, lambda _client, cred: cred.token)
    assert tokens == REFRESHED  # the one a discovered account's pulls use too
    assert resource.token(settings, "act_999") == (REFRESHED, ENV)

    monkeypatch.delenv(ENV)
    store.discard(ENV, REFRESHED)
    with pytest.raises(SettingsError, match=f"environment variable {ENV} is not set"):
        resource.discovery_client(settings, lambda _client, cred: cred.token)


def test_discovery_switched_off_has_no_token_to_list_with(
    platform: tuple[PlatformResource, TokenStore],
) -> None:
    resource, _ = platform
    with pytest.raises(SettingsError, match="discovery is off"):
        resource.discovery_client(resource.settings(), lambda _client, cred: cred.token)
