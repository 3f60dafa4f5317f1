"""``ad_accounts``: the accounts to pull, and the dynamic partition set they feed."""

import datetime as dt

import dagster as dg

from ads_platform.assets.account_runs import (
    AccountJob,
    AccountResult,
    api_metadata,
    run_accounts,
)
from ads_platform.datasets import ACCOUNTS, AD_ACCOUNTS
from ads_platform.ingestion import accounts as acc
from ads_platform.ingestion.failures import describe
from ads_platform.ingestion.outcomes import PartitionOutcome
from ads_platform.meta.client import GraphClient
from ads_platform.meta.stats import CallStats
from ads_platform.partitions import ad_accounts_partitions
from ads_platform.resources import PlatformResource

#: Asset check of ``ad_accounts``: every account (and discovery) could be read now.
EVERY_ACCOUNT_READ = "every_account_read"


@dg.asset(
    key=AD_ACCOUNTS,
    group_name="meta_ads",
    kinds={"python", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(
            EVERY_ACCOUNT_READ,
            asset="ad_accounts",
            description="Every enabled account (and me/adaccounts when discovery is on) "
            "answered this run; fails naming each account that did not and why.",
        )
    ],
    description="Ad accounts from the settings (and from me/adaccounts when discovery is "
    "on): name, currency, time zone, status. Adds new accounts to the `ad_accounts` "
    "partition set; accounts removed from the settings stay, marked inactive.",
)
def ad_accounts(
    context: dg.AssetExecutionContext, platform: PlatformResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    settings = platform.settings()
    lake = platform.lake(settings)
    stats = CallStats()

    # Accounts are read in parallel, like every per-account pull: one throttled or
    # unreachable account must not hold up reading the others.
    def work(client: GraphClient, job: AccountJob) -> AccountResult:
        row = acc.row_from_node(client.get_account(job.account_id, ACCOUNTS.api_fields), "settings")
        context.log.info(f"{job.account_id}: read ({row.currency}, {row.timezone_name})")
        outcome = PartitionOutcome(acc.DATASET, job.account_id, None, "success", rows=1)
        return AccountResult(job.account_id, [outcome], {"row": row})

    def on_error(job: AccountJob, kind: str, message: str) -> list[PartitionOutcome]:
        return [
            PartitionOutcome(
                acc.DATASET, job.account_id, None, "failed", message=message, error_kind=kind
            )
        ]

    jobs = [AccountJob(account.id) for account in settings.enabled_accounts]
    results = run_accounts(context, platform, settings, jobs, work, on_error, stats)
    seen: list[acc.AccountRow] = []
    problems: list[str] = []
    for result in results:
        row = result.extra.get("row")
        if isinstance(row, acc.AccountRow):
            seen.append(row)
            continue
        problems.extend(o.message for o in result.outcomes if not o.ok)
        known = acc.known_account(lake, result.account_id)
        if known is not None:
            seen.append(known)
    discovered: list[str] = []
    if settings.discovery.enabled and settings.discovery.token_env:
        try:
            listed = platform.discovery_client(
                settings, lambda client, _: list(client.list_ad_accounts()), stats=stats
            )
            for node in listed:
                row = acc.row_from_node(node, "discovered")
                if all(r.account_id != row.account_id for r in seen):
                    seen.append(row)
                    discovered.append(row.account_id)
        except Exception as exc:
            _, message = describe(
                exc, account_id="me/adaccounts", token_env=settings.discovery.token_env
            )
            problems.append(message)
    active = {a.id for a in settings.enabled_accounts} | set(discovered)
    frame = acc.merge_accounts(lake, seen, active, dt.datetime.now(dt.UTC))
    existing = set(context.instance.get_dynamic_partitions(ad_accounts_partitions.name or ""))
    new = sorted(active - existing)
    if new:
        context.instance.add_dynamic_partitions(ad_accounts_partitions.name or "", new)
    read_now = sum(isinstance(r.extra.get("row"), acc.AccountRow) for r in results)
    if problems and not read_now and not discovered:
        # Nothing answered (a missing token variable, DNS, Meta down): a green
        # materialization with "accounts 0" would say all is well.  The partitions and
        # the last known rows are kept; the run fails with each account's reason.
        raise dg.Failure(
            description=f"no ad account could be read: {'; '.join(problems)}",
            metadata={"problems": "\n".join(problems), "accounts_known": len(frame)},
        )
    return dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name=EVERY_ACCOUNT_READ,
                passed=not problems,
                severity=dg.AssetCheckSeverity.ERROR,
                description="; ".join(problems) or None,
                metadata={"read": read_now, "failed": len(problems)},
            )
        ],
        metadata={
            "accounts": len(frame),
            "active": int(frame["is_active"].sum()),
            "new_partitions": ", ".join(new) or "none",
            "discovered": ", ".join(discovered) or "none",
            "problems": "\n".join(problems) or "none",
            **api_metadata(stats, None),
            "api_by_account": dg.MetadataValue.json(
                {job.account_id: dict(api_metadata(stats, job.account_id)) for job in jobs}
            ),
            "preview": dg.MetadataValue.md(
                frame.drop(columns=["first_seen_at", "last_seen_at"]).to_markdown(index=False)
            ),
        },
    )
