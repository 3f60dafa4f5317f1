"""``token_health``: is each account's token valid, for how long, with which scopes."""

import dagster as dg

from ads_platform.assets.account_runs import AccountJob, AccountResult, api_metadata, run_accounts
from ads_platform.assets.reporting import check_specs, report
from ads_platform.datasets import TOKEN_HEALTH
from ads_platform.ingestion import token_health as th
from ads_platform.ingestion.outcomes import CheckOutcome, PartitionOutcome
from ads_platform.meta.client import GraphClient
from ads_platform.meta.stats import CallStats
from ads_platform.partitions import ad_accounts_partitions
from ads_platform.resources import PlatformResource

KEY = dg.AssetKey(TOKEN_HEALTH)


@dg.asset(
    key=KEY,
    partitions_def=ad_accounts_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    output_required=False,
    check_specs=check_specs(TOKEN_HEALTH, blocking=[], warn=["token_valid"]),
    group_name="meta_ads",
    kinds={"python", "parquet"},
    description="debug_token per ad account: validity, expiry, data-access expiry, scopes "
    "and missing scopes, days left; refreshes expiring user tokens when an app id and "
    "secret are configured (stored encrypted). 190s seen by pulls are recorded too.",
)
def token_health(context: dg.AssetExecutionContext, platform: PlatformResource):  # type: ignore[no-untyped-def]  # Dagster reads check outputs from it
    settings = platform.settings()
    lake = platform.lake(settings)
    stats = CallStats()
    store = platform.token_store(settings)
    rows: list[dict[str, object]] = []

    def work(client: GraphClient, job: AccountJob) -> AccountResult:
        assert job.token is not None and job.token_env is not None  # set by run_accounts
        check = th.check_token(
            client,
            account_id=job.account_id,
            token_env=job.token_env,
            token=job.token,
            required_scopes=settings.tokens.required_scopes,
            app_id=settings.meta.app_id,
            app_secret=settings.app_secret(),
            refresh_within_days=settings.tokens.refresh_within_days,
            store=store,
        )
        rows.append(check.row)
        days_left = check.row.get("days_left")
        problems = []
        if not check.is_valid:
            problems.append(
                str(check.row.get("last_error_message") or "debug_token: is_valid=false")
            )
        if check.row.get("missing_scopes"):
            problems.append(f"missing scopes: {check.row['missing_scopes']}")
        if isinstance(days_left, float) and days_left < settings.tokens.warn_within_days:
            problems.append(f"expires in {days_left:.1f} day(s)")
        passed = not problems
        outcome = PartitionOutcome(
            TOKEN_HEALTH,
            job.account_id,
            None,
            "success",
            rows=1,
            message=check.refresh_note,
            checks=[
                CheckOutcome(
                    "token_valid",
                    passed,
                    "; ".join(problems) or "valid",
                    {"days_left": days_left if days_left is not None else "never"},
                    severity="WARN",
                )
            ],
        )
        extra = {
            "is_valid": check.is_valid,
            "days_left": days_left if days_left is not None else "no expiry",
            "scopes": str(check.row.get("scopes") or ""),
            "refreshed": check.refreshed,
        }
        return AccountResult(job.account_id, [outcome], extra)

    def on_error(job: AccountJob, kind: str, message: str) -> list[PartitionOutcome]:
        return [
            PartitionOutcome(
                TOKEN_HEALTH, job.account_id, None, "failed", message=message, error_kind=kind
            )
        ]

    jobs = [AccountJob(a) for a in sorted(context.partition_keys)]
    # An invalid stored (refreshed) token is re-checked once with the variable's token.
    results = run_accounts(
        context,
        platform,
        settings,
        jobs,
        work,
        on_error,
        stats,
        rejected=lambda result: not result.extra.get("is_valid", True),
    )
    th.record(lake, rows, tag=context.run_id)
    outcomes = [o for r in results for o in r.outcomes]
    extra = {r.account_id: {**api_metadata(stats, r.account_id), **r.extra} for r in results}
    yield from report(context, KEY, outcomes, lambda o: o.account_id, lambda o: extra[o.account_id])
