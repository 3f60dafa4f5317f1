"""``ad_insights_daily``: ad-level daily performance, one partition per (day, account).

Backfills run as one Dagster run per contiguous range (``BackfillPolicy.single_run``;
Dagster groups a multi-partition backfill by the dimension with fewer keys, so D days
of A accounts is min(A, D) runs), and inside a run each account asks the API for date
*ranges*, not single days.  See :mod:`ads_platform.assets.reporting` for why each
partition is reported on its own.
"""

import dagster as dg

from ads_platform.assets.account_runs import AccountJob, AccountResult, api_metadata, run_accounts
from ads_platform.assets.reporting import check_specs, report
from ads_platform.datasets import ACCOUNTS, AD_INSIGHTS_DAILY
from ads_platform.ingestion import insights as pull
from ads_platform.ingestion.accounts import known_account
from ads_platform.ingestion.outcomes import PartitionOutcome, record_attempts
from ads_platform.ingestion.zero_guard import CHECK_NAME as ZERO_GUARD
from ads_platform.meta.client import GraphClient
from ads_platform.meta.stats import CallStats
from ads_platform.partitions import key_for, split_keys
from ads_platform.resources import PlatformResource

KEY = dg.AssetKey(AD_INSIGHTS_DAILY)


def build_insights_asset(partitions_def: dg.MultiPartitionsDefinition) -> dg.AssetsDefinition:
    """The asset over the day × account grid the definitions were built with."""

    @dg.asset(
        key=KEY,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        output_required=False,
        check_specs=check_specs(
            AD_INSIGHTS_DAILY, blocking=[pull.SCHEMA_CHECK, ZERO_GUARD], warn=[pull.RECONCILE_CHECK]
        ),
        group_name="meta_ads",
        kinds={"python", "parquet"},
        description="Ad-level daily insights (impressions, reach, clicks, spend, every action "
        "type and attribution window) per day × ad account, validated and written atomically "
        "to the Parquet lake, with the account-level totals of the same days beside them.",
    )
    def ad_insights_daily(context: dg.AssetExecutionContext, platform: PlatformResource):  # type: ignore[no-untyped-def]  # Dagster reads check outputs from it
        settings = platform.settings()
        lake = platform.lake(settings)
        stats = CallStats()
        by_account = split_keys(list(context.partition_keys))
        partitions = sum(len(d) for d in by_account.values())
        context.log.info(f"{partitions} partition(s) over {len(by_account)} account(s)")
        ingestion = settings.ingestion

        def work(client: GraphClient, job: AccountJob) -> AccountResult:
            node = client.get_account(job.account_id, fields=ACCOUNTS.api_fields)  # fail fast
            account = pull.AccountInfo.from_node(job.account_id, node)
            result = pull.pull_account_insights(
                client,
                lake,
                account,
                list(job.days),
                run_id=context.run_id,
                attribution_windows=ingestion.attribution_windows,
                reconciliation_tolerance=ingestion.reconciliation_tolerance,
                zero_guard_history_days=ingestion.zero_guard_history_days,
            )
            context.log.info(
                f"{job.account_id}: {len(result.outcomes)} day(s) in {len(result.ranges)} range "
                f"request(s), {result.seconds:.1f}s"
            )
            return AccountResult(
                job.account_id, result.outcomes, {"seconds": round(result.seconds, 2)}
            )

        def on_error(job: AccountJob, kind: str, message: str) -> list[PartitionOutcome]:
            # The account's zone as last stored (the API could not be asked): days that have
            # not started there are skipped, not failed.
            known = known_account(lake, job.account_id)
            zone = known.timezone_name if known else None
            started, not_started = pull.split_started(job.days, zone)
            return [
                PartitionOutcome(
                    pull.DATASET, job.account_id, day, "failed", message=message, error_kind=kind
                )
                for day in started
            ] + [pull.not_started(job.account_id, day, zone) for day in not_started]

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
            KEY,
            outcomes,
            partition_of,
            lambda o: extra.get(o.account_id, {}),
            passing_checks_per_partition=ingestion.passing_checks_per_partition,
        )

    return ad_insights_daily
