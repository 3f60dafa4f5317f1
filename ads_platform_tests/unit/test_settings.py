"""Settings are refused at load time with a message naming the field."""

from __future__ import annotations

import datetime as dt
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


# -- nothing is accepted silently ------------------------------------------------------------

BOOL_FIELDS = [
    ("accounts:\n  - {{id: act_1, token_env: T, enabled: {v}}}\n", r"accounts\[0\]\.enabled"),
    ("discovery: {{enabled: {v}, token_env: T}}\n", r"discovery\.enabled"),
    ("meta: {{token_in_query: {v}}}\n", r"meta\.token_in_query"),
    (
        "ingestion: {{passing_checks_per_partition: {v}}}\n",
        r"ingestion\.passing_checks_per_partition",
    ),
]


@pytest.mark.parametrize("value", ['"no"', '"yes"', "'false'", "0", "1", "no", "yes", "off", "on"])
@pytest.mark.parametrize(
    ("template", "field"), BOOL_FIELDS, ids=[f[1].replace("\\", "") for f in BOOL_FIELDS]
)
def test_a_boolean_setting_is_true_or_false_and_nothing_else(
    tmp_path: Path, template: str, field: str, value: str
) -> None:
    path = write(tmp_path, template.format(v=value))
    with pytest.raises(SettingsError, match=field + r": must be true or false"):
        load_settings(path, env={"T": "token-value-123"})


@pytest.mark.parametrize(("value", "enabled"), [("true", True), ("false", False), ("False", False)])
def test_yaml_booleans_still_switch_accounts(tmp_path: Path, value: str, enabled: bool) -> None:
    path = write(tmp_path, f"accounts:\n  - {{id: act_1, token_env: T, enabled: {value}}}\n")
    settings = load_settings(path, env={"T": "token-value-123"})
    assert settings.accounts[0].enabled is enabled


def test_yes_and_no_are_strings_where_a_string_is_expected(tmp_path: Path) -> None:
    path = write(tmp_path, "accounts:\n  - {id: act_1, token_env: T, label: NO}\n")
    assert load_settings(path, env={"T": "token-value-123"}).accounts[0].label == "NO"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://graph.facebook.com?access_token=x", r"must not carry a query string"),
        ("https://graph.facebook.com/?", r"must not carry a query string"),
        ("https://graph.facebook.com#frag", r"must not carry a fragment"),
        ("https://user:hunter2@graph.facebook.com", r"must not carry a user name or password"),
        ("https://graph.facebook.com/v25.0", r"must not carry a path"),
        ("http://graph.facebook.com", r"http:// is only allowed to a loopback host"),
        ("http://10.0.0.5:8080", r"http:// is only allowed to a loopback host"),
        ("http://127.0.0.1.evil.example", r"http:// is only allowed to a loopback host"),
        ("file:///etc/passwd", r"must start with https://.*got a file: URL"),
        ("graph.facebook.com", r"must start with https://"),
        ("https://", r"has no host"),
        ("https://graph.facebook.com:99999", r"has an invalid host or port"),
    ],
)
def test_graph_base_url_is_scheme_host_and_port_over_https_or_loopback_http(
    tmp_path: Path, url: str, expected: str
) -> None:
    path = write(tmp_path, f"meta: {{graph_base_url: '{url}'}}\n")
    with pytest.raises(SettingsError, match=r"meta\.graph_base_url: " + expected) as info:
        load_settings(path, env={})
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://graph.facebook.com",
        "https://graph.facebook.com/",
        "http://127.0.0.1:9999",
        "http://127.8.0.1:9999/",
        "http://localhost:8080",
        "http://[::1]:8080",
    ],
)
def test_graph_base_url_accepts_https_and_loopback_http(tmp_path: Path, url: str) -> None:
    path = write(tmp_path, f"meta: {{graph_base_url: '{url}'}}\n")
    assert load_settings(path, env={}).meta.graph_base_url == url.rstrip("/")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("file:///etc/passwd", r"got a file: URL"),
        ("ftp://hooks.example.com/T000/B000/SECRETPART", r"got a ftp: URL"),
        ("http://hooks.example.com/services/T000/B000/SECRETPART", r"only allowed to a loopback"),
        ("hooks.slack.com/services/T000/B000/SECRETPART", r"must start with https://"),
    ],
)
def test_webhook_url_is_https_or_loopback_and_never_echoed(
    tmp_path: Path, url: str, expected: str
) -> None:
    path = write(tmp_path, f"alerts: {{webhook_url: '{url}'}}\n")
    with pytest.raises(SettingsError, match=r"alerts\.webhook_url: .*" + expected) as info:
        load_settings(path, env={})
    assert "SECRETPART" not in str(info.value) and "passwd" not in str(info.value)
    # The environment override goes through the same check.
    with pytest.raises(SettingsError, match=r"alerts\.webhook_url") as info:
        load_settings(env={"ADS_PLATFORM_ALERT_WEBHOOK_URL": url, "ADS_PLATFORM_CONFIG": str(path)})
    assert "SECRETPART" not in str(info.value)


