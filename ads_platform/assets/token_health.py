"""``token_health``: is each account's token valid, for how long, with which scopes."""

from collections.abc import Sequence

import dagster as dg

from ads_platform.assets.account_runs import (
    AccountJob,
    AccountResult,
    AccountRun,
    account_asset,
    failed_account,
)
from ads_platform.assets.reporting import check_specs
from ads_platform.datasets import TOKEN_CHECKS, TOKEN_HEALTH
from ads_platform.ingestion import token_health as th
from ads_platform.meta.client import GraphClient
from ads_platform.partitions import ad_accounts_partitions

KEY = dg.AssetKey(TOKEN_HEALTH)


def check(run: AccountRun, client: GraphClient, job: AccountJob) -> AccountResult:
    assert job.token is not None and job.token_env is not None  # set by run_accounts
    settings = run.settings
    checked = th.check_token(
        client,
        account_id=job.account_id,
        token_env=job.token_env,
        token=job.token,
        required_scopes=settings.tokens.required_scopes,
        app_id=settings.meta.app_id,
        app_secret=settings.app_secret(),
        refresh_within_days=settings.tokens.refresh_within_days,
        store=run.token_store,
    )
    days_left = checked.row.get("days_left")
    extra = {
        "is_valid": checked.is_valid,
        "days_left": days_left if days_left is not None else "no expiry",
        "scopes": str(checked.row.get("scopes") or ""),
        "refreshed": checked.refreshed,
    }
    # Every attempt's check is recorded, a rejected stored token's as well.
    run.records.append(checked.row)
    outcome = th.verdict(checked, settings.tokens.warn_within_days)
    return AccountResult(job.account_id, [outcome], extra)


def record_checks(run: AccountRun, results: Sequence[AccountResult]) -> None:
    """The checks go to ``token_health`` itself (its own log), not the attempts log."""
    del results
    th.record(run.lake, run.records, tag=run.context.run_id)


token_health = account_asset(
    TOKEN_CHECKS,
    partitions_def=ad_accounts_partitions,
    check_specs=check_specs(TOKEN_HEALTH, blocking=[], warn=[th.TOKEN_VALID_CHECK]),
    work=check,
    on_error=failed_account(TOKEN_HEALTH),
    # An invalid stored (refreshed) token is re-checked once with the variable's token.
    rejected=lambda result: not result.extra.get("is_valid", True),
    record=record_checks,
    description="debug_token per ad account: validity, expiry, data-access expiry, scopes "
    "and missing scopes, days left; refreshes expiring user tokens when an app id and "
    "secret are configured (stored encrypted). 190s seen by pulls are recorded too.",
)
