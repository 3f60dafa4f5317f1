"""Passthrough settings: checked against Meta's names at load time, declared once, typed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from ads_platform import frames
from ads_platform.datasets import AD_INSIGHTS
from ads_platform.datasets.dbt_sql import DBT_PROJECT_DIR
from ads_platform.datasets.insights import PULLED_AS
from ads_platform.datasets.passthrough import ad_insights_dataset
from ads_platform.insights_fields import INSIGHT_FIELDS, FieldKind
from ads_platform.schemas import ValidationFailed
from ads_platform.settings import SettingsError, load_settings
from ads_platform.warehouse import dbt_project_fingerprint, dbt_vars


def _load(tmp_path: Path, insights: str) -> object:
    path = tmp_path / "ads_platform.yaml"
    path.write_text(f"insights:\n{insights}")
    return load_settings(path, env={})


def _refusal(tmp_path: Path, insights: str) -> str:
    with pytest.raises(SettingsError) as exc:
        _load(tmp_path, insights)
    return str(exc.value)


def test_an_unknown_field_is_refused_on_one_line_naming_it_and_the_closest_valid_names(
    tmp_path: Path,
) -> None:
    message = _refusal(tmp_path, "  passthrough_fields: [cpp, unique_click]\n")
    line = next(x for x in message.splitlines() if "passthrough_fields" in x)
    assert line.strip().startswith("insights.passthrough_fields:")
    assert "'unique_click' is not a Graph API insights field" in line
    assert "closest: unique_clicks" in line
    assert "cpp" not in line.split("unique_click")[0].split(":", 1)[1]  # only the bad one


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ("clicks", "pulled already (column clicks_all"),
        ("actions", "pulled already (column actions"),
        ("country", "is a breakdown, not a field"),
        ("age_targeting", "only answered with a matching breakdown"),
        ("outbound_clicks", "list of action stats"),
        ("results", "list of nested objects"),
        ("ad_name", "an entity name"),
        ("configurable_placement_ptc_reach", "configurable reports"),
    ],
)
def test_fields_that_cannot_be_a_new_ad_day_column_are_refused_with_the_reason(
    tmp_path: Path, field: str, reason: str
) -> None:
    assert reason in _refusal(tmp_path, f"  passthrough_fields: [{field}]\n")


def test_a_field_listed_twice_is_refused(tmp_path: Path) -> None:
    assert "'cpp' is listed twice" in _refusal(tmp_path, "  passthrough_fields: [cpp, cpp]\n")


def test_a_valid_list_loads_and_reaches_dbt_with_the_declared_types(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        "  passthrough_fields: [cpp, unique_clicks, quality_ranking]\n"
        "  passthrough_action_types:\n"
        "    - link_click\n"
        "    - {action_type: offsite_conversion.custom.123456, name: signup}\n",
    )
    wanted = dbt_vars(settings)  # type: ignore[arg-type]
    assert wanted["passthrough_fields"] == [
        {"name": "cpp", "type": "double"},
        {"name": "unique_clicks", "type": "bigint"},
        {"name": "quality_ranking", "type": "varchar"},
    ]
    assert wanted["passthrough_action_types"] == [
        {"action_type": "link_click", "name": "link_click"},
        {"action_type": "offsite_conversion.custom.123456", "name": "signup"},
    ]


def test_changing_the_list_changes_the_marts_fingerprint_so_the_next_build_is_full(
    tmp_path: Path,
) -> None:
    without = dbt_vars(_load(tmp_path, "  passthrough_fields: []\n"))  # type: ignore[arg-type]
    with_fields = dbt_vars(_load(tmp_path, "  passthrough_fields: [cpp]\n"))  # type: ignore[arg-type]
    assert dbt_project_fingerprint(DBT_PROJECT_DIR, without) != dbt_project_fingerprint(
        DBT_PROJECT_DIR, with_fields
    )


@pytest.mark.parametrize(
    ("action_types", "expected"),
    [
        ("[link_clicks]", "closest: link_click"),
        ("['Link Click']", "is not an action type name"),
        ("[link_click, link_click]", "listed twice"),
        (
            "[lead, {action_type: onsite_conversion.lead, name: lead}]",
            "would both be columns actions_lead / action_values_lead",
        ),
    ],
)
def test_unknown_or_clashing_action_types_are_refused(
    tmp_path: Path, action_types: str, expected: str
) -> None:
    message = _refusal(tmp_path, f"  passthrough_action_types: {action_types}\n")
    assert "insights.passthrough_action_types:" in message
    assert expected in message


def test_every_platform_field_is_declared_and_pulled_fields_map_to_their_columns() -> None:
    assert set(PULLED_AS) == set(AD_INSIGHTS.api_fields)
    assert set(PULLED_AS) <= set(INSIGHT_FIELDS)
    assert set(PULLED_AS.values()) <= set(AD_INSIGHTS.arrow.names)


def test_the_declared_names_and_list_fields_are_metas_own() -> None:
    sdk = pytest.importorskip("facebook_business.adobjects.adsinsights")
    types = sdk.AdsInsights._field_types
    assert set(types) == set(INSIGHT_FIELDS)
    lists = {FieldKind.ACTION_LIST, FieldKind.OBJECT_LIST}
    for name, wire in types.items():
        assert (INSIGHT_FIELDS[name] in lists) == wire.startswith("list<"), name
        assert (INSIGHT_FIELDS[name] is FieldKind.ACTION_LIST) == (
            wire == "list<AdsActionStats>"
        ), name


def _row(**extra: object) -> dict[str, object]:
    return {
        "account_id": "1",
        "campaign_id": "2",
        "adset_id": "3",
        "ad_id": "4",
        "date_start": "2026-01-05",
        "date_stop": "2026-01-05",
        "impressions": "100",
        "clicks": "5",
        "spend": "1.50",
        **extra,
    }


def _frame(dataset: object, rows: list[dict[str, object]]) -> pd.DataFrame:
    return frames.insights_frame(
        rows,
        account_id="act_1",
        currency="USD",
        fetched_at=dt.datetime(2026, 1, 6, tzinfo=dt.UTC),
        run_id="r",
        dataset=dataset,  # type: ignore[arg-type]
    )


def test_passthrough_columns_are_parsed_by_kind_validated_and_written_with_their_type() -> None:
    dataset = ad_insights_dataset(("cpp", "unique_clicks", "quality_ranking"))
    assert dataset.api_fields[-3:] == ("cpp", "unique_clicks", "quality_ranking")
    frame = _frame(
        dataset,
        [_row(cpp="12.345678", unique_clicks="4", quality_ranking="AVERAGE"), _row(ad_id="5")],
    )
    dataset.validate(frame)
    table = dataset.to_arrow(frame)
    assert str(table.schema.field("unique_clicks").type) == "int64"
    assert str(table.schema.field("cpp").type) == "double"
    assert table.column("cpp").to_pylist() == [12.345678, None]  # absent stays null, not 0
    assert table.column("unique_clicks").to_pylist() == [4, None]
    assert table.column("quality_ranking").to_pylist() == ["AVERAGE", None]
    # The base model's rules still hold on the derived one, and the new columns have theirs.
    with pytest.raises(ValidationFailed, match="unique_clicks"):
        dataset.validate(_frame(dataset, [_row(unique_clicks="-1")]))
    with pytest.raises(ValidationFailed, match="date_day"):
        dataset.validate(_frame(dataset, [_row(), _row()]))
    with pytest.raises(frames.RowError, match="cpp"):
        _frame(dataset, [_row(cpp="n/a")])
    assert ad_insights_dataset(()) is AD_INSIGHTS
