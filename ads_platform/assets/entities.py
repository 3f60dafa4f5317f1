"""``campaigns``, ``ad_sets``, ``ads``, ``creatives``: per ad account, every version."""

import dagster as dg

from ads_platform import frames
from ads_platform.assets.account_runs import AccountJob, AccountResult, api_metadata, run_accounts
from ads_platform.assets.reporting import check_specs, report
from ads_platform.datasets import AD_SETS, ADS, CAMPAIGNS, CREATIVES
from ads_platform.ingestion.entities import pull_entities
from ads_platform.ingestion.outcomes import PartitionOutcome, record_attempts
from ads_platform.meta.client import GraphClient
from ads_platform.meta.stats import CallStats
from ads_platform.partitions import ad_accounts_partitions
from ads_platform.resources import PlatformResource

_DESCRIPTIONS = {
    CAMPAIGNS: "Campaigns of each ad account (active, paused, archived and deleted), with "
    "a new version whenever a tracked field changes (valid_from), so renames keep history.",
    AD_SETS: "Ad sets of each ad account, every status, versioned like campaigns.",
    ADS: "Ads of each ad account, every status, versioned like campaigns.",
    CREATIVES: "Ad creatives of each ad account (text, call to action, link URL, url_tags, "
    "image/video ids, thumbnail) with the landing URL's UTM values parsed, versioned like "
    "campaigns; which creative an ad carried when comes from the ads' history.",
}


def build_entity_asset(spec: frames.EntitySpec) -> dg.AssetsDefinition:
    key = dg.AssetKey(spec.name)

    @dg.asset(
        key=key,
        partitions_def=ad_accounts_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        output_required=False,
        check_specs=check_specs(spec.name, blocking=["schema"]),
        group_name="meta_ads",
        kinds={"python", "parquet"},
        description=_DESCRIPTIONS[spec.name],
    )
    def _entity_asset(context: dg.AssetExecutionContext, platform: PlatformResource):  # type: ignore[no-untyped-def]  # Dagster reads check outputs from it
        settings = platform.settings()
        lake = platform.lake(settings)
        stats = CallStats()

        def work(client: GraphClient, job: AccountJob) -> AccountResult:
            pulled = pull_entities(client, lake, job.account_id, spec)
            extra = {
                "pulled": pulled.pulled,
                "versions_added": pulled.versions_added,
                f"by_{spec.status_column}": ", ".join(
                    f"{k}={v}" for k, v in sorted(pulled.by_status.items())
                ),
            }
            return AccountResult(job.account_id, [pulled.outcome], extra)

        def on_error(job: AccountJob, kind: str, message: str) -> list[PartitionOutcome]:
            return [
                PartitionOutcome(
                    spec.name, job.account_id, None, "failed", message=message, error_kind=kind
                )
            ]

        jobs = [AccountJob(account_id) for account_id in sorted(context.partition_keys)]
        results = run_accounts(context, platform, settings, jobs, work, on_error, stats)
        outcomes = [o for r in results for o in r.outcomes]
        record_attempts(lake, outcomes, context.run_id)
        extra = {r.account_id: {**api_metadata(stats, r.account_id), **r.extra} for r in results}
        yield from report(
            context, key, outcomes, lambda o: o.account_id, lambda o: extra[o.account_id]
        )

    return _entity_asset


entity_assets = [build_entity_asset(spec) for spec in frames.ENTITY_SPECS.values()]
