"""``ads-platform doctor``: is this installation able to run, and if not, what to fix.

Each check answers one question an operator asks when data stops arriving, in the
order the platform depends on them: the settings load; every account's token can
read its account and is valid, long-lived enough and has the scopes; the lake is
writable; the marts file is there and fresh; the Dagster instance (SQLite or
PostgreSQL) answers; the daemon, which runs schedules, sensors and backfills, is
alive.  Every non-OK line carries a
hint.  The exit code is non-zero when anything FAILs, so the command serves as a
deployment probe too (WARNs do not fail it: a fresh install has no marts yet and a
laptop may not run a daemon).

Token checks read the account and call ``debug_token`` with short timeouts and a
single retry: the doctor must answer in seconds even when Meta (or the network)
does not.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from ads_platform.datasets import AD_INSIGHTS_DAILY
from ads_platform.lake import Lake
from ads_platform.meta.errors import NetworkError, PermissionDeniedError, TokenInvalidError
from ads_platform.meta.redaction import redact
from ads_platform.meta.tokens import TokenInfo
from ads_platform.settings import (
    INSIGHTS_RETENTION_MONTHS,
    Settings,
    SettingsError,
    load_settings,
    retention_start,
)

if TYPE_CHECKING:
    from ads_platform.meta.client import GraphClient
    from ads_platform.resources import Credential

Status = Literal["OK", "WARN", "FAIL"]
#: The daemon writes a heartbeat every 30 s; four missed ones mean it is gone.
HEARTBEAT_MAX_AGE_SECONDS = 120.0


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    hint: str = ""


@dataclass
class DoctorReport:
    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, status: Status, detail: str, hint: str = "") -> None:
        self.checks.append(Check(name, status, redact(detail), redact(hint)))

    @property
    def exit_code(self) -> int:
        return 1 if any(c.status == "FAIL" for c in self.checks) else 0

    def count(self, status: Status) -> int:
        return sum(c.status == status for c in self.checks)

    def table(self) -> str:
        name_w = max([len(c.name) for c in self.checks] + [5])
        lines = [f"{'check'.ljust(name_w)}  status  detail", f"{'-' * name_w}  ------  ------"]
        for c in self.checks:
            lines.append(f"{c.name.ljust(name_w)}  {c.status.ljust(6)}  {c.detail}")
            if c.hint and c.status != "OK":
                lines.append(f"{' ' * name_w}          hint: {c.hint}")
        lines.append("")
        lines.append(
            f"{self.count('OK')} ok, {self.count('WARN')} warning(s), {self.count('FAIL')} "
            f"failure(s) -> exit code {self.exit_code}"
        )
        return "\n".join(lines)


def run_doctor(
    settings_path: str | None = None, *, now: Callable[[], dt.datetime] | None = None
) -> DoctorReport:
    clock = now or (lambda: dt.datetime.now(dt.UTC))
    report = DoctorReport()
    try:
        settings = load_settings(settings_path, require_tokens=False)
    except SettingsError as exc:
        report.add(
            "settings",
            "FAIL",
            settings_problem(exc),
            "fix the field(s) named above in that file, or point --config / "
            "ADS_PLATFORM_CONFIG at the right file",
        )
        _check_instance(report, None, clock())
        return report
    where = str(settings.source) if settings.source else "defaults (no settings file found)"
    accounts = settings.enabled_accounts
    report.add(
        "settings",
        "OK" if accounts else "WARN",
        f"{where}; {len(accounts)} enabled account(s); home {settings.home}",
        "" if accounts else "add ad accounts under `accounts:` in the settings file",
    )
    _check_start_date(report, settings, clock().date())
    check_tokens(report, settings, settings_path)
    _check_lake(report, settings)
    _check_marts(report, settings, clock())
    _check_instance(report, settings, clock())
    return report


def settings_problem(exc: SettingsError) -> str:
    """A settings error on one line: the file, then every field and what is wrong with it.

    The error's own text puts each field on a line of its own; a report row (and a log
    line) has one line, and the first one alone ("invalid settings in …:") says nothing.
    """
    head, *fields = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{head} {'; '.join(fields)}" if fields else head


def _check_start_date(report: DoctorReport, settings: Settings, today: dt.date) -> None:
    """Days older than Meta's retention cannot be pulled.  The settings accept such a
    start date (a deployment must not stop loading as time passes), so say it here."""
    start, oldest = settings.ingestion.start_date, retention_start(today)
    if start >= oldest:
        report.add("start date", "OK", f"ingestion.start_date {start}")
        return
    report.add(
        "start date",
        "WARN",
        f"ingestion.start_date {start} is older than Meta's {INSIGHTS_RETENTION_MONTHS}-month "
        f"insights retention: days before {oldest} cannot be pulled",
        f"move ingestion.start_date to {oldest} or later",
    )


# --------------------------------------------------------------------------- tokens


def check_tokens(report: DoctorReport, settings: Settings, settings_path: str | None) -> None:
    """Each enabled account's token: it reads the account, and ``debug_token`` says it is
    valid, has the required scopes and enough days left (``doctor`` and ``init``)."""
    from ads_platform.resources import PlatformResource

    platform = PlatformResource(config_path=settings_path)
    quick = settings.model_copy(
        update={
            "meta": settings.meta.model_copy(
                update={
                    "max_retries": 1,
                    "retry_budget_seconds": 15.0,
                    "connect_timeout_seconds": 5.0,
                    "read_timeout_seconds": 10.0,
                }
            )
        }
    )
    app_id, app_secret = settings.meta.app_id, settings.app_secret()
    app_token = f"{app_id}|{app_secret}" if app_id and app_secret else None
    for account in settings.enabled_accounts:
        name = f"token {account.id}"
        try:
            _, token_env = platform.token(settings, account.id)
        except SettingsError as exc:
            report.add(
                name,
                "FAIL",
                str(exc),
                f"export {account.token_env}=<access token> in the environment of the "
                "webserver, daemon and run workers",
            )
            continue
        step = "reading the ad account"

        def check(
            client: GraphClient, credential: Credential, account_id: str = account.id
        ) -> dict[str, Any]:
            nonlocal step
            step = "reading the ad account"
            # Reading the account first: a token can be valid yet have lost access
            # to this one account, which only a request for the account shows.
            client.get_account(account_id, ("id", "name"))
            step = "debug_token"
            return client.debug_token(input_token=credential.token, app_token=app_token)

        try:
            # The same token the pulls use (a refreshed one while it is newer than the
            # variable's), falling back to the variable's when Meta rejects it.
            data = platform.client_for(
                quick, account.id, check, rejected=lambda d: d.get("is_valid") is not True
            )
        except Exception as exc:
            report.add(
                name, "FAIL", f"{step} failed: {exc}", _token_hint(exc, token_env, account.id)
            )
            continue
        info = TokenInfo.from_debug_token(data, required_scopes=settings.tokens.required_scopes)
        days = info.days_left
        left = "never expires" if days is None else f"{days:.1f} day(s) left"
        scopes = ",".join(info.scopes) or "none"
        detail = f"{token_env}: valid={info.is_valid}, {left}, scopes {scopes}"
        if not info.is_valid or (days is not None and days <= 0):
            report.add(name, "FAIL", detail, f"replace the token in {token_env}")
        elif info.missing_scopes:
            report.add(
                name,
                "FAIL",
                detail + f"; missing {','.join(info.missing_scopes)}",
                "grant the missing permissions to the app user / system user",
            )
        elif days is not None and days < settings.tokens.warn_within_days:
            report.add(
                name,
                "WARN",
                detail,
                f"expires within {settings.tokens.warn_within_days} days: refresh or replace it",
            )
        else:
            report.add(name, "OK", detail)


def _token_hint(error: BaseException, token_env: str, account_id: str) -> str:
    """What to fix when the token check failed: the network is not the token's fault."""
    if isinstance(error, NetworkError):
        if error.loopback and error.reason == "refused":
            return (
                f"nothing listens at {error.host}:{error.port}: start the local Graph API "
                "(sandbox) or point meta.graph_base_url at the Graph API; the token was not "
                "checked"
            )
        return (
            f"cannot reach {error.host} (DNS / network): check the network and DNS from "
            "this machine (proxy, firewall, resolver); the token was not checked"
        )
    if isinstance(error, TokenInvalidError | PermissionDeniedError):
        return (
            f"the token in {token_env} cannot read {account_id}: issue a new one "
            "(Business Manager system user) or grant it access to the account"
        )
    return (
        "the Graph API answered with an error (see above): re-run the doctor; if it "
        "persists check Meta's status page and the settings under `meta:`"
    )


