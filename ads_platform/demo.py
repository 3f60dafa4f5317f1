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
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from ads_platform import datasets as ds
from ads_platform.partitions import ad_accounts_partitions, key_for, range_tags
from ads_platform.run_errors import console_run_config
from ads_platform.settings import settings_environ

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_DAGSTER_YAML = REPO_ROOT / "dagster.yaml"


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
    return install_instance_config(home / "dagster")


def install_instance_config(dagster_home: Path) -> Path:
    """``dagster_home`` with :func:`instance_yaml` unless it has a ``dagster.yaml`` already."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    target = dagster_home / "dagster.yaml"
    if not target.exists() and SHIPPED_DAGSTER_YAML.exists():
        target.write_text(instance_yaml())
    return dagster_home


def instance_yaml() -> str:
    """An instance folder's ``dagster.yaml``: the shipped file and the pooled SQLite
    storage (:data:`ads_platform.instance_storage.STORAGE_BLOCK`)."""
    from ads_platform.instance_storage import STORAGE_BLOCK

    return SHIPPED_DAGSTER_YAML.read_text().rstrip("\n") + "\n\n" + STORAGE_BLOCK


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
        with settings_environ(env):
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


# -- launching the demo's runs on a real instance --------------------------------------
#
# Partition *ranges* are what make backfills cheap: one run covers many days of an
# account.  Dagster marks a run as a range run with the ``dagster/asset_partition_range_*``
# tags (:func:`ads_platform.partitions.range_tags`), exactly as its own backfill daemon
# does with ``BackfillPolicy.single_run``.


def materialize(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    selection: Sequence[str],
    *,
    partition_key: str | None = None,
    tags: dict[str, str] | None = None,
    raise_on_error: bool = False,
    log_level: str | None = None,
) -> dg.ExecuteInProcessResult:
    keys = [dg.AssetKey(name) for name in selection]
    job = defs.resolve_implicit_job_def_def_for_assets(keys)
    if job is None:
        raise ValueError(f"no implicit job covers {selection}")
    return job.execute_in_process(
        instance=instance,
        partition_key=partition_key,
        tags=tags or {},
        asset_selection=keys,
        raise_on_error=raise_on_error,
        run_config=console_run_config(log_level),
    )


def insights_selection(defs: dg.Definitions) -> list[str]:
    """``ad_insights_daily`` and the breakdown assets these definitions hold (switched on)."""
    keys = defs.resolve_asset_graph().get_all_asset_keys()
    names = [b.name for b in ds.BREAKDOWNS.values() if dg.AssetKey(b.name) in keys]
    return [ds.AD_INSIGHTS_DAILY, *names]


@dataclass
class AccountSummary:
    account_id: str
    days: int = 0
    rows: int = 0
    spend: float = 0.0
    currency: str = ""
    checks_passed: int = 0
    checks_failed: int = 0
    failures: list[str] = field(default_factory=list)


@dataclass
class DemoSummary:
    accounts: dict[str, AccountSummary] = field(default_factory=dict)
    steps: list[tuple[str, bool, float]] = field(default_factory=list)
    marts_path: Path | None = None
    marts_preview: str = ""

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.steps)

    def table(self) -> str:
        header = ("account", "currency", "days", "rows", "spend", "checks ok", "checks failed")
        lines = [header]
        for acc in self.accounts.values():
            lines.append(
                (
                    acc.account_id,
                    acc.currency,
                    str(acc.days),
                    str(acc.rows),
                    f"{acc.spend:,.2f}",
                    str(acc.checks_passed),
                    str(acc.checks_failed),
                )
            )
        widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
        out = []
        for index, row in enumerate(lines):
            out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
            if index == 0:
                out.append("  ".join("-" * w for w in widths))
        steps = "\n".join(
            f"  {'ok  ' if ok else 'FAIL'} {name} ({secs:.1f}s)" for name, ok, secs in self.steps
        )
        text = "Steps:\n" + steps + "\n\nIngested (ad_insights_daily):\n" + "\n".join(out)
        if self.marts_preview:
            text += "\n\n" + self.marts_preview
        return text


def _summarize_insights(
    instance: dg.DagsterInstance, summary: DemoSummary, run_ids: set[str]
) -> None:
    """Per account: days, rows, spend and check verdicts of this demo's runs.

    Passing checks are in each materialization's metadata; failed ones are the
    per-partition check events (a failed partition has no materialization).
    """
    records = instance.fetch_materializations(
        dg.AssetKey(ds.AD_INSIGHTS_DAILY), limit=10_000
    ).records
    for record in records:
        mat = record.asset_materialization
        if record.run_id not in run_ids or mat is None or mat.partition is None:
            continue
        acc = _account(summary, mat.partition)
        meta = mat.metadata
        acc.days += 1
        acc.rows += int(str(meta["rows"].value)) if "rows" in meta else 0
        acc.spend += float(str(meta["spend"].value)) if "spend" in meta else 0.0
        acc.checks_passed += sum(
            1 for key, value in meta.items() if key.startswith("check ") and value.value == "passed"
        )
    checks = instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION), limit=10_000
    )
    for record in checks:
        event = record.event_log_entry.dagster_event
        if record.run_id not in run_ids or event is None:
            continue
        evaluation = event.event_specific_data
        partition = getattr(evaluation, "partition", None)
        if partition and "|" in str(partition) and not getattr(evaluation, "passed", True):
            _account(summary, str(partition)).checks_failed += 1


def _account(summary: DemoSummary, partition: str) -> AccountSummary:
    account_id = partition.split("|")[0]
    return summary.accounts.setdefault(account_id, AccountSummary(account_id))


def materialize_demo(
    *,
    account_ids: Sequence[str],
    start: dt.date,
    end: dt.date,
    echo: Callable[[str], None] = print,
    build_marts: bool = True,
    debug: bool = False,
    verbose: bool = False,
) -> DemoSummary:
    """ad_accounts → entities and token health → insights per account → marts.

    A failed step prints its one-line reason (:mod:`ads_platform.run_errors`); Dagster's
    error blocks and stack traces only with ``debug``; dbt's per-model lines only with
    ``verbose`` (:mod:`ads_platform.dbt_output`).
    """
    from ads_platform.dbt_output import quiet_dbt_output
    from ads_platform.definitions import load_definitions
    from ads_platform.run_errors import console_log_level, failure_lines

    defs = load_definitions()
    from ads_platform.settings import load_settings

    instance = dg.DagsterInstance.get()
    summary = DemoSummary()
    run_ids: set[str] = set()

    def step(name: str, fn: Callable[[], Any]) -> Any:
        echo(f"==> {name}")
        began = time.monotonic()
        with quiet_dbt_output(verbose):
            result = fn()
        ok = bool(getattr(result, "success", True))
        if isinstance(result, dg.ExecuteInProcessResult):
            run_ids.add(result.run_id)
            if not ok:
                for line in failure_lines(result.all_events, debug=debug):
                    echo("    " + line.replace("\n", "\n    "))
        seconds = time.monotonic() - began
        summary.steps.append((name, ok, seconds))
        echo(f"    {'done' if ok else 'FAILED'} in {seconds:.1f}s")
        return result

    # Progress comes from these lines; Dagster's own logs stay in the UI (and --debug).
    quiet = console_log_level(debug)
    step(
        "ad_accounts (settings → dynamic partitions)",
        lambda: materialize(defs, instance, [ds.AD_ACCOUNTS], log_level=quiet),
    )
    known = instance.get_dynamic_partitions(ad_accounts_partitions.name or "")
    first, last = known[0], known[-1]
    step(
        "campaigns, ad_sets, ads, creatives, reach_monthly, token_health (one run, every account)",
        lambda: materialize(
            defs,
            instance,
            [ds.CAMPAIGNS, ds.AD_SETS, ds.ADS, ds.CREATIVES, ds.REACH_MONTHLY, ds.TOKEN_HEALTH],
            tags=range_tags(first, last),
            log_level=quiet,
        ),
    )
    insights = insights_selection(defs)
    for account_id in account_ids:
        step(
            f"{', '.join(insights)} {account_id} {start}..{end} (one range run)",
            lambda a=account_id: materialize(  # type: ignore[misc]
                defs,
                instance,
                insights,
                tags=range_tags(str(key_for(a, start)), str(key_for(a, end))),
                log_level=quiet,
            ),
        )
    _summarize_insights(instance, summary, run_ids)
    settings = load_settings(require_tokens=False)
    for account in summary.accounts.values():
        account.currency = _currency(settings.lake_dir, account.account_id)
    if build_marts:
        try:
            from ads_platform.assets import marts  # noqa: F401
        except ImportError:
            return summary
        step(
            "marts (dbt build → publish marts.duckdb)",
            lambda: materialize_marts(defs, instance, log_level=quiet),
        )
        summary.marts_path = settings.marts_path
        summary.marts_preview = _marts_preview(settings.marts_path)
    return summary


def materialize_marts(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    log_level: str = "WARNING",
    downstream_of: Sequence[str] = (),
) -> Any:
    """Build the marts in one run: all of them, or only those downstream of the assets
    ``downstream_of`` (what automation requests after those assets' runs, which the marts
    asset builds incrementally)."""
    graph = defs.resolve_asset_graph()
    dbt_keys = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "marts"]
    if downstream_of:
        below = dg.AssetSelection.assets(*downstream_of).downstream().resolve(graph)
        dbt_keys = [k for k in dbt_keys if k in below]
    job = defs.resolve_implicit_job_def_def_for_assets(dbt_keys)
    assert job is not None
    return job.execute_in_process(
        instance=instance,
        asset_selection=dbt_keys,
        raise_on_error=False,
        run_config=console_run_config(log_level),
    )


def _currency(lake_dir: Path, account_id: str) -> str:
    from ads_platform.ingestion.accounts import known_account
    from ads_platform.lake import Lake

    row = known_account(Lake(lake_dir), account_id)
    return row.currency if row else ""


DEMO_QUERY = """select date_day, account_id, currency, spend, impressions, link_clicks,
       ctr, cpc, roas
from rpt_account_daily
order by date_day desc, account_id
limit 6"""


def _marts_preview(path: Path) -> str:
    try:
        from ads_platform.sql import run_query
    except ImportError:
        return ""
    try:
        table = run_query(path, DEMO_QUERY, "table")
    except Exception as exc:
        return f"(could not query the marts: {exc})"
    return f"A report mart ({path.name}):\n\n{DEMO_QUERY}\n\n{table}"
