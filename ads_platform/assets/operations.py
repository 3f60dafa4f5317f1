"""``ingestion_attempts`` and ``alerts``: the platform's own logs, as observable sources.

Why source assets and not materializations: nothing materializes these logs as a step.
Every ingestion asset appends its attempts to ``ingestion_attempts``, and the alert
sensors append to ``alerts``; the marts read both (data freshness, the alerts mart).
Declaring them here, under the keys the dbt sources map to (``meta.dagster.asset_key``,
generated from the dataset registry), makes the lineage graph show where those marts'
inputs come from, and an observation records how many rows the log holds and when it
was last written.  Automation observes both at the hourly tick of the marts that read
them (``MARTS_REFRESH_CRON``; the UI's "Observe" button does too), so their page says when
each log last changed without anyone asking.
"""

from typing import Any

import dagster as dg

from ads_platform.assets.marts import MARTS_REFRESH_CRON
from ads_platform.datasets import ALERT_LOG, ATTEMPTS, Dataset
from ads_platform.resources import PlatformResource

#: The group these logs show in, beside ``meta_ads`` (what writes them) and ``marts``.
OPERATIONS_GROUP = "operations"


def observation(platform: PlatformResource, dataset: Dataset) -> dg.ObserveResult:
    """Rows, files and last write of one log; the data version changes with each write."""
    summary = platform.lake().summary(dataset.name)
    last = summary.last_write.isoformat() if summary.last_write else "never"
    metadata: dict[str, Any] = {
        "rows": summary.rows,
        "files": summary.files,
        "last_write": last,
        "path": dg.MetadataValue.path(str(platform.lake().dataset_dir(dataset.name))),
    }
    return dg.ObserveResult(
        metadata=metadata,
        data_version=dg.DataVersion(f"{summary.files}:{summary.rows}:{last}"),
    )


def _log_source(dataset: Dataset, written_by: str) -> dg.SourceAsset:
    assert dataset.asset is not None  # the key the dbt source maps to

    @dg.observable_source_asset(
        key=dataset.asset,
        group_name=OPERATIONS_GROUP,
        description=f"{dataset.description} Written by {written_by}; observed, never materialized.",
        automation_condition=(
            dg.AutomationCondition.cron_tick_passed(MARTS_REFRESH_CRON, "UTC")
            & ~dg.AutomationCondition.in_progress()
        ),
    )
    def _observe(platform: PlatformResource) -> dg.ObserveResult:
        return observation(platform, dataset)

    return _observe


ingestion_attempts = _log_source(ATTEMPTS, "every ingestion asset (one file per account and run)")
alerts = _log_source(ALERT_LOG, "the alert sensors")

operations_sources = [ingestion_attempts, alerts]