def test_webhook_url_accepts_https_and_loopback_receivers(tmp_path: Path) -> None:
    for url in ("https://hooks.slack.com/services/T0/B0/xyz", "http://127.0.0.1:8765/hook"):
        path = write(tmp_path, f"alerts: {{webhook_url: '{url}'}}\n")
        assert load_settings(path, env={}).alerts.webhook_url == url


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("1900-01-01", r"1900-01-01 is before 2010-01-01"),
        ("2009-12-31", r"2009-12-31 is before 2010-01-01"),
        ("future", r"\S+ is in the future"),
    ],
)
def test_start_date_in_the_future_or_before_the_graph_api_is_refused(
    tmp_path: Path, day: str, expected: str
) -> None:
    if day == "future":
        day = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).date().isoformat()
    path = write(tmp_path, f"ingestion: {{start_date: {day}}}\n")
    with pytest.raises(SettingsError, match=r"ingestion\.start_date: " + expected):
        load_settings(path, env={})


def test_start_date_older_than_meta_retention_still_loads(tmp_path: Path) -> None:
    """A deployment must not stop loading as time passes; doctor warns instead."""
    for day in ("2010-01-01", "2015-06-01"):
        path = write(tmp_path, f"ingestion: {{start_date: {day}}}\n")
        assert load_settings(path, env={}).ingestion.start_date == dt.date.fromisoformat(day)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    path = write(tmp_path, f"ingestion: {{start_date: {today}}}\n")
    assert load_settings(path, env={}).ingestion.start_date.isoformat() == today


def test_doctor_warns_about_days_older_than_meta_retention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ads_platform.doctor import run_doctor

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    now = dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC)
    path = write(tmp_path, "ingestion: {start_date: 2023-09-30}\n")
    check = {c.name: c for c in run_doctor(str(path), now=lambda: now).checks}["start date"]
    assert check.status == "WARN"
    assert "37-month" in check.detail and "2023-10-01" in check.detail
    assert "move ingestion.start_date to 2023-10-01" in check.hint
    path = write(tmp_path, "ingestion: {start_date: 2023-10-01}\n")
    check = {c.name: c for c in run_doctor(str(path), now=lambda: now).checks}["start date"]
    assert check.status == "OK"


def test_an_unquoted_numeric_account_id_says_how_to_write_it(tmp_path: Path) -> None:
    path = write(tmp_path, "accounts:\n  - {id: 1234, token_env: T}\n")
    with pytest.raises(SettingsError) as info:
        load_settings(path, env={"T": "token-value-123"})
    assert "accounts[0].id: 1234 is a number: quote it and prefix act_: 'act_1234'" in str(
        info.value
    )
    assert "valid string" not in str(info.value)


def test_demo_settings_keep_loading(tmp_path: Path) -> None:
    from ads_platform.demo import write_demo_settings

    today = dt.datetime.now(dt.UTC).date()
    config, tokens = write_demo_settings(
        tmp_path / "home",
        "http://127.0.0.1:40123",
        ["act_1", "act_2"],
        start_date=today - dt.timedelta(days=73),
        extra={"alerts": {"webhook_url": "http://127.0.0.1:40124/hook"}},
    )
    settings = load_settings(config, env=tokens)
    assert settings.meta.graph_base_url == "http://127.0.0.1:40123"
    assert [a.enabled for a in settings.accounts] == [True, True]


def test_the_week_start_day_reaches_the_marts_and_a_wrong_day_is_refused(tmp_path: Path) -> None:
    from ads_platform.warehouse import dbt_vars

    config = tmp_path / "ads_platform.yaml"
    config.write_text("reporting: {week_start_day: sunday}\n")
    assert dbt_vars(load_settings(config))["week_start_day"] == "sunday"
    config.write_text("home: .ads_platform\n")
    assert dbt_vars(load_settings(config))["week_start_day"] == "monday"
    config.write_text("reporting: {week_start_day: funday}\n")
    with pytest.raises(SettingsError, match=r"reporting\.week_start_day"):
        load_settings(config)
