"""Settings are refused at load time with a message naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ads_platform.settings import SettingsError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ads_platform.yaml"
    path.write_text(text)
    return path


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings.meta.graph_base_url == "https://graph.facebook.com"
    assert settings.meta.api_version == "v25.0"
    assert settings.home == (tmp_path / ".ads_platform").resolve()
    assert settings.accounts == ()
    assert settings.ingestion.lookback_days == 28


def test_accounts_and_env_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "accounts:\n  - {id: act_123, token_env: TOKEN_A}\n  - {id: act_456, token_env: TOKEN_B}\n",
    )
    env = {
        "TOKEN_A": "a" * 20,
        "TOKEN_B": "b" * 20,
        "META_GRAPH_BASE_URL": "http://127.0.0.1:9999/",
        "META_API_VERSION": "v24.0",
        "ADS_PLATFORM_HOME": str(tmp_path / "home"),
    }
    settings = load_settings(path, env=env)
    assert [a.id for a in settings.accounts] == ["act_123", "act_456"]
    assert settings.meta.graph_base_url == "http://127.0.0.1:9999"
    assert settings.meta.api_version == "v24.0"
    assert settings.home == tmp_path / "home"
    assert settings.token_for("act_456", env) == "b" * 20


def test_config_path_from_env(tmp_path: Path) -> None:
    path = write(tmp_path, "ingestion: {lookback_days: 7}\n")
    settings = load_settings(env={"ADS_PLATFORM_CONFIG": str(path)})
    assert settings.ingestion.lookback_days == 7
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(env={"ADS_PLATFORM_CONFIG": str(tmp_path / "missing.yaml")})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "accounts:\n  - {id: '12345', token_env: T}\n",
            r"accounts\[0\]\.id: '12345' is not an ad account id",
        ),
        ("accounts:\n  - {id: act_12a, token_env: T}\n", r"accounts\[0\]\.id: 'act_12a'"),
        ("accounts:\n  - {id: 'act_1|2', token_env: T}\n", r"accounts\[0\]\.id"),
        ("colour: blue\n", r"colour: unknown setting"),
        ("meta: {graph_base_url: ftp://x}\n", r"meta\.graph_base_url: must start with http"),
        ("meta: {api_version: '25'}\n", r"meta\.api_version"),
        ("meta: {colour: 1}\n", r"meta\.colour: unknown setting"),
        (
            "accounts:\n  - {id: act_1, token_env: 'EAAB xyz'}\n",
            r"accounts\[0\]\.token_env: .*not an environment variable name",
        ),
        (
            "ingestion: {attribution_windows: [2d_click]}\n",
            r"ingestion\.attribution_windows: unknown attribution window",
        ),
        (
            "accounts:\n  - {id: act_1, token_env: T}\n  - {id: act_1, token_env: T}\n",
            r"act_1 is listed twice",
        ),
        ("- just\n- a list\n", r"mapping of settings"),
        ("accounts: [\n", r"not valid YAML"),
    ],
)
def test_refused_with_field_named(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SettingsError, match=expected) as info:
        load_settings(path, env={"T": "token-value-123"})
    assert "Traceback" not in str(info.value)


def test_missing_token_variable_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "accounts:\n  - {id: act_1, token_env: CLIENT_A_TOKEN}\n")
    with pytest.raises(
        SettingsError,
        match=r"accounts\[0\]\.token_env: environment variable CLIENT_A_TOKEN is not set",
    ):
        load_settings(path, env={})
    settings = load_settings(path, env={}, require_tokens=False)
    with pytest.raises(SettingsError, match="CLIENT_A_TOKEN is not set"):
        settings.token_for("act_1", {})


def test_disabled_account_needs_no_token(tmp_path: Path) -> None:
    path = write(tmp_path, "accounts:\n  - {id: act_1, token_env: GONE, enabled: false}\n")
    settings = load_settings(path, env={})
    assert settings.enabled_accounts == ()