# --------------------------------------------------------------------------- lake, marts


def _check_lake(report: DoctorReport, settings: Settings) -> None:
    lake = Lake(settings.lake_dir)
    probe = lake.root / ".doctor" / f"probe-{uuid.uuid4().hex}.parquet"
    try:
        lake.write(probe, pa.table({"probe": [1]}))
        ok = lake.read_table(probe) is not None
        lake.delete(probe)
    except Exception as exc:
        report.add(
            "lake",
            "FAIL",
            f"cannot write to {lake.root}: {type(exc).__name__}: {exc}",
            "make ADS_PLATFORM_HOME/lake a writable directory for the user running Dagster "
            "(and check free disk space)",
        )
        return
    report.add("lake", "OK" if ok else "FAIL", f"{lake.root} writable (atomic write + delete)")


def _check_marts(report: DoctorReport, settings: Settings, now: dt.datetime) -> None:
    """Missing marts: WARN on a fresh install (nothing ingested yet), FAIL once the lake
    holds insights, because then dashboards are empty although data arrived."""
    path = settings.marts_path
    limit_h = settings.alerts.stale_after_hours
    if not path.exists():
        has_data = any(Lake(settings.lake_dir).dataset_dir(AD_INSIGHTS_DAILY).glob("*/*/*"))
        report.add(
            "marts",
            "FAIL" if has_data else "WARN",
            f"{path} does not exist"
            + (" although the lake holds insights" if has_data else " (nothing ingested yet)"),
            "materialize the `marts` group (the automation sensor does it after ingestion; "
            "check that it is running and the last dbt run's logs)",
        )
        return
    age_h = (now.timestamp() - path.stat().st_mtime) / 3600
    detail = f"{path} published {age_h:.1f} h ago"
    if age_h > limit_h:
        report.add(
            "marts",
            "WARN",
            detail + f" (older than alerts.stale_after_hours = {limit_h:g})",
            "the marts are not being rebuilt: check the daemon, the automation sensor and "
            "failed dbt runs",
        )
    else:
        report.add("marts", "OK", detail)


