"""The platform's own logs (ingestion attempts, alerts) are observable sources of the marts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from ads_platform.assets.operations import alerts, ingestion_attempts
from ads_platform.datasets import ALERTS, INGESTION_ATTEMPTS
from ads_platform.ingestion.outcomes import PartitionOutcome, record_attempts
from ads_platform.lake import Lake
from ads_platform.resources import PlatformResource
from ads_platform_tests.platform_defs import defs


def test_the_marts_reading_the_attempts_and_the_alerts_depend_on_their_sources() -> None:
    graph = defs.resolve_asset_graph()
    for name, staging in (
        (INGESTION_ATTEMPTS, "stg_ingestion_attempts"),
        (ALERTS, "stg_alerts"),
    ):
        key = dg.AssetKey(name)
        node = graph.get(key)
        assert node.is_observable and not node.is_materializable
        assert node.group_name == "operations"
        assert dg.AssetKey(["staging", staging]) in node.child_keys
        # The dbt source maps to the observable source, not to a key of its own.
        assert dg.AssetKey(["lake", name]) not in graph.get_all_asset_keys()


def _observe(tmp_path: Path, source: dg.SourceAsset) -> dg.AssetObservation:
    config = tmp_path / "ads_platform.yaml"
    config.write_text(f"home: {tmp_path / 'home'}\n")
    # What the UI's "Observe" button launches: a run of a job selecting the source.
    job = dg.define_asset_job("observe", selection=dg.AssetSelection.all(include_sources=True))
    defs = dg.Definitions(
        assets=[source],
        jobs=[job],
        resources={"platform": PlatformResource(config_path=str(config))},
    )
    result = defs.resolve_job_def("observe").execute_in_process()
    assert result.success
    (observation,) = result.asset_observations_for_node(source.op.name)
    return observation


def test_an_observation_reports_the_rows_and_the_last_write_of_the_attempts_log(
    tmp_path: Path,
) -> None:
    lake = Lake(tmp_path / "home" / "lake")
    day = dt.date(2026, 11, 2)
    record_attempts(
        lake,
        [
            PartitionOutcome("ad_insights_daily", "act_1", day, "success", rows=3),
            PartitionOutcome("ad_insights_daily", "act_1", day, "failed", message="x"),
            PartitionOutcome("ad_insights_daily", "act_2", day, "success", rows=1),
        ],
        "run-1",
    )
    before = dt.datetime.now(dt.UTC)
    record_attempts(lake, [PartitionOutcome("campaigns", "act_2", None, "success")], "run-2")

    observation = _observe(tmp_path, ingestion_attempts)
    assert observation.metadata["rows"].value == 4
    assert observation.metadata["files"].value == 3  # one per account and run
    last = dt.datetime.fromisoformat(str(observation.metadata["last_write"].value))
    assert last >= before.replace(microsecond=0) - dt.timedelta(seconds=1)
    first_version = observation.tags.get("dagster/data_version")
    assert first_version

    record_attempts(lake, [PartitionOutcome("campaigns", "act_3", None, "success")], "run-3")
    again = _observe(tmp_path, ingestion_attempts)
    assert again.metadata["rows"].value == 5
    assert again.tags.get("dagster/data_version") != first_version


def test_an_observation_of_alerts_never_written_says_so(tmp_path: Path) -> None:
    observation = _observe(tmp_path, alerts)
    assert observation.metadata["rows"].value == 0
    assert observation.metadata["files"].value == 0
    assert observation.metadata["last_write"].value == "never"
