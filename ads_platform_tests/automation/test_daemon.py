"""Through Dagster's own sensor daemon: sensors are RUNNING by default and their run
requests (on the implicit asset job, with partitions added by the same tick) launch."""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.sensor import execute_sensor_iteration

from ads_platform_tests.automation.helpers import INSIGHTS_RUN, TOKYO, token_env, write_settings
from ads_platform_tests.launch import SYNC_LAUNCH_OVERRIDES

REPO = Path(__file__).resolve().parents[2]


def test_sensor_daemon_adds_the_partition_and_launches_the_backfill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    # An unreachable Graph API: the runs fail at once, which is enough to see them launched.
    config = write_settings(
        home,
        [TOKYO],
        {
            "ingestion": {"new_account_backfill_days": 2},
            "meta": {"graph_base_url": "http://127.0.0.1:9", "max_retries": 0},
        },
    )
    monkeypatch.setenv("ADS_PLATFORM_CONFIG", str(config))
    monkeypatch.setenv("ADS_PLATFORM_HOME", str(home))
    monkeypatch.setenv(token_env(TOKYO), "token-0123456789")
    target = ModuleTarget(
        module_name="ads_platform_tests.automation.daemon_defs",
        attribute="defs",
        working_directory=str(REPO),
        location_name="ads_platform",
    )
    with (
        dg.instance_for_test(overrides=SYNC_LAUNCH_OVERRIDES) as instance,
        create_test_daemon_workspace_context(target, instance) as workspace,
    ):
        list(execute_sensor_iteration(workspace, logging.getLogger("sensors"), None, None))
        assert instance.get_dynamic_partitions("ad_accounts") == [TOKYO]
        runs = instance.get_runs(
            filters=dg.RunsFilter(tags={"dagster/sensor_name": "new_ad_accounts"})
        )
        # Each run in the named job of its kind, never Dagster's private __ASSET_JOB.
        selections = sorted(
            (run.job_name, ",".join(sorted(k.to_user_string() for k in run.asset_selection or [])))
            for run in runs
        )
        assert selections == [
            ("ingest_account_assets", "ad_sets,ads,campaigns,creatives,reach_monthly,token_health"),
            ("ingest_insights", INSIGHTS_RUN),
            ("refresh_ad_accounts", "ad_accounts"),
        ]
        insights = next(
            r for r in runs if dg.AssetKey("ad_insights_daily") in (r.asset_selection or ())
        )
        assert insights.tags["dagster/asset_partition_range_start"].startswith(f"{TOKYO}|")
