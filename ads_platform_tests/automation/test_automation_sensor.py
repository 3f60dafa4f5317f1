"""The declarative-automation sensor: RUNNING by default, covering every conditioned asset.

Dagster's daemon evaluates ``AutomationConditionSensorDefinition``s itself (they cannot
be called like user-space sensors); ``evaluate_automation_conditions`` runs the same
evaluation in a test.
"""

from __future__ import annotations

import dagster as dg

from ads_platform.automation.sensors import build_automation_sensor


@dg.asset
def upstream() -> None:
    return None


@dg.asset(deps=[upstream], automation_condition=dg.AutomationCondition.eager())
def mart() -> None:
    return None


def test_the_sensor_targets_conditioned_assets_and_they_are_requested() -> None:
    sensor = build_automation_sensor()
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    defs = dg.Definitions(assets=[upstream, mart], sensors=[sensor])
    repo = defs.get_repository_def()
    # Ours replaces Dagster's implicit default sensor (which starts STOPPED).
    assert {s.name for s in repo.sensor_defs} == {sensor.name}
    assert sensor.asset_selection is not None
    assert dg.AssetKey("mart") in sensor.asset_selection.resolve(repo.asset_graph)
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert first.total_requested == 0
        instance.report_runless_asset_event(dg.AssetMaterialization("upstream"))
        second = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=first.cursor
        )
        assert second.get_requested_partitions(dg.AssetKey("mart")) == {None}
