"""``reach_monthly``: non-additive reach per account, campaign and ad set × month, and per
account and campaign × last 7/14/30 days ending yesterday."""

import dagster as dg

from ads_platform.assets.account_runs import (
    AccountJob,
    AccountResult,
    AccountRun,
    account_asset,
    failed_account,
)
from ads_platform.assets.reporting import check_specs
from ads_platform.datasets import ACCOUNTS, REACH
from ads_platform.ingestion import reach
from ads_platform.ingestion.insights import AccountInfo
from ads_platform.ingestion.outcomes import SCHEMA_CHECK
from ads_platform.meta.client import GraphClient
from ads_platform.partitions import ad_accounts_partitions

KEY = dg.AssetKey(REACH.name)


def pull(run: AccountRun, client: GraphClient, job: AccountJob) -> AccountResult:
    account = AccountInfo.from_node(
        job.account_id, client.get_account(job.account_id, ACCOUNTS.api_fields)
    )
    outcome = reach.pull_reach(
        client,
        run.lake,
        job.account_id,
        local_today=account.local_today(),
        start_date=run.settings.ingestion.start_date,
        lookback_days=run.settings.ingestion.lookback_days,
    )
    return AccountResult(job.account_id, [outcome])


reach_monthly = account_asset(
    REACH,
    partitions_def=ad_accounts_partitions,
    check_specs=check_specs(REACH.name, blocking=[SCHEMA_CHECK]),
    work=pull,
    on_error=failed_account(reach.DATASET),
    description="Reach as Meta deduplicates it, per account × month, campaign × month and "
    "ad set × month: one insights request per month and level, so three per account-month "
    "pulled (the ad-set level adds one per account-month); plus the account's and its "
    "campaigns' last 7, 14 and 30 days ending yesterday, one request per window and level "
    "(six per pull). Never summed: reach does not add up.",
)
