"""``ad_insights_daily``: ad-level daily performance, one partition per (day, account).

Backfills run as one Dagster run per contiguous range (``BackfillPolicy.single_run``;
Dagster groups a multi-partition backfill by the dimension with fewer keys, so D days
of A accounts is min(A, D) runs), and inside a run each account asks the API for date
*ranges*, not single days.  See :mod:`ads_platform.assets.reporting` for why each
partition is reported on its own.
"""

import dagster as dg

from ads_platform.assets.account_runs import (
    AccountJob,
    AccountResult,
    AccountRun,
    account_asset,
    failed_days,
)
from ads_platform.assets.reporting import check_specs
from ads_platform.datasets import ACCOUNTS, AD_INSIGHTS, AD_INSIGHTS_DAILY
from ads_platform.datasets.passthrough import ad_insights_dataset
from ads_platform.ingestion import insights as pull
from ads_platform.ingestion.outcomes import SCHEMA_CHECK
from ads_platform.ingestion.zero_guard import CHECK_NAME as ZERO_GUARD
from ads_platform.meta.client import GraphClient

KEY = dg.AssetKey(AD_INSIGHTS_DAILY)


def pull_days(run: AccountRun, client: GraphClient, job: AccountJob) -> AccountResult:
    node = client.get_account(job.account_id, fields=ACCOUNTS.api_fields)  # fail fast
    account = pull.AccountInfo.from_node(job.account_id, node)
    ingestion = run.settings.ingestion
    result = pull.pull_account_insights(
        client,
        run.lake,
        account,
        list(job.days),
        run_id=run.context.run_id,
        attribution_windows=ingestion.attribution_windows,
        reconciliation_tolerance=ingestion.reconciliation_tolerance,
        zero_guard_history_days=ingestion.zero_guard_history_days,
        dataset=ad_insights_dataset(run.settings.insights.passthrough_fields),
    )
    run.context.log.info(
        f"{job.account_id}: {len(result.outcomes)} day(s) in {len(result.ranges)} range "
        f"request(s), {result.seconds:.1f}s"
    )
    return AccountResult(job.account_id, result.outcomes, {"seconds": round(result.seconds, 2)})


def build_insights_asset(partitions_def: dg.MultiPartitionsDefinition) -> dg.AssetsDefinition:
    """The asset over the day × account grid the definitions were built with."""
    return account_asset(
        AD_INSIGHTS,
        partitions_def=partitions_def,
        check_specs=check_specs(
            AD_INSIGHTS_DAILY, blocking=[SCHEMA_CHECK, ZERO_GUARD], warn=[pull.RECONCILE_CHECK]
        ),
        work=pull_days,
        on_error=failed_days(pull.DATASET),
        description="Ad-level daily insights (impressions, reach, clicks, spend, every action "
        "type and attribution window) per day × ad account, validated and written atomically "
        "to the Parquet lake, with the account-level totals of the same days beside them.",
    )
