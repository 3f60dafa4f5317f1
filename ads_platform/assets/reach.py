"""``reach_monthly``: non-additive reach per account × month and campaign × month."""

import dagster as dg

from ads_platform.assets.account_runs import AccountJob, AccountResult, api_metadata, run_accounts
from ads_platform.assets.reporting import check_specs, report
from ads_platform.datasets import ACCOUNTS, REACH
from ads_platform.ingestion import reach
from ads_platform.ingestion.insights import AccountInfo
from ads_platform.ingestion.outcomes import PartitionOutcome, record_attempts
from ads_platform.meta.client import GraphClient
from ads_platform.meta.stats import CallStats
from ads_platform.partitions import ad_accounts_partitions
from ads_platform.resources import PlatformResource

KEY = dg.AssetKey(REACH.name)


@dg.asset(
    key=KEY,
    partitions_def=ad_accounts_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    output_required=False,
    check_specs=check_specs(REACH.name, blocking=[reach.SCHEMA_CHECK]),
    group_name="meta_ads",
    kinds={"python", "parquet"},
    description="Reach as Meta deduplicates it, per account × month and campaign × month "
    "(one request per month and level). Never summed: reach does not add up.",
)
def reach_monthly(context: dg.AssetExecutionContext, platform: PlatformResource):  # type: ignore[no-untyped-def]  # Dagster reads check outputs from it
    settings = platform.settings()
    lake = platform.lake(settings)
    stats = CallStats()

    def work(client: GraphClient, job: AccountJob) -> AccountResult:
        account = AccountInfo.from_node(
            job.account_id, client.get_account(job.account_id, ACCOUNTS.api_fields)
        )
        outcome = reach.pull_reach(
            client,
            lake,
            job.account_id,
            local_today=account.local_today(),
            start_date=settings.ingestion.start_date,
            lookback_days=settings.ingestion.lookback_days,
        )
        return AccountResult(job.account_id, [outcome])

    def on_error(job: AccountJob, kind: str, message: str) -> list[PartitionOutcome]:
        return [
            PartitionOutcome(
                reach.DATASET, job.account_id, None, "failed", message=message, error_kind=kind
            )
        ]

    jobs = [AccountJob(a) for a in sorted(context.partition_keys)]
    results = run_accounts(context, platform, settings, jobs, work, on_error, stats)
    outcomes = [o for r in results for o in r.outcomes]
    record_attempts(lake, outcomes, context.run_id)
    yield from report(
        context, KEY, outcomes, lambda o: o.account_id, lambda o: api_metadata(stats, o.account_id)
    )
