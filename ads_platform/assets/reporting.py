"""Report partition outcomes to Dagster: one materialization and check result per partition.

A run may cover many partitions (a backfill of 90 days of an account is one run), and
each partition has its own row count, spend and checks.  ``MaterializeResult`` can only
carry one set of metadata for the whole range, so partitioned ingestion assets declare
``output_required=False`` and log an ``AssetMaterialization`` and ``AssetCheckEvaluation``
per partition instead.  Partitions that failed or were blocked get no materialization:
the previous file stays, and the run fails at the end with a message per account.
Skipped partitions (a day that has not started in the account's time zone) get no
materialization and no check event either: nothing was fetched, so nothing passed or
failed; one log line per account says which days and why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import dagster as dg

from ads_platform.ingestion.outcomes import PartitionOutcome
from ads_platform.run_errors import FAILED_ACCOUNTS, AccountFailure, failed_accounts_value


def check_specs(
    asset: str, blocking: Sequence[str], warn: Sequence[str] = ()
) -> list[dg.AssetCheckSpec]:
    specs = [
        dg.AssetCheckSpec(name, asset=asset, blocking=True, description=_CHECK_DOCS.get(name))
        for name in blocking
    ]
    specs += [
        dg.AssetCheckSpec(name, asset=asset, blocking=False, description=_CHECK_DOCS.get(name))
        for name in warn
    ]
    return specs


_CHECK_DOCS = {
    "schema": "Pandera model of the dataset: types, non-negative metrics, unique keys, "
    "partition keys on every row, currency present.",
    "zero_guard": "Blocks a day of all-zero metrics while the evidence says there was "
    "delivery (active ads, recent non-zero days), and a today (partial) lower than what is "
    "already stored for it: spend, impressions and clicks never decrease within a day.",
    "reconciles_with_account_totals": "Sum of ad-level spend and impressions equals Meta's "
    "account-level totals for the day (within the configured tolerance).",
    "reconciles_with_unbroken_totals": "Sum of a breakdown's spend and impressions over its "
    "values vs the unbroken ad_insights_daily day (a warning: Meta's breakdowns can differ "
    "slightly from totals; both figures are in the metadata).",
    "token_valid": "debug_token says the token is valid and has the required scopes.",
}


def report(
    context: dg.AssetExecutionContext,
    asset_key: dg.AssetKey,
    outcomes: Sequence[PartitionOutcome],
    partition_of: Callable[[PartitionOutcome], str | None],
    extra_metadata: Callable[[PartitionOutcome], Mapping[str, Any]] = lambda _: {},
    *,
    passing_checks_per_partition: bool = False,
) -> Iterator[dg.AssetCheckResult]:
    """Log per-partition events, then yield one summary result per declared check.

    Dagster requires every declared check to produce a result in the step; the
    summary says how many partitions passed.  A failed check is always logged for
    its own partition (that is what the UI and the alerts show).  Passing verdicts go
    into each materialization's metadata and, only when asked, also as per-partition
    check events: on the SQLite instance each event is a committed write, and four
    events per partition made event storage 70 % of a 90-day backfill run.
    Raises one Failure at the end if any partition failed.
    """
    declared = {spec.name for spec in context.assets_def.check_specs}
    for outcome in outcomes:
        partition = partition_of(outcome)
        for check in outcome.checks:
            if check.name not in declared or (check.passed and not passing_checks_per_partition):
                continue
            context.log_event(
                dg.AssetCheckEvaluation(
                    asset_key=asset_key,
                    check_name=check.name,
                    passed=check.passed,
                    metadata={"reason": check.description, **_plain(check.metadata)},
                    severity=dg.AssetCheckSeverity(check.severity),
                    partition=partition,
                    description=check.description,
                )
            )
        if outcome.ok:
            metadata: dict[str, Any] = {
                "rows": outcome.rows,
                "spend": outcome.spend,
                "impressions": outcome.impressions,
            }
            if outcome.message:
                metadata["note"] = outcome.message
            for check in outcome.checks:
                metadata[f"check {check.name}"] = (
                    "passed" if check.passed else f"FAILED ({check.severity}): {check.description}"
                )
            if outcome.preview:
                metadata["preview"] = dg.MetadataValue.md(outcome.preview)
            if outcome.path:
                metadata["path"] = dg.MetadataValue.path(outcome.path)
            metadata.update(extra_metadata(outcome))
            context.log_event(
                dg.AssetMaterialization(asset_key=asset_key, partition=partition, metadata=metadata)
            )
    _log_skipped(context, [o for o in outcomes if o.skipped])
    failed = [o for o in outcomes if not o.ok and not o.skipped]
    if failed:
        raise dg.Failure(description=summarize_failures(failed), metadata=failure_metadata(failed))
    for spec in context.assets_def.check_specs:
        verdicts = [c for o in outcomes for c in o.checks if c.name == spec.name]
        failing = [c for c in verdicts if not c.passed]
        yield dg.AssetCheckResult(
            asset_key=asset_key,
            check_name=spec.name,
            passed=not failing,
            severity=dg.AssetCheckSeverity(failing[0].severity)
            if failing
            else dg.AssetCheckSeverity.ERROR,
            metadata={"partitions_checked": len(verdicts), "partitions_failed": len(failing)},
            description=failing[0].description if failing else "every partition of this run passed",
        )


def _log_skipped(context: dg.AssetExecutionContext, skipped: Sequence[PartitionOutcome]) -> None:
    by_account: dict[str, list[PartitionOutcome]] = {}
    for outcome in skipped:
        by_account.setdefault(outcome.account_id, []).append(outcome)
    for account_id, items in sorted(by_account.items()):
        days = sorted(str(o.day) for o in items if o.day)
        reason = items[0].message.removeprefix(f"{account_id} {items[0].day}: ")
        context.log.warning(f"{account_id}: {len(items)} day(s) {', '.join(days)} {reason}")


def summarize_failures(failed: Sequence[PartitionOutcome]) -> str:
    """One line per distinct (account, reason); days are collapsed into a range."""
    groups: dict[tuple[str, str], list[PartitionOutcome]] = {}
    for outcome in failed:
        groups.setdefault((outcome.account_id, _reason(outcome)), []).append(outcome)
    lines = [f"{len(failed)} partition(s) not stored:"]
    for (account_id, reason), items in sorted(groups.items()):
        days = sorted(o.day for o in items if o.day)
        when = f" {days[0]}..{days[-1]} ({len(days)} day(s))" if days else ""
        lines.append(f"- {account_id}{when}: {reason}")
    return "\n".join(lines)


def failure_metadata(failed: Sequence[PartitionOutcome]) -> dict[str, Any]:
    """The Failure's metadata: counts for the UI, and per account its failed days and
    reasons (:data:`~ads_platform.run_errors.FAILED_ACCOUNTS`), so that a reader of a
    run over several accounts (``ads-platform backfill``) blames only those that failed.
    """
    by_account: dict[str, list[PartitionOutcome]] = {}
    for outcome in failed:
        by_account.setdefault(outcome.account_id, []).append(outcome)
    per_account = {
        account: AccountFailure(
            days=tuple(sorted({o.day for o in items if o.day})),
            reasons=tuple(dict.fromkeys(_reason(o) for o in items)),
            error_kinds=tuple(sorted({o.error_kind or "unknown" for o in items})),
        )
        for account, items in by_account.items()
    }
    kinds = sorted({o.error_kind or "unknown" for o in failed})
    return {
        "failed_partitions": len(failed),
        "accounts": ", ".join(sorted(by_account)),
        "error_kinds": ", ".join(kinds),
        FAILED_ACCOUNTS: failed_accounts_value(per_account),
    }


def _reason(outcome: PartitionOutcome) -> str:
    """The outcome's message without the ``<account> <day>: `` it may start with."""
    return outcome.message.removeprefix(f"{outcome.account_id} {outcome.day}: ")


def _plain(metadata: Mapping[str, object]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        out[key] = value if isinstance(value, str | int | float | bool) else str(value)
    return out
