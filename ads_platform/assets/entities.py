"""``campaigns``, ``ad_sets``, ``ads``, ``creatives``: per ad account, every version."""

import dagster as dg

from ads_platform import frames
from ads_platform.assets.account_runs import (
    AccountJob,
    AccountResult,
    AccountRun,
    account_asset,
    failed_account,
)
from ads_platform.assets.reporting import check_specs
from ads_platform.datasets import AD_SETS, ADS, CAMPAIGNS, CREATIVES
from ads_platform.ingestion.entities import pull_entities
from ads_platform.ingestion.outcomes import SCHEMA_CHECK
from ads_platform.meta.client import GraphClient
from ads_platform.partitions import ad_accounts_partitions

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
    def pull(run: AccountRun, client: GraphClient, job: AccountJob) -> AccountResult:
        pulled = pull_entities(client, run.lake, job.account_id, spec)
        extra = {
            "pulled": pulled.pulled,
            "versions_added": pulled.versions_added,
            f"by_{spec.status_column}": ", ".join(
                f"{k}={v}" for k, v in sorted(pulled.by_status.items())
            ),
        }
        return AccountResult(job.account_id, [pulled.outcome], extra)

    return account_asset(
        spec.dataset,
        partitions_def=ad_accounts_partitions,
        check_specs=check_specs(spec.name, blocking=[SCHEMA_CHECK]),
        work=pull,
        on_error=failed_account(spec.name),
        description=_DESCRIPTIONS[spec.name],
    )


entity_assets = [build_entity_asset(spec) for spec in frames.ENTITY_SPECS.values()]
