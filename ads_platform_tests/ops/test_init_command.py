"""``ads-platform init``: a settings file for the user's accounts, checked against the
Graph API (the sandbox over real HTTP), with no secret in it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ads_platform.cli import main
from ads_platform.doctor import run_doctor
from ads_platform.onboarding import (
    InitError,
    check_token_env,
    normalise_account_id,
    pair_accounts,
)
from ads_platform.sandbox import Sandbox
from ads_platform.settings import load_settings

TOKENS = {"ACME_TOKEN_A": "sandbox-token-acme-a-0001", "ACME_TOKEN_B": "sandbox-token-acme-b-0002"}


@pytest.fixture
def user_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's shell: their token variables, none of the platform's, in their folder."""
    for name in ("ADS_PLATFORM_CONFIG", "ADS_PLATFORM_HOME", "DAGSTER_HOME", "META_GRAPH_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _init(*args: str) -> Result:
    return CliRunner().invoke(main, ["init", *args])


def test_init_writes_a_commented_file_that_loads_names_the_variables_and_holds_no_token(
    fresh_sandbox: Sandbox, user_env: Path
) -> None:
    first, second = sorted(fresh_sandbox.account_ids)[:2]
    result = _init(
        "--account",
        first,
        "--account",
        second.removeprefix("act_"),  # a bare number is accepted and normalised
        "--token-env",
        "ACME_TOKEN_A",
        "--token-env",
        "ACME_TOKEN_B",
        "--api-base",
        fresh_sandbox.base_url,
        "--home",
        str(user_env / "data"),
    )
    assert result.exit_code == 0, result.output
    path = user_env / "ads_platform.yaml"  # ./ads_platform.yaml, where every command looks
    text = path.read_text()
    assert text.startswith("# ads_platform.yaml, written by `ads-platform init`")
    assert "export ACME_TOKEN_A=<access token>" in text
    for value in TOKENS.values():
        assert value not in text and value not in result.output
    settings = load_settings(require_tokens=True)  # the same resolution as every command
    assert settings.source == path.resolve()
    assert [(a.id, a.token_env) for a in settings.accounts] == [
        (first, "ACME_TOKEN_A"),
        (second, "ACME_TOKEN_B"),
    ]
    assert settings.meta.graph_base_url == fresh_sandbox.base_url
    assert settings.home == user_env / "data"
    for account in (first, second):
        line = next(x for x in result.output.splitlines() if f"token {account}:" in x)
        assert line.startswith("OK") and "valid=True" in line and "ads_read" in line
        assert "day(s) left" in line
    report = run_doctor()
    assert report.exit_code == 0, report.table()
    assert {c.name: c.status for c in report.checks}["settings"] == "OK"


def test_init_discovers_the_accounts_a_token_reaches_with_their_names(
    fresh_sandbox: Sandbox, user_env: Path
) -> None:
    result = _init("--discover", "ACME_TOKEN_A", "--api-base", fresh_sandbox.base_url)
    assert result.exit_code == 0, result.output
    assert f"me/adaccounts of ACME_TOKEN_A: {len(fresh_sandbox.account_ids)} account(s)" in (
        result.output
    )
    settings = load_settings(require_tokens=False)
    assert {a.id for a in settings.accounts} == set(fresh_sandbox.account_ids)
    assert {a.token_env for a in settings.accounts} == {"ACME_TOKEN_A"}
    names = {a["id"]: a["name"] for a in fresh_sandbox.accounts}
    assert {a.id: a.label for a in settings.accounts} == names


def test_an_expired_and_a_revoked_token_are_reported_and_the_exit_code_says_so(
    fresh_sandbox: Sandbox, user_env: Path
) -> None:
    first, second = sorted(fresh_sandbox.account_ids)[:2]
    fresh_sandbox.add_fault("token_expired", account_id=first)
    fresh_sandbox.add_fault("token_revoked", account_id=second)
    result = _init(
        "--account",
        first,
        "--account",
        second,
        "--token-env",
        "ACME_TOKEN_A",
        "--token-env",
        "ACME_TOKEN_B",
        "--api-base",
        fresh_sandbox.base_url,
    )
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    expired = next(x for x in lines if f"token {first}:" in x)
    revoked = next(x for x in lines if f"token {second}:" in x)
    assert expired.startswith("FAIL") and "expired" in expired
    assert revoked.startswith("FAIL") and "ACME_TOKEN_B" in lines[lines.index(revoked) + 1]
    assert "missing: 2 of 2 token check(s) failed" in result.output
    assert (user_env / "ads_platform.yaml").exists()  # written all the same: fix and re-check
    assert "Traceback" not in result.output
    for value in TOKENS.values():
        assert value not in result.output


def test_an_unset_token_variable_is_named_with_the_export_to_run(
    fresh_sandbox: Sandbox, user_env: Path
) -> None:
    account = sorted(fresh_sandbox.account_ids)[0]
    args = ("--account", account, "--token-env", "CLIENT_X_TOKEN")
    result = _init(*args, "--api-base", fresh_sandbox.base_url)
    assert result.exit_code == 1, result.output
    assert "environment variable CLIENT_X_TOKEN is not set" in result.output
    assert "missing: 1 of 1 token check(s) failed; export CLIENT_X_TOKEN" in result.output


def test_a_malformed_account_id_writes_nothing(user_env: Path) -> None:
    result = _init("--account", "act_12x4", "--token-env", "ACME_TOKEN_A")
    assert result.exit_code == 2
    assert "'act_12x4' is not an ad account id" in result.output
    assert not (user_env / "ads_platform.yaml").exists()


def test_an_existing_file_is_kept_unless_forced(fresh_sandbox: Sandbox, user_env: Path) -> None:
    path = user_env / "ads_platform.yaml"
    path.write_text("# my hand-written settings\n")
    account = sorted(fresh_sandbox.account_ids)[0]
    args = ("--account", account, "--token-env", "ACME_TOKEN_A", "--api-base")
    refused = _init(*args, fresh_sandbox.base_url)
    assert refused.exit_code == 2 and "exists: --force replaces it" in refused.output
    assert path.read_text() == "# my hand-written settings\n"
    forced = _init(*args, fresh_sandbox.base_url, "--force")
    assert forced.exit_code == 0, forced.output
    assert load_settings(path, require_tokens=False).accounts[0].id == account


def test_a_token_pasted_where_its_variable_name_goes_is_refused_and_not_repeated(
    user_env: Path,
) -> None:
    token = "EAAGm0PX4ZCpsBAKZCxyz0123456789abcdefABCDEF"
    result = _init("--account", "act_1", "--token-env", token)
    assert result.exit_code == 2
    assert "looks like an access token" in result.output
    assert token not in result.output
    assert not (user_env / "ads_platform.yaml").exists()


@pytest.mark.parametrize(
    ("raw", "expected"), [("act_123", "act_123"), ("123", "act_123"), (" 0042 ", "act_0042")]
)
def test_account_ids_are_act_and_digits_and_a_bare_number_gets_the_prefix(
    raw: str, expected: str
) -> None:
    assert normalise_account_id(raw) == expected


@pytest.mark.parametrize("raw", ["act_", "act_12a", "12-34", "ACT_12", ""])
def test_anything_else_is_not_an_account_id(raw: str) -> None:
    with pytest.raises(InitError, match="not an ad account id"):
        normalise_account_id(raw)


def test_variable_names_are_checked_and_tokens_are_not_names() -> None:
    assert check_token_env("META_TOKEN_A") == "META_TOKEN_A"
    for bad in ("1TOKEN", "META-TOKEN", "EAAB" + "x" * 30, "a" * 60):
        with pytest.raises(InitError):
            check_token_env(bad)


def test_one_token_variable_serves_every_account_or_one_each_in_order(user_env: Path) -> None:
    three = ("--account", "1", "--account", "2", "--account", "3")
    mismatch = _init(*three, "--token-env", "A", "--token-env", "B")
    assert mismatch.exit_code == 2
    assert "one --token-env for all accounts or one per account" in mismatch.output
    assert "name the token variable" in _init("--account", "1").output
    assert "no account" in _init().output
    assert not (user_env / "ads_platform.yaml").exists()


def test_a_single_token_variable_is_paired_with_every_account() -> None:
    entries = pair_accounts(["1", "act_2"], ["AGENCY_TOKEN"])
    assert [(e.id, e.token_env) for e in entries] == [
        ("act_1", "AGENCY_TOKEN"),
        ("act_2", "AGENCY_TOKEN"),
    ]
