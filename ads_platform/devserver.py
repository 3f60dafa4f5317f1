"""``ads-platform dev``: the Dagster UI (webserver + daemon) on the user's settings.

Why a plan and a separate launch: what ``dev`` starts is decided by a function that
returns the command line and the environment (:func:`user_plan`, :func:`demo_plan`);
the command only executes it.  That makes the decision testable without a server and
keeps one rule for where things are:

* the settings come from the one resolver every command uses (``--config``, else
  ``$ADS_PLATFORM_CONFIG``, else ``./ads_platform.yaml``: :func:`load_settings`), and
  the child processes get that file's absolute path, so the webserver, the daemon, the
  code server and the run workers read the same file whatever their working directory;
* ``DAGSTER_HOME`` is ``$DAGSTER_HOME`` when set, else ``$ADS_PLATFORM_HOME/dagster``
  with the shipped ``dagster.yaml`` (:func:`ads_platform.demo.prepare_dagster_home`),
  the instance ``backfill``, ``refresh``, ``doctor`` and ``demo`` use, so the UI, the CLI
  and the daemon see the same runs.

``dev --demo`` is the sandbox experience: the local Graph API, the demo settings and
their fake tokens.
"""

from __future__ import annotations

import datetime as dt
import os
import sysconfig
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ads_platform.settings import SettingsError, load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = REPO_ROOT / "workspace.yaml"


@dataclass(frozen=True)
class DevPlan:
    """What ``ads-platform dev`` runs: ``argv`` with ``env``, and where things live."""

    argv: list[str]
    env: dict[str, str]
    settings_path: Path
    home: Path
    dagster_home: Path
    #: Things to say before starting (a token variable that is not set, …).
    notes: list[str] = field(default_factory=list)

    @property
    def shipped_instance(self) -> bool:
        """The instance is the platform's own (not a ``$DAGSTER_HOME`` the user chose):
        it gets the shipped ``dagster.yaml`` when it has none."""
        return self.dagster_home == self.home / "dagster"

    @property
    def marts_path(self) -> Path:
        return self.home / "marts.duckdb"


def dagster_dev_argv(ui_port: int, host: str = "127.0.0.1") -> list[str]:
    """``dagster dev`` from this interpreter's environment, on the platform's workspace."""
    scripts = Path(sysconfig.get_path("scripts"))
    dagster = scripts / "dagster"
    return [
        str(dagster) if dagster.exists() else "dagster",
        "dev",
        "-w",
        str(WORKSPACE),
        "-p",
        str(ui_port),
        "-h",
        host,
    ]


def dagster_home_for(home: Path, environ: Mapping[str, str]) -> Path:
    """``$DAGSTER_HOME`` when set, else the instance under the data home."""
    explicit = environ.get("DAGSTER_HOME")
    return Path(explicit) if explicit else home / "dagster"


def _child_env(
    environ: Mapping[str, str], settings_path: Path, home: Path, dagster_home: Path
) -> dict[str, str]:
    # The venv need not be activated: its bin goes first so dagster, dbt and the code
    # server all come from it.
    scripts = sysconfig.get_path("scripts")
    return {
        **environ,
        "ADS_PLATFORM_CONFIG": str(settings_path),
        "ADS_PLATFORM_HOME": str(home),
        "DAGSTER_HOME": str(dagster_home),
        "PATH": os.pathsep.join([scripts, environ.get("PATH", "")]),
    }


def user_plan(
    config_path: str | None, ui_port: int, environ: Mapping[str, str] | None = None
) -> DevPlan:
    """The UI on the user's own settings file; :class:`SettingsError` when there is none
    or it does not load (the message says what to do)."""
    environ = dict(os.environ if environ is None else environ)
    settings = load_settings(config_path, environ, require_tokens=False)
    if settings.source is None:
        raise SettingsError(
            "no settings file (looked for $ADS_PLATFORM_CONFIG, then ./ads_platform.yaml): "
            "write one with `ads-platform init`, pass --config, or try the sandbox with "
            "`ads-platform dev --demo`"
        )
    home = settings.home.resolve()
    dagster_home = dagster_home_for(home, environ)
    notes = [
        f"{a.token_env} is not set: {a.id}'s runs will fail until it is exported "
        "(then restart `ads-platform dev`)"
        for a in settings.enabled_accounts
        if not environ.get(a.token_env, "").strip()
    ]
    if not settings.enabled_accounts:
        notes.append(f"no enabled account in {settings.source}: add them under `accounts:`")
    return DevPlan(
        argv=dagster_dev_argv(ui_port),
        env=_child_env(environ, settings.source, home, dagster_home),
        settings_path=settings.source,
        home=home,
        dagster_home=dagster_home,
        notes=notes,
    )


def demo_plan(
    root: Path,
    base_url: str,
    account_ids: Sequence[str],
    ui_port: int,
    *,
    start_date: dt.date,
    environ: Mapping[str, str] | None = None,
) -> DevPlan:
    """The UI on the demo settings for a running sandbox (writes them under ``root``)."""
    from ads_platform.demo import write_demo_settings

    environ = dict(os.environ if environ is None else environ)
    root = root.resolve()
    config_path, tokens = write_demo_settings(root, base_url, account_ids, start_date=start_date)
    dagster_home = dagster_home_for(root, environ)
    env = _child_env({**environ, **tokens}, config_path, root, dagster_home)
    return DevPlan(
        argv=dagster_dev_argv(ui_port),
        env=env,
        settings_path=config_path,
        home=root,
        dagster_home=dagster_home,
    )
