"""The demo: the whole platform against the local Graph API sandbox, on a real instance.

It starts the sandbox, writes demo settings (one fake token per account, held in
environment variables exactly as production tokens are), and materializes every asset
through a real Dagster instance under ``$ADS_PLATFORM_HOME/dagster`` (or
``$DAGSTER_HOME``), so the runs, checks and partitions show up in the UI afterwards.
Nothing here touches the internet.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_DAGSTER_YAML = REPO_ROOT / "dagster.yaml"


@dataclass
class DemoEnvironment:
    home: Path
    config_path: Path
    dagster_home: Path
    env: dict[str, str] = field(default_factory=dict)


def demo_token_env(account_id: str) -> str:
    return f"DEMO_META_TOKEN_{account_id.upper()}"


def write_demo_settings(
    home: Path,
    base_url: str,
    account_ids: Sequence[str],
    *,
    start_date: dt.date,
    extra: Mapping[str, Any] | None = None,
) -> tuple[Path, dict[str, str]]:
    """Settings for the sandbox, plus the token variables they name."""
    config_dir = home / "demo"
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "ads_platform.yaml"
    data: dict[str, Any] = {
        "home": str(home),
        "meta": {"graph_base_url": base_url, "read_timeout_seconds": 30.0},
        "accounts": [
            {"id": account_id, "token_env": demo_token_env(account_id), "label": f"demo {i + 1}"}
            for i, account_id in enumerate(account_ids)
        ],
        "ingestion": {"start_date": start_date.isoformat()},
    }
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path.write_text(
        "# Written by `ads-platform demo`: the local Graph API sandbox, not Meta.\n"
        + yaml.safe_dump(data, sort_keys=False),
        encoding="utf-8",
    )
    tokens = {demo_token_env(a): f"sandbox-token-{a}" for a in account_ids}
    return path, tokens


def prepare_dagster_home(home: Path) -> Path:
    """``$DAGSTER_HOME`` when set, else ``$ADS_PLATFORM_HOME/dagster`` with the shipped yaml."""
    explicit = os.environ.get("DAGSTER_HOME")
    if explicit:
        return Path(explicit)
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    target = dagster_home / "dagster.yaml"
    if not target.exists() and SHIPPED_DAGSTER_YAML.exists():
        shutil.copyfile(SHIPPED_DAGSTER_YAML, target)
    return dagster_home


@contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass
class StepResult:
    name: str
    ok: bool
    seconds: float
    detail: str = ""


def run_demo(
    *,
    home: Path,
    days: int,
    accounts: int,
    seed: int = 7,
    latency_ms: int = 0,
    echo: Callable[[str], None] = print,
    build_marts: bool = True,
    debug: bool = False,
    verbose: bool = False,
) -> int:
    """Run the demo end to end; returns a process exit code."""
    from ads_platform.sandbox import Sandbox

    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    echo(f"==> ADS_PLATFORM_HOME={home}")
    with Sandbox(  # async report runs at a hundredth of Meta's (realistic) duration
        seed=seed, accounts=accounts, latency_ms=latency_ms, subprocess=True, async_delay_scale=0.01
    ) as sandbox:
        echo(
            f"==> Graph API sandbox on {sandbox.base_url} "
            f"with {len(sandbox.account_ids)} ad accounts"
        )
        today = sandbox.today()
        start = today - dt.timedelta(days=days - 1)
        config_path, tokens = write_demo_settings(
            home, sandbox.base_url, sandbox.account_ids, start_date=start - dt.timedelta(days=60)
        )
        dagster_home = prepare_dagster_home(home)
        env = {
            **tokens,
            "ADS_PLATFORM_CONFIG": str(config_path),
            "ADS_PLATFORM_HOME": str(home),
            "DAGSTER_HOME": str(dagster_home),
        }
        with patched_environ(env):
            from ads_platform.orchestration import materialize_demo

            summary = materialize_demo(
                account_ids=sandbox.account_ids,
                start=start,
                end=today,
                echo=echo,
                build_marts=build_marts,
                debug=debug,
                verbose=verbose,
            )
        calls = sandbox.stats()
    echo("")
    echo(summary.table())
    echo("")
    by_path = calls.get("by_path", {})
    insights = sum(n for path, n in by_path.items() if str(path).endswith("/insights"))
    echo(f"Graph API calls served by the sandbox: {calls.get('total', 0)} ({insights} insights)")
    echo("")
    echo(f"Settings used:  {config_path}")
    echo(f"Dagster home:   {dagster_home}")
    echo(
        "Open the UI:    make dev   "
        "(the sandbox, the demo settings and `dagster dev -w workspace.yaml`)"
    )
    if summary.marts_path:
        echo(
            'Query marts:    ads-platform sql "select * from rpt_account_daily limit 5"'
            f"  ({summary.marts_path})"
        )
        echo(
            f"Dashboards:     .venv/bin/ads-platform dashboard --marts {summary.marts_path}"
            "   then open http://127.0.0.1:8501"
        )
    return 0 if summary.ok else 1
