"""The breakdown assets: placement, age × gender and country beside ``ad_insights_daily``.

Why on the unbroken asset's partitions, with a lower step priority: a range run that
selects both pulls the unbroken days first, then each breakdown over the same range in
the same run (no extra run per dataset), and the breakdown's zero guard and
reconciliation read the unbroken days that run just stored.  Only the breakdowns switched on in
``ingestion.breakdowns`` are built, so a switched-off one costs no call at all.
"""

import dataclasses
import datetime as dt
from collections.abc import Sequence

import dagster as dg

from ads_platform.assets.account_runs import AccountJob, AccountResult, api_metadata, run_accounts
from ads_platform.assets.reporting import check_specs, report
from ads_platform.datasets import ACCOUNTS, BREAKDOWNS, Breakdown
from ads_platform.ingestion import breakdowns as pull
from ads_platform.ingestion import insights
from ads_platform.ingestion.accounts import known_account
from ads_platform.ingestion.outcomes import PartitionOutcome, record_attempts
from ads_platform.meta.client import GraphClient
from ads_platform.meta.stats import CallStats
from ads_platform.partitions import key_for, split_keys
from ads_platform.resources import PlatformResource
from ads_platform.settings import Settings


def build_breakdown_assets(
    partitions_def: dg.MultiPartitionsDefinition, settings: Settings
) -> list[dg.AssetsDefinition]:
    """One asset per breakdown switched on in the settings, over the insights' grid."""
    return [
        _breakdown_asset(BREAKDOWNS[k], partitions_def)
        for k in BREAKDOWNS
        if k in settings.ingestion.breakdowns
    ]


def _breakdown_asset(
    breakdown: Breakdown, partitions_def: dg.MultiPartitionsDefinition
) -> dg.AssetsDefinition:
    key = dg.AssetKey(breakdown.name)

    @dg.asset(
        key=key,
        # Not ``deps=[ad_insights_daily]``: that asset reports per partition and yields no
        # output, so Dagster would skip every step downstream of it.  A lower priority
        # makes the (in-process) executor run the unbroken pull first in a shared run.
        op_tags={"dagster/priority": "-1"},
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        output_required=False,
        check_specs=check_specs(
            breakdown.name,
            blocking=[insights.SCHEMA_CHECK, pull.ZERO_GUARD_CHECK],
            warn=[pull.RECONCILE_CHECK],
        ),
        group_name="meta_ads",
        kinds={"python", "parquet"},
        description=f"Ad-level daily insights broken down by {', '.join(breakdown.dims)} "
        "per day × ad account (same metrics and action lists as ad_insights_daily; reach per "
        "value, null where Meta omits it), validated, zero-guarded against the unbroken day "
        "and written atomically to the Parquet lake.",
    )
    def breakdown_asset(context: dg.AssetExecutionContext, platform: PlatformResource):  # type: ignore[no-untyped-def]  # Dagster reads check outputs from it
        settings = platform.settings()
        lake = platform.lake(settings)
        stats = CallStats()
        by_account = split_keys(list(context.partition_keys))
        ingestion = settings.ingestion

        def work(client: GraphClient, job: AccountJob) -> AccountResult:
            known = known_account(lake, job.account_id)
            if known is not None and known.currency:
                account = insights.AccountInfo(
                    job.account_id,
                    known.name,
                    known.currency,
                    known.timezone_name,
                    known.account_status,
                )
            else:
                node = client.get_account(job.account_id, fields=ACCOUNTS.api_fields)
                account = insights.AccountInfo.from_node(job.account_id, node)
            result = pull.pull_account_breakdown(
                client,
                lake,
                account,
                list(job.days),
                breakdown,
                run_id=context.run_id,
                attribution_windows=ingestion.attribution_windows,
                reconciliation_tolerance=ingestion.reconciliation_tolerance,
            )
            context.log.info(
                f"{job.account_id} {breakdown.key}: {len(result.outcomes)} day(s) in "
                f"{len(result.ranges)} range request(s), {result.seconds:.1f}s"
            )
            return AccountResult(
                job.account_id, result.outcomes, {"seconds": round(result.seconds, 2)}
            )

        def on_error(job: AccountJob, kind: str, message: str) -> list[PartitionOutcome]:
            known = known_account(lake, job.account_id)
            zone = known.timezone_name if known else None
            started, not_started = insights.split_started(job.days, zone)
            return [
                PartitionOutcome(
                    breakdown.name, job.account_id, day, "failed", message=message, error_kind=kind
                )
                for day in started
            ] + _skipped(breakdown, job.account_id, not_started, zone)

        jobs = [AccountJob(account_id, days) for account_id, days in sorted(by_account.items())]
        results = run_accounts(context, platform, settings, jobs, work, on_error, stats)
        outcomes = [o for r in results for o in r.outcomes]
        record_attempts(lake, outcomes, context.run_id)
        extra = {r.account_id: {**api_metadata(stats, r.account_id), **r.extra} for r in results}

        def partition_of(outcome: PartitionOutcome) -> str:
            assert outcome.day is not None
            return str(key_for(outcome.account_id, outcome.day))

        yield from report(
            context,
            key,
            outcomes,
            partition_of,
            lambda o: extra.get(o.account_id, {}),
            passing_checks_per_partition=ingestion.passing_checks_per_partition,
        )

    return breakdown_asset


def _skipped(
    breakdown: Breakdown, account_id: str, days: Sequence[dt.date], zone: str | None
) -> list[PartitionOutcome]:
    return [
        dataclasses.replace(insights.not_started(account_id, day, zone), dataset=breakdown.name)
        for day in days
    ]
