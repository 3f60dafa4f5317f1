"""The breakdown assets: placement, age × gender, country, region beside ``ad_insights_daily``.

Why on the unbroken asset's partitions, with a lower step priority: a range run that
selects both pulls the unbroken days first, then each breakdown over the same range in
the same run (no extra run per dataset), and the breakdown's zero guard and
reconciliation read the unbroken days that run just stored.  Only the breakdowns switched on in
``ingestion.breakdowns`` are built, so a switched-off one costs no call at all.
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
from ads_platform.datasets import ACCOUNTS, BREAKDOWNS, Breakdown
from ads_platform.ingestion import breakdowns as pull
from ads_platform.ingestion import insights
from ads_platform.ingestion.accounts import known_account
from ads_platform.ingestion.outcomes import SCHEMA_CHECK
from ads_platform.meta.client import GraphClient
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
    def pull_days(run: AccountRun, client: GraphClient, job: AccountJob) -> AccountResult:
        known = known_account(run.lake, job.account_id)
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
        ingestion = run.settings.ingestion
        result = pull.pull_account_breakdown(
            client,
            run.lake,
            account,
            list(job.days),
            breakdown,
            run_id=run.context.run_id,
            attribution_windows=ingestion.attribution_windows,
            reconciliation_tolerance=ingestion.reconciliation_tolerance,
        )
        run.context.log.info(
            f"{job.account_id} {breakdown.key}: {len(result.outcomes)} day(s) in "
            f"{len(result.ranges)} range request(s), {result.seconds:.1f}s"
        )
        return AccountResult(job.account_id, result.outcomes, {"seconds": round(result.seconds, 2)})

    return account_asset(
        breakdown.dataset,
        partitions_def=partitions_def,
        check_specs=check_specs(
            breakdown.name,
            blocking=[SCHEMA_CHECK, pull.ZERO_GUARD_CHECK],
            warn=[pull.RECONCILE_CHECK],
        ),
        work=pull_days,
        on_error=failed_days(breakdown.name),
        # Not ``deps=[ad_insights_daily]``: that asset reports per partition and yields no
        # output, so Dagster would skip every step downstream of it.  A lower priority
        # makes the (in-process) executor run the unbroken pull first in a shared run.
        op_tags={"dagster/priority": "-1"},
        description=f"Ad-level daily insights broken down by {', '.join(breakdown.dims)} "
        "per day × ad account (same metrics and action lists as ad_insights_daily; reach per "
        "value, null where Meta omits it), validated, zero-guarded against the unbroken day "
        "and written atomically to the Parquet lake.",
    )
