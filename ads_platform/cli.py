"""``ads-platform``: the command line (init, demo, sandbox, dev, backfill, refresh, status,
dashboard, sql, settings, doctor)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ads_platform.datasets import AD_INSIGHTS_DAILY
from ads_platform.settings import SettingsError, load_settings

# Dagster flags the backfill policy as beta on every import; users cannot act on it.
warnings.filterwarnings("ignore", message=".*is currently in beta.*")


def _home(home: str | None) -> Path:
    return Path(home or os.environ.get("ADS_PLATFORM_HOME") or ".ads_platform")


#: ``--help`` lists the commands in the order a user meets them, not alphabetically.
COMMAND_ORDER = (
    "init",
    "dev",
    "backfill",
    "refresh",
    "status",
    "doctor",
    "settings",
    "dashboard",
    "sql",
    "demo",
    "sandbox",
)


class _Commands(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda name: (rank.get(name, len(rank)), name))


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Meta ads analytics on Dagster: ingestion, validated lake, dbt marts."""


def _marts_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--config`` and ``--marts``: where a command that reads the marts finds them."""
    command = click.option(
        "--marts",
        "marts_path",
        default=None,
        help="Marts file (default $ADS_PLATFORM_HOME/marts.duckdb from the settings).",
    )(command)
    return click.option(
        "--config",
        "config_path",
        default=None,
        help="Settings file (default $ADS_PLATFORM_CONFIG or ./ads_platform.yaml): the marts' "
        "home.",
    )(command)


@main.command()
@click.option(
    "--days", default=14, show_default=True, type=click.IntRange(1, 400), help="Days to pull."
)
@click.option(
    "--accounts",
    default=3,
    show_default=True,
    type=click.IntRange(1, 50),
    help="Sandbox ad accounts.",
)
@click.option("--seed", default=7, show_default=True, help="Sandbox data seed.")
@click.option("--home", default=None, help="ADS_PLATFORM_HOME (default ./.ads_platform).")
@click.option("--no-marts", is_flag=True, help="Stop after ingestion.")
@click.option("--verbose", is_flag=True, help="Show dbt's line per model and test.")
@click.option("--debug", is_flag=True, help="Show Dagster's logs, stack traces included.")
def demo(
    days: int,
    accounts: int,
    seed: int,
    home: str | None,
    no_marts: bool,
    verbose: bool,
    debug: bool,
) -> None:
    """Run the whole platform against the local Graph API sandbox."""
    from ads_platform.demo import run_demo

    code = run_demo(
        home=_home(home),
        days=days,
        accounts=accounts,
        seed=seed,
        echo=click.echo,
        build_marts=not no_marts,
        debug=debug,
        verbose=verbose,
    )
    sys.exit(code)


@main.command()
@click.option(
    "--config",
    "config_path",
    default=None,
    help="File to write (default $ADS_PLATFORM_CONFIG or ./ads_platform.yaml).",
)
@click.option(
    "--account",
    "accounts",
    multiple=True,
    help="An ad account id (act_123 or 123); repeatable.",
)
@click.option(
    "--token-env",
    "token_envs",
    multiple=True,
    help="NAME of the variable holding the token: once for all accounts, or once per "
    "--account in the same order.  Never the token itself.",
)
@click.option(
    "--discover",
    "discover_env",
    default=None,
    metavar="VAR",
    help="Also add every account the token in VAR reaches (me/adaccounts).",
)
@click.option(
    "--api-base",
    default=None,
    help="Graph API base URL (default $META_GRAPH_BASE_URL or https://graph.facebook.com).",
)
@click.option("--home", default=None, help="Data home written to the file (default .ads_platform).")
@click.option(
    "--start-date",
    default=None,
    type=click.DateTime(["%Y-%m-%d"]),
    help="First day of the partitions (default: the 1st of the month a year back).",
)
@click.option("--lookback-days", default=28, show_default=True, type=click.IntRange(0, 90))
@click.option("--force", is_flag=True, help="Replace an existing file.")
def init(
    config_path: str | None,
    accounts: tuple[str, ...],
    token_envs: tuple[str, ...],
    discover_env: str | None,
    api_base: str | None,
    home: str | None,
    start_date: Any,
    lookback_days: int,
    force: bool,
) -> None:
    """Write a commented ads_platform.yaml for your accounts and check their tokens.

    The file names the environment variables that hold the tokens, never a token.  Each
    token is checked against the Graph API (reads the account; debug_token: valid,
    scopes, days left).  Exit code 0 when every token checks out, 1 when the file is
    written but a token is missing or failing, 2 when nothing was written.
    """
    from ads_platform.onboarding import run_init
    from ads_platform.settings import config_path as default_config_path

    sys.exit(
        run_init(
            path=Path(config_path) if config_path else default_config_path(),
            accounts=accounts,
            token_envs=token_envs,
            discover_env=discover_env,
            api_base=api_base,
            home=home,
            start_date=start_date.date() if start_date else None,
            lookback_days=lookback_days,
            force=force,
            echo=click.echo,
        )
    )


@main.command()
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--accounts", default=3, show_default=True, type=click.IntRange(1, 999))
@click.option("--latency-ms", default=0, show_default=True, type=click.IntRange(0, 60_000))
@click.option("--ads", "ads", default=None, type=click.IntRange(1, 20_000), help="Ads per account.")
def sandbox(port: int, seed: int, accounts: int, latency_ms: int, ads: int | None) -> None:
    """Serve the local Graph API sandbox on 127.0.0.1 until Ctrl-C."""
    from ads_platform.sandbox import serve_forever

    serve_forever(
        port=port, seed=seed, accounts=accounts, latency_ms=latency_ms, ads_per_account=ads
    )


@main.command()
@click.option(
    "--config",
    "config_path",
    default=None,
    help="Settings file (default $ADS_PLATFORM_CONFIG or ./ads_platform.yaml).",
)
@click.option(
    "--demo",
    is_flag=True,
    help="The sandbox with the demo settings instead of your own (what `make dev` runs).",
)
@click.option("--ui-port", default=3000, show_default=True, type=int)
@click.option(
    "--dashboard-port",
    default=8501,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Serve the dashboards on this port too (0: not).",
)
@click.option("--port", default=8765, show_default=True, type=int, help="Sandbox port (--demo).")
@click.option(
    "--accounts",
    default=3,
    show_default=True,
    type=click.IntRange(1, 50),
    help="Sandbox ad accounts (--demo).",
)
@click.option("--home", default=None, help="ADS_PLATFORM_HOME of the demo (--demo).")
def dev(
    config_path: str | None,
    demo: bool,
    ui_port: int,
    dashboard_port: int,
    port: int,
    accounts: int,
    home: str | None,
) -> None:
    """The Dagster UI (webserver + daemon) and the dashboards on your settings.

    Settings as every command finds them (--config, $ADS_PLATFORM_CONFIG,
    ./ads_platform.yaml); the instance is $DAGSTER_HOME, else $ADS_PLATFORM_HOME/dagster,
    the one `backfill`, `refresh` and `doctor` use.  The shipped schedules and sensors
    run while it runs.  --demo: the local Graph API sandbox and the demo settings.
    """
    from ads_platform.devserver import user_plan

    if demo:
        _dev_demo(ui_port, dashboard_port, port, accounts, home)
        return
    try:
        plan = user_plan(config_path, ui_port)
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    for note in plan.notes:
        click.echo(f"warning: {note}")
    click.echo(f"settings: {plan.settings_path}  instance: {plan.dagster_home}")
    _serve(plan, ui_port, dashboard_port)


def _dev_demo(
    ui_port: int, dashboard_port: int, port: int, accounts: int, home: str | None
) -> None:
    import datetime as dt

    from ads_platform.devserver import demo_plan
    from ads_platform.sandbox import Sandbox

    with Sandbox(seed=7, accounts=accounts, subprocess=True, port=port) as sb:
        plan = demo_plan(
            _home(home),
            sb.base_url,
            sb.account_ids,
            ui_port,
            start_date=sb.today() - dt.timedelta(days=90),
        )
        click.echo(f"sandbox: {sb.base_url}  settings: {plan.settings_path}")
        _serve(plan, ui_port, dashboard_port)


def _serve(plan: Any, ui_port: int, dashboard_port: int) -> None:
    """Run a :class:`~ads_platform.devserver.DevPlan` (and the dashboards) until Ctrl-C."""
    from ads_platform.demo import install_instance_config

    if plan.shipped_instance:
        install_instance_config(plan.dagster_home)
    click.echo(f"UI: http://127.0.0.1:{ui_port}  (Ctrl-C stops everything)")
    with contextlib.ExitStack() as stack:
        if dashboard_port:
            from ads_platform.dashboard.server import serve_in_background

            stack.enter_context(serve_in_background(plan.marts_path, dashboard_port))
            click.echo(f"Dashboards: http://127.0.0.1:{dashboard_port}")
        with contextlib.suppress(KeyboardInterrupt):
            subprocess.run(plan.argv, env=plan.env, check=False)


@main.command()
@click.argument("query")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option(
    "--marts",
    "marts_path",
    default=None,
    help="Marts file (default $ADS_PLATFORM_HOME/marts.duckdb).",
)
def sql(query: str, fmt: str, marts_path: str | None) -> None:
    """Run one read-only query against the published marts.

    SELECT, WITH … SELECT, FROM, VALUES, TABLE, DESCRIBE, SHOW and SUMMARIZE; anything
    else, and any file, URL or setting, is refused (exit code 2).
    """
    from ads_platform.sql import SqlError, run_query

    path = Path(marts_path) if marts_path else _marts_path()
    try:
        if marts_path:
            _refuse_build_database(path)
        click.echo(run_query(path, query, fmt))  # type: ignore[arg-type]
    except SqlError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def _marts_path() -> Path:
    try:
        return load_settings(require_tokens=False).marts_path
    except SettingsError:
        return _home(None).resolve() / "marts.duckdb"


def _refuse_build_database(path: Path) -> None:
    """``--marts`` must not name dbt's private build database: even a read-only reader
    holds a lock on it that makes a concurrent ``dbt build`` fail."""
    from ads_platform.sql import SqlError
    from ads_platform.warehouse import build_db_path

    try:
        build_db = build_db_path(load_settings(require_tokens=False))
    except SettingsError:
        build_db = _home(None) / "warehouse" / "marts.duckdb"
    if path.resolve() == build_db.resolve():
        raise SqlError(
            f"refused: {path} is the private build database (dbt writes it); "
            "query the published marts (leave out --marts)"
        )


@main.command()
@click.option(
    "--config",
    "config_path",
    default=None,
    help="Settings file (default $ADS_PLATFORM_CONFIG or ./ads_platform.yaml).",
)
@click.option("--from", "since", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "until", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option(
    "--accounts",
    default=None,
    help="Comma-separated account ids (default: every enabled account).",
)
@click.option(
    "--assets",
    default=None,
    help=f"Comma-separated day × account assets to fill (default: {AD_INSIGHTS_DAILY} "
    "and the breakdowns switched on in ingestion.breakdowns, in the same runs).",
)
@click.option("--wait/--no-wait", default=True, show_default=True)
@click.option("--with-marts/--no-marts", default=True, show_default=True)
@click.option("--debug", is_flag=True, help="Show Dagster's logs, stack traces included.")
def backfill(
    config_path: str | None,
    since: Any,
    until: Any,
    accounts: str | None,
    assets: str | None,
    wait: bool,
    with_marts: bool,
    debug: bool,
) -> None:
    """Submit a Dagster backfill of your accounts' days; with --wait, see it through.

    It appears in the UI like any backfill. A running Dagster daemon executes it; without
    one, --wait executes it in this process against the same instance. --no-wait queues
    every run (the accounts' entity runs too) for the daemon and returns at once. Exit
    code 1 when any partition failed (account, days and cause are printed), 2 on bad
    arguments.
    """
    from ads_platform.backfill import backfill_command

    sys.exit(
        backfill_command(
            config_path=config_path,
            since=since.date(),
            until=until.date(),
            accounts=[a.strip() for a in accounts.split(",") if a.strip()] if accounts else None,
            assets=[a.strip() for a in assets.split(",") if a.strip()] if assets else None,
            wait=wait,
            with_marts=with_marts,
            debug=debug,
            echo=click.echo,
        )
    )


@main.command()
@click.option(
    "--config",
    "config_path",
    default=None,
    help="Settings file (default $ADS_PLATFORM_CONFIG or ./ads_platform.yaml).",
)
@click.option("--wait/--no-wait", default=True, show_default=True)
@click.option("--with-marts/--no-marts", default=True, show_default=True)
@click.option("--debug", is_flag=True, help="Show Dagster's logs, stack traces included.")
def refresh(config_path: str | None, wait: bool, with_marts: bool, debug: bool) -> None:
    """Pull today and the lookback window (ingestion.lookback_days) for every enabled account.

    The same engine as `backfill` (a Dagster backfill on the same instance, executed by
    a running daemon or, with --wait, by this process) and the same summary; for cron.
    Exit code 1 when any partition failed, 2 on bad settings.
    """
    from ads_platform.backfill import refresh_command

    sys.exit(
        refresh_command(
            config_path=config_path, wait=wait, with_marts=with_marts, debug=debug, echo=click.echo
        )
    )


@main.command()
@_marts_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
def status(config_path: str | None, marts_path: str | None, fmt: str) -> None:
    """Each account: last good day, freshness, token days left, open alerts.

    Read from the published marts (data_freshness, alerts). Exit code 0 when every
    account is fresh, 1 when one is stale, 2 when there are no marts to read.
    """
    from ads_platform.sql import SqlError
    from ads_platform.status import NO_MARTS, format_status, read_status, status_json
    from ads_platform.warehouse import WarehouseError

    try:
        path = _dashboard_marts(config_path, marts_path)
        _refuse_build_database(path)
        report = read_status(path)
    except (SettingsError, SqlError, WarehouseError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(NO_MARTS)
    click.echo(status_json(report) if fmt == "json" else format_status(report))
    sys.exit(report.exit_code)


@main.command()
@click.option(
    "--port",
    default=8501,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to serve the dashboard on.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (loopback by default; put a proxy with auth in front to share).",
)
@_marts_options
def dashboard(port: int, host: str, config_path: str | None, marts_path: str | None) -> None:
    """Serve the dashboards (overview, account, data health) on the published marts.

    Read-only: the marts file is opened read-only with external access off; nothing
    the dashboard does can write to the marts or the lake.
    """
    from ads_platform.dashboard.server import dashboard_env, dashboard_url, streamlit_command
    from ads_platform.sql import SqlError

    try:
        path = _dashboard_marts(config_path, marts_path)
        _refuse_build_database(path)
    except (SettingsError, SqlError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if not path.exists():
        click.echo(f"note: no marts at {path} yet: the pages say so until a build publishes them")
    env = dashboard_env(path)
    if config_path:
        env["ADS_PLATFORM_CONFIG"] = str(Path(config_path).resolve())
    click.echo(
        f"dashboard: {dashboard_url(port, host)}  marts: {path.resolve()}  (Ctrl-C stops it)"
    )
    command = streamlit_command(port, host)
    # Replace this process: Ctrl-C and a service manager's SIGTERM reach Streamlit itself.
    os.execve(command[0], command, env)  # noqa: S606 - our own interpreter, fixed arguments


def _dashboard_marts(config_path: str | None, marts_path: str | None) -> Path:
    if marts_path:
        return Path(marts_path)
    if config_path:
        return load_settings(config_path, require_tokens=False).marts_path
    return _marts_path()


@main.command("settings")
@click.option(
    "--config",
    "config_path",
    default=None,
    help="Settings file (default $ADS_PLATFORM_CONFIG or ./ads_platform.yaml).",
)
def settings_cmd(config_path: str | None) -> None:
    """Validate the settings (tokens included) and print them without secrets."""
    try:
        settings = load_settings(config_path)
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"settings: {settings.source or '(defaults)'}")
    click.echo(f"home:     {settings.home}")
    click.echo(f"graph:    {settings.meta.graph_base_url}/{settings.meta.api_version}")
    for account in settings.accounts:
        state = "enabled" if account.enabled else "disabled"
        click.echo(f"account:  {account.id} ({state}) token from ${account.token_env}")


@main.command()
@click.option(
    "--config",
    "config_path",
    default=None,
    help="Settings file (default $ADS_PLATFORM_CONFIG or ./ads_platform.yaml).",
)
def doctor(config_path: str | None) -> None:
    """Check settings, tokens, lake, marts, the Dagster instance and the daemon."""
    from ads_platform.doctor import doctor_command

    sys.exit(doctor_command(config_path))


if __name__ == "__main__":
    main()
