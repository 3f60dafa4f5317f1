"""``ads-platform init``: a first settings file for the user's own ad accounts.

Why a command and not a sample file to copy: the two things a newcomer gets wrong are
the account ids (an unquoted number, a missing ``act_``) and where the token goes (the
token itself pasted into the file).  ``init`` writes ids the settings loader accepts,
names the *environment variables* that hold the tokens and never their values, and then
checks each token against the Graph API with the doctor's own token check (the account
is readable, ``debug_token``: valid, scopes, days left), so the user learns right away
what is still missing.

It is non-interactive (``--account act_1 --token-env META_TOKEN_A …``) so it serves a
script as well as a person, and ``--discover VAR`` lists the accounts one token reaches
(``me/adaccounts``).  The file is written only when it does not exist yet (``--force``
replaces it) and is read back with the settings loader before anything else is said.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ads_platform.atomic import write_bytes
from ads_platform.meta.redaction import redact, register_secret
from ads_platform.settings import (
    ENV_NAME_RE,
    MetaSettings,
    Settings,
    SettingsError,
    load_settings,
)

#: Exit codes: written and every token checks out; written but something is missing
#: or failing (the report says what); nothing written (bad arguments, file exists,
#: discovery failed).
OK, INCOMPLETE, NOT_WRITTEN = 0, 1, 2
#: Meta account_status values of accounts that cannot deliver (disabled, closed, …):
#: discovered ones are written switched off.
INACTIVE_STATUSES = frozenset({2, 100, 101})
_BARE_ID = re.compile(r"^[0-9]+$")
_ACT_ID = re.compile(r"^act_[0-9]+$")


class InitError(ValueError):
    """The arguments cannot make a settings file; the message says which and why."""


@dataclass(frozen=True)
class AccountEntry:
    id: str
    token_env: str
    label: str | None = None
    enabled: bool = True
    #: Where the entry came from, said in the file's comment.
    origin: str = "--account"


def normalise_account_id(raw: str) -> str:
    """``act_123`` as is, a bare ``123`` as ``act_123``; anything else is refused."""
    value = raw.strip()
    if _BARE_ID.fullmatch(value):
        return f"act_{value}"
    if _ACT_ID.fullmatch(value):
        return value
    raise InitError(
        f"{raw!r} is not an ad account id: expected act_ followed by digits "
        "(e.g. act_1234567890) or the digits alone"
    )


def check_token_env(name: str) -> str:
    """A variable *name*; something that looks like a token itself is refused unrepeated.

    Access tokens are letters and digits too, so the name rule alone would let one
    through into the file.  Meta's tokens start with ``EAA`` and run to ~200 characters;
    no sensible variable name does either.
    """
    value = name.strip()
    if len(value) >= 48 or (value.startswith("EAA") and len(value) >= 24):
        raise InitError(
            "a --token-env value looks like an access token, not the name of the variable "
            "holding one: export the token (export META_TOKEN_A=…) and pass the name"
        )
    if not ENV_NAME_RE.fullmatch(value):
        raise InitError(
            f"{value!r} is not an environment variable name (letters, digits and _, not "
            "starting with a digit)"
        )
    return value


def pair_accounts(accounts: Sequence[str], token_envs: Sequence[str]) -> list[AccountEntry]:
    """``--account`` ids with their ``--token-env`` names: one name for every account,
    or one per account in the same order."""
    ids = [normalise_account_id(a) for a in accounts]
    names = [check_token_env(n) for n in token_envs]
    if ids and not names:
        raise InitError("name the token variable: --token-env META_TOKEN (one for all accounts)")
    if len(names) not in (1, len(ids)) and ids:
        raise InitError(
            f"{len(ids)} --account and {len(names)} --token-env: give one --token-env for "
            "all accounts or one per account, in the same order"
        )
    if len(ids) != len(set(ids)):
        raise InitError("an account is listed twice")
    return [
        AccountEntry(account_id, names[0] if len(names) == 1 else names[i])
        for i, account_id in enumerate(ids)
    ]


def meta_for(api_base: str | None, env: Mapping[str, str]) -> MetaSettings:
    """The Graph API the checks talk to: ``--api-base``, else ``META_GRAPH_BASE_URL`` (the
    settings' own override), else Meta."""
    base = api_base or env.get("META_GRAPH_BASE_URL") or MetaSettings().graph_base_url
    try:
        return MetaSettings(graph_base_url=base)
    except ValueError as exc:
        raise InitError(f"--api-base {base!r}: {_first_error(exc)}") from None


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return str(errors()[0]["msg"]).removeprefix("Value error, ")
    return str(exc)


def discover(meta: MetaSettings, token_env: str, env: Mapping[str, str]) -> list[AccountEntry]:
    """Every ad account the token in ``token_env`` reaches (``me/adaccounts``)."""
    from ads_platform.resources import PlatformResource

    token = env.get(token_env, "").strip()
    if not token:
        raise InitError(
            f"--discover {token_env}: the variable is not set; export it with the token "
            "whose accounts to list"
        )
    register_secret(token)
    # The platform's one token path, with this variable as the discovery token.
    settings = Settings.model_validate(
        {
            "meta": meta.model_copy(update={"max_retries": 1}).model_dump(),
            "discovery": {"enabled": True, "token_env": token_env},
        }
    )
    try:
        rows = PlatformResource().discovery_client(
            settings,
            lambda client, _credential: list(
                client.list_ad_accounts(("id", "name", "account_status"))
            ),
        )
    except Exception as exc:
        raise InitError(f"me/adaccounts with {token_env} failed: {redact(str(exc))}") from None
    found = []
    for row in rows:
        try:
            account_id = normalise_account_id(str(row.get("id", "")))
        except InitError:
            continue
        status = row.get("account_status")
        found.append(
            AccountEntry(
                account_id,
                token_env,
                label=str(row["name"]) if row.get("name") else None,
                enabled=status not in INACTIVE_STATUSES,
                origin=f"me/adaccounts of {token_env}"
                + (f", account_status {status}" if status not in (None, 1) else ""),
            )
        )
    return found


def default_start_date(today: dt.date) -> dt.date:
    """The first of the month a year back: a year of history without a huge grid."""
    return dt.date(today.year - 1, today.month, 1)


def render(
    accounts: Sequence[AccountEntry],
    *,
    meta: MetaSettings,
    home: str,
    start_date: dt.date,
    lookback_days: int,
    today: dt.date,
) -> str:
    """The commented settings file.  Values are written as JSON scalars (valid YAML)."""

    def q(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)

    variables = sorted({a.token_env for a in accounts})
    lines = [
        f"# ads_platform.yaml, written by `ads-platform init` on {today.isoformat()}.",
        "#",
        "# No token is written here: each account names the environment variable that holds",
        "# its access token.  Export it wherever the platform runs (this shell, the Dagster",
        "# webserver and daemon services):",
        *[f"#   export {name}=<access token>" for name in variables],
        "# Check everything with `ads-platform doctor`; every setting is described in the",
        "# README's Configuration section.",
        "",
        "# Where the lake, the published marts (marts.duckdb) and the Dagster instance live;",
        "# a relative path is relative to this file.",
        f"home: {q(home)}",
        "",
        "meta:",
        "  # The Graph API: Meta's, or a local stand-in such as `ads-platform sandbox`.",
        f"  graph_base_url: {q(meta.graph_base_url)}",
        f"  api_version: {q(meta.api_version)}",
        "",
        "# One entry per ad account (ids quoted).  `enabled: false` keeps an account",
        "# configured without pulling it.",
        "accounts:",
    ]
    for account in accounts:
        lines.append(f"  - id: {q(account.id)}  # {account.origin}")
        lines.append(f"    token_env: {account.token_env}")
        if account.label:
            lines.append(f"    label: {q(account.label)}")
        lines.append(f"    enabled: {'true' if account.enabled else 'false'}")
    lines += [
        "",
        "ingestion:",
        "  # First day of the daily partitions: `ads-platform backfill --from` reaches back",
        "  # to it.  Meta keeps 37 months of insights; every day × account is a partition.",
        f"  start_date: {start_date.isoformat()}",
        "  # Closed days re-pulled by `ads-platform refresh` and the daily schedule (Meta",
        "  # restates conversions for up to 28 days).",
        f"  lookback_days: {lookback_days}",
        "",
    ]
    return "\n".join(lines)


def _refuse_secrets(text: str, accounts: Sequence[AccountEntry], env: Mapping[str, str]) -> None:
    """The last guard before the disk: no token value of a named variable in the text."""
    for name in {a.token_env for a in accounts}:
        value = env.get(name, "").strip()
        if len(value) >= 8 and value in text:
            raise InitError(f"refused: the file would contain the value of {name}")


def run_init(
    *,
    path: Path,
    accounts: Sequence[str],
    token_envs: Sequence[str],
    discover_env: str | None,
    api_base: str | None,
    home: str | None,
    start_date: dt.date | None,
    lookback_days: int,
    force: bool,
    echo: Callable[[str], None] = print,
    today: dt.date | None = None,
) -> int:
    """Write the settings file, read it back, check its tokens; the exit code.

    Tokens are read from this process's environment, as every command reads them.
    """
    env = os.environ
    today = today or dt.date.today()
    try:
        entries = pair_accounts(accounts, token_envs)
        if path.exists() and not force:
            raise InitError(f"{path} exists: --force replaces it (or --config another path)")
        meta = meta_for(api_base, env)
        if discover_env:
            found = {e.id: e for e in discover(meta, check_token_env(discover_env), env)}
            echo(f"me/adaccounts of {discover_env}: {len(found)} account(s)")
            # A listed account keeps its own token variable and takes the listed name.
            entries = [replace(e, label=found[e.id].label) if e.id in found else e for e in entries]
            known = {e.id for e in entries}
            entries += [e for e in found.values() if e.id not in known]
        if not entries:
            raise InitError(
                "no account: give --account act_… --token-env VAR (repeatable), or "
                "--discover VAR to list the accounts a token reaches"
            )
        text = render(
            entries,
            meta=meta,
            home=home or ".ads_platform",
            start_date=start_date or default_start_date(today),
            lookback_days=lookback_days,
            today=today,
        )
        _refuse_secrets(text, entries, env)
    except InitError as exc:
        echo(f"error: {exc}")
        return NOT_WRITTEN
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, text.encode("utf-8"))
    try:
        settings = load_settings(path, require_tokens=False)
    except SettingsError as exc:  # a bug here, or an argument the loader refuses
        path.unlink()
        echo(f"error: the file would not load, not written: {exc}")
        return NOT_WRITTEN
    echo(f"wrote {path.resolve()}: {len(settings.accounts)} account(s), home {settings.home}")
    return report_tokens(settings, path, echo)


def report_tokens(settings: Settings, path: Path, echo: Callable[[str], None]) -> int:
    """The doctor's token check on every enabled account, then what is still missing."""
    from ads_platform.doctor import DoctorReport, check_tokens

    report = DoctorReport()
    check_tokens(report, settings, str(path))
    for check in report.checks:
        echo(f"{check.status:<4}  {check.name}: {check.detail}")
        if check.hint and check.status != "OK":
            echo(f"      hint: {check.hint}")
    failed = [c for c in report.checks if c.status == "FAIL"]
    unset = sorted(
        {a.token_env for a in settings.enabled_accounts if not os.environ.get(a.token_env)}
    )
    if not failed:
        echo("next: ads-platform doctor, then ads-platform backfill --from … --to …")
        return OK
    missing = f"; export {', '.join(unset)}" if unset else ""
    echo(f"missing: {len(failed)} of {len(report.checks)} token check(s) failed{missing}")
    echo("the file is written; fix the tokens and check again with `ads-platform doctor`")
    return INCOMPLETE
