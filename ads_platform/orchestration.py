"""Launch materializations from Python (demo, tests, benchmarks) on a real instance.

Partition *ranges* are what make backfills cheap: one run covers many days of an
account.  Dagster marks a run as a range run with the ``dagster/asset_partition_range_*``
tags, exactly as its own backfill daemon does with ``BackfillPolicy.single_run``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from ads_platform import datasets as ds
from ads_platform.partitions import ad_accounts_partitions, key_for


def range_tags(start: str, end: str) -> dict[str, str]:
    return {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}


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
        run_config=_quiet(log_level),
    )


def _quiet(log_level: str | None) -> dict[str, Any]:
    if not log_level:
        return {}
    return {"loggers": {"console": {"config": {"log_level": log_level}}}}


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
) -> DemoSummary:
    """ad_accounts → entities and token health → insights per account → marts."""
    from ads_platform.definitions import load_definitions

    defs = load_definitions()
    from ads_platform.settings import load_settings

    instance = dg.DagsterInstance.get()
    summary = DemoSummary()
    run_ids: set[str] = set()

    def step(name: str, fn: Callable[[], Any]) -> Any:
        echo(f"==> {name}")
        began = time.monotonic()
        result = fn()
        ok = bool(getattr(result, "success", True))
        if isinstance(result, dg.ExecuteInProcessResult):
            run_ids.add(result.run_id)
            if not ok:
                for event in result.all_events:
                    if event.is_step_failure and event.step_failure_data.error:
                        echo(
                            "    "
                            + event.step_failure_data.error.message.strip().replace("\n", "\n    ")
                        )
        seconds = time.monotonic() - began
        summary.steps.append((name, ok, seconds))
        echo(f"    {'done' if ok else 'FAILED'} in {seconds:.1f}s")
        return result

    quiet = "WARNING"  # progress comes from these lines; Dagster's own logs stay in the UI
    step(
        "ad_accounts (settings → dynamic partitions)",
        lambda: materialize(defs, instance, [ds.AD_ACCOUNTS], log_level=quiet),
    )
    known = instance.get_dynamic_partitions(ad_accounts_partitions.name or "")
    first, last = known[0], known[-1]
    step(
        "campaigns, ad_sets, ads, reach_monthly, token_health (one run, every account)",
        lambda: materialize(
            defs,
            instance,
            [ds.CAMPAIGNS, ds.AD_SETS, ds.ADS, ds.REACH_MONTHLY, ds.TOKEN_HEALTH],
            tags=range_tags(first, last),
            log_level=quiet,
        ),
    )
    for account_id in account_ids:
        step(
            f"ad_insights_daily {account_id} {start}..{end} (one range run)",
            lambda a=account_id: materialize(  # type: ignore[misc]
                defs,
                instance,
                [ds.AD_INSIGHTS_DAILY],
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
        step("marts (dbt build → publish marts.duckdb)", lambda: materialize_marts(defs, instance))
        summary.marts_path = settings.marts_path
        summary.marts_preview = _marts_preview(settings.marts_path)
    return summary


def materialize_marts(defs: dg.Definitions, instance: dg.DagsterInstance) -> Any:
    graph = defs.resolve_asset_graph()
    dbt_keys = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "marts"]
    job = defs.resolve_implicit_job_def_def_for_assets(dbt_keys)
    assert job is not None
    return job.execute_in_process(
        instance=instance,
        asset_selection=dbt_keys,
        raise_on_error=False,
        run_config=_quiet("WARNING"),
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


#: Instance overrides that make Dagster's daemons launch runs synchronously in this
#: process (steps still run as in production), for tests and benchmarks.
SYNC_LAUNCH_OVERRIDES: dict[str, Any] = {
    "run_coordinator": {
        "module": "dagster._core.run_coordinator",
        "class": "DefaultRunCoordinator",
    },
    "run_launcher": {
        "module": "dagster._core.launcher.sync_in_memory_run_launcher",
        "class": "SyncInMemoryRunLauncher",
    },
}


def definitions_target() -> Any:
    """The code location exactly as ``workspace.yaml`` loads it."""
    from dagster._core.workspace.load_target import ModuleTarget

    return ModuleTarget(
        module_name="ads_platform.definitions",
        attribute=None,
        working_directory=None,
        location_name="ads_platform",
    )


def backfill_through_daemon(
    instance: dg.DagsterInstance,
    partition_keys: Sequence[str],
    assets: Sequence[str],
    *,
    backfill_id: str,
    max_iterations: int = 50,
) -> Any:
    """Launch a backfill the way the UI does and drive Dagster's backfill daemon loop.

    Uses Dagster's own backfill code (``PartitionBackfill`` + the daemon iteration), so
    backfill policies, run grouping and partition bookkeeping are Dagster's, not ours.
    Returns the final ``BulkActionStatus``.
    """
    import logging
    import time

    from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._daemon.backfill import execute_backfill_iteration

    from ads_platform.definitions import load_definitions

    defs = load_definitions()

    status = BulkActionStatus.REQUESTED
    with create_test_daemon_workspace_context(definitions_target(), instance) as workspace:
        instance.add_backfill(
            PartitionBackfill.from_asset_partitions(
                backfill_id=backfill_id,
                asset_graph=defs.resolve_asset_graph(),
                partition_names=list(partition_keys),
                asset_selection=[dg.AssetKey(a) for a in assets],
                backfill_timestamp=time.time(),
                tags={},
                dynamic_partitions_store=instance,
                all_partitions=False,
                title=None,
                description=None,
                run_config=None,
            )
        )
        for _ in range(max_iterations):
            list(execute_backfill_iteration(workspace, logging.getLogger("ads_platform.backfill")))
            backfill = instance.get_backfill(backfill_id)
            status = backfill.status if backfill else status
            if status != BulkActionStatus.REQUESTED:
                break
    return status