# --------------------------------------------------------------------------- instance


@contextmanager
def _dagster_home(settings: Settings | None) -> Iterator[tuple[Path | None, str]]:
    """DAGSTER_HOME, else the home ``ads-platform dev``/``demo`` prepare."""
    explicit = os.environ.get("DAGSTER_HOME")
    if explicit:
        yield Path(explicit), "DAGSTER_HOME"
        return
    candidate = settings.dagster_home if settings else None
    if candidate is not None and (candidate / "dagster.yaml").exists():
        os.environ["DAGSTER_HOME"] = str(candidate)
        try:
            yield candidate, "ADS_PLATFORM_HOME/dagster"
        finally:
            os.environ.pop("DAGSTER_HOME", None)
        return
    yield None, ""


def _check_instance(report: DoctorReport, settings: Settings | None, now: dt.datetime) -> None:
    import dagster as dg

    with _dagster_home(settings) as (home, source):
        if home is None:
            report.add(
                "dagster instance",
                "WARN",
                "DAGSTER_HOME is not set: runs would go to a throw-away instance",
                "export DAGSTER_HOME (with dagster.yaml, or deploy/dagster.postgres.yaml for "
                "PostgreSQL) for the webserver, the daemon and this command",
            )
            report.add("dagster daemon", "WARN", "not checked (no instance)")
            return
        try:
            with dg.DagsterInstance.get() as instance:
                storage = type(instance.run_storage).__name__
                kind = (
                    "PostgreSQL"
                    if "Postgres" in storage
                    else "SQLite"
                    if "Sqlite" in storage
                    else storage
                )
                began = time.monotonic()
                runs = instance.get_runs_count()
                ms = (time.monotonic() - began) * 1000
                report.add(
                    "dagster instance",
                    "OK",
                    f"{kind} storage via {source} ({home}); {runs} run(s); answered in {ms:.0f} ms",
                )
                _check_daemon(report, instance, now)
        except Exception as exc:
            hint = (
                "check dagster.yaml there; for PostgreSQL check DAGSTER_PG_URL and that the "
                "server accepts connections"
            )
            if "psycopg" in str(exc):
                hint = (
                    "SQLAlchemy 2.1 reads postgresql:// as psycopg 3: write DAGSTER_PG_URL as "
                    "postgresql+psycopg2://… (psycopg2 ships with dagster-postgres)"
                )
            report.add(
                "dagster instance",
                "FAIL",
                f"cannot open the instance in {home}: {type(exc).__name__}: {exc}",
                hint,
            )
            report.add("dagster daemon", "WARN", "not checked (no instance)")


def _check_daemon(report: DoctorReport, instance: object, now: dt.datetime) -> None:
    heartbeats = instance.get_daemon_heartbeats()  # type: ignore[attr-defined]
    required = list(instance.get_required_daemon_types())  # type: ignore[attr-defined]
    if not heartbeats:
        report.add(
            "dagster daemon",
            "WARN",
            "no daemon heartbeat: schedules, sensors, queued runs and backfills do not run",
            "start `dagster-daemon run` (or `ads-platform dev`) with the same DAGSTER_HOME",
        )
        return
    ages = {
        name: now.timestamp() - float(heartbeats[name].timestamp)
        for name in required
        if name in heartbeats
    }
    missing = [name for name in required if name not in heartbeats]
    stale = {name: age for name, age in ages.items() if age > HEARTBEAT_MAX_AGE_SECONDS}
    newest = min(ages.values()) if ages else None
    detail = f"{len(ages)}/{len(required)} daemons reporting" + (
        f", newest heartbeat {newest:.0f} s ago" if newest is not None else ""
    )
    if missing or stale:
        problems = [f"{n}: none" for n in missing] + [f"{n}: {a:.0f} s" for n, a in stale.items()]
        report.add(
            "dagster daemon",
            "WARN",
            detail + "; " + ", ".join(problems),
            "restart `dagster-daemon run`; see its log for the daemon that stopped",
        )
    else:
        report.add("dagster daemon", "OK", detail)


def doctor_command(config: str | None) -> int:
    """Print the report; the exit code for ``ads-platform doctor``."""
    report = run_doctor(config)
    print(report.table())
    return report.exit_code
