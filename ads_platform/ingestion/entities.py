"""Campaigns, ad sets and ads: current state plus every version ever seen.

Deleted and archived objects are hidden by the Graph API unless their statuses are
asked for; their past spend still needs a name, so every status is requested.  Each
pull that sees a change appends a version (``valid_from`` = pull time) to the
account's history file, so a rename never rewrites history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ads_platform import frames, schemas
from ads_platform.ingestion.outcomes import CheckOutcome, PartitionOutcome
from ads_platform.lake import Lake
from ads_platform.meta.client import GraphClient


@dataclass
class EntityPull:
    outcome: PartitionOutcome
    pulled: int
    versions_added: int
    by_status: dict[str, int] = field(default_factory=dict)


def pull_entities(
    client: GraphClient,
    lake: Lake,
    account_id: str,
    spec: frames.EntitySpec,
    *,
    now: dt.datetime | None = None,
) -> EntityPull:
    """Pull every object of one kind for one account and append changed versions."""
    now = now or dt.datetime.now(dt.UTC)
    records = [
        spec.parse(row, account_id)
        for row in client.iter_entities(
            account_id,
            spec.edge,
            fields=list(spec.api_fields),
            effective_status=list(frames.ALL_EFFECTIVE_STATUSES) if spec.filter_statuses else None,
        )
    ]
    dataset = spec.dataset
    path = lake.partition_path(dataset.name, account_id)
    with lake.lock(dataset.name, account_id):
        previous = lake.read(path)
        history, added = frames.merge_versions(previous, records, spec, now)
        if added or previous is None:
            # Only what is written is validated: an unchanged history is the file that
            # passed when it was written (Pandera costs ~10 ms a call, and most
            # accounts change nothing on most days).
            dataset.validate(history)
            schemas.check_partition_keys(history, dataset.name, account_id=account_id)
            lake.write(path, dataset.to_arrow(history))
    current = history.sort_values("valid_from").drop_duplicates(spec.id_column, keep="last")
    statuses = current[spec.status_column].fillna("UNKNOWN").value_counts().to_dict()
    outcome = PartitionOutcome(
        dataset.name,
        account_id,
        None,
        "success",
        rows=len(current),
        message=f"{len(records)} pulled, {added} new version(s), {len(history)} versions kept",
        checks=[CheckOutcome("schema", True, f"{len(history)} versions match the schema")],
        path=str(path),
    )
    by_status = {str(k): int(v) for k, v in statuses.items()}
    return EntityPull(outcome, len(records), added, by_status)
