"""The dataset registry is the one place a lake dataset is declared."""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path

import jinja2
import pandas as pd
import pandera.pandas as pandera
import pyarrow as pa
import pytest
import yaml
from pandera.typing import Series

import ads_platform
from ads_platform import datasets as ds
from ads_platform.datasets import dbt_sql
from ads_platform.datasets.base import Dataset, Layout, Partitioning
from ads_platform.ingestion import token_health
from ads_platform.lake import Lake
from ads_platform.partitions import ad_accounts_partitions
from ads_platform.schemas import Model, ValidationFailed

PACKAGE = Path(ads_platform.__file__).parent


def _lake_columns(macro_text: str) -> dict[str, list[tuple[str, str]]]:
    """Evaluate ``lake_columns()`` the way dbt's Jinja does (``return`` hands the value)."""
    returned: list[dict[str, list[tuple[str, str]]]] = []
    env = jinja2.Environment(autoescape=False)
    env.globals["return"] = lambda value: returned.append(value) or ""
    env.from_string(macro_text + "{{ lake_columns() }}").render()
    return {name: [tuple(c) for c in cols] for name, cols in returned[0].items()}


def _fx_rates() -> Dataset:
    """A trivial new dataset: everything it needs is this one declaration."""

    class FxRates(Model):
        currency: Series[str] = pandera.Field(str_matches=r"^[A-Z]{3}$")
        rate_to_usd: Series[float] = pandera.Field(gt=0)

        class Config:
            strict = False

    return Dataset(
        name="usd_rates",
        description="Daily exchange rates to USD.",
        grain=("date_day", "currency"),
        partitioning=Partitioning.NONE,
        arrow=pa.schema(
            [
                ("date_day", pa.date32()),
                ("currency", pa.string()),
                ("rate_to_usd", pa.float64()),
                ("fetched_at", pa.timestamp("us", tz="UTC")),
            ]
        ),
        model=FxRates,
        asset="usd_rates",
    )


def test_the_committed_dbt_lake_columns_and_sources_are_what_the_registry_generates() -> None:
    for path, text in dbt_sql.rendered().items():
        assert path.read_text() == text, (
            f"{path} is out of date: run python -m ads_platform.datasets.dbt_sql"
        )


def test_the_lake_views_cast_every_dataset_to_exactly_its_arrow_columns() -> None:
    columns = _lake_columns(dbt_sql.MACRO_FILE.read_text())
    assert list(columns) == list(ds.DATASETS)
    for name, declared in ds.DATASETS.items():
        assert [c for c, _ in columns[name]] == declared.arrow.names, name


def test_every_dbt_source_table_but_the_lake_listing_is_a_declared_dataset() -> None:
    source = yaml.safe_load(dbt_sql.SOURCES_FILE.read_text())["sources"][0]
    tables = {t["name"]: t for t in source["tables"]}
    assert set(tables) - {"lake_files"} == set(ds.DATASETS)
    for name, declared in ds.DATASETS.items():
        assert [c["name"] for c in tables[name]["columns"]] == declared.arrow.names
        assert tables[name]["loaded_at_field"] == declared.loaded_at


def test_adding_a_dataset_is_one_declaration_that_reaches_the_lake_columns_and_sources(
    tmp_path: Path,
) -> None:
    fx = _fx_rates()
    registry = [*ds.DATASETS.values(), fx]
    columns = _lake_columns(dbt_sql.render_macro(registry))
    assert columns["usd_rates"] == [
        ("date_day", "date"),
        ("currency", "varchar"),
        ("rate_to_usd", "double"),
        ("fetched_at", "timestamptz"),
    ]
    source = yaml.safe_load(dbt_sql.render_sources(registry))["sources"][0]
    table = next(t for t in source["tables"] if t["name"] == "usd_rates")
    assert table["meta"] == {"dagster": {"asset_key": ["usd_rates"]}}
    assert [c["data_type"] for c in table["columns"]] == [t for _, t in columns["usd_rates"]]
    # ... and it validates and writes through the same declaration.
    rows = [{"date_day": dt.date(2026, 1, 5), "currency": "EUR", "rate_to_usd": 1.1}]
    table_ = fx.table([{**r, "fetched_at": dt.datetime.now(dt.UTC)} for r in rows])
    lake = Lake(tmp_path)
    assert fx.single_file and fx.path_pattern == "usd_rates/data.parquet"
    lake.write(lake.partition_path(fx.name), table_)
    assert (tmp_path / fx.path_pattern).exists()
    with pytest.raises(ValidationFailed, match="rate_to_usd"):
        fx.table([{"date_day": dt.date(2026, 1, 5), "currency": "EUR", "rate_to_usd": -1.0}])


def test_a_declaration_whose_grain_is_not_in_its_schema_is_refused() -> None:
    with pytest.raises(ValueError, match="not in the schema"):
        Dataset(
            name="broken",
            description="",
            grain=("nope",),
            partitioning=Partitioning.NONE,
            arrow=pa.schema([("fetched_at", pa.timestamp("us", tz="UTC"))]),
            model=Model,
        )


def test_the_lake_layout_follows_the_partitioning_and_the_write_mode() -> None:
    assert ds.AD_INSIGHTS.path_pattern == (
        "ad_insights_daily/account_id={account}/date={day}/data.parquet"
    )
    assert ds.CAMPAIGN_HISTORY.path_pattern == "campaigns/account_id={account}/data.parquet"
    assert ds.ACCOUNTS.single_file
    assert ds.ATTEMPTS.layout is Layout.APPEND
    assert ds.ATTEMPTS.path_pattern.startswith("ingestion_attempts/account_id={account}/<")


def _reach_frame(**changes: object) -> pd.DataFrame:
    row = {
        "level": "account",
        "period": "month",
        "period_start": dt.date(2026, 1, 1),
        "period_end": dt.date(2026, 1, 31),
        "account_id": "act_1",
        "campaign_id": None,
        "ad_set_id": None,
        "currency": "EUR",
        "reach": 10,
        "impressions": 20,
        "spend": 1.5,
        "is_complete": True,
        "fetched_at": dt.datetime.now(dt.UTC),
    }
    frame = pd.DataFrame([row, {**row, **changes}])
    for column in ("reach", "impressions"):
        frame[column] = frame[column].astype("Int64")
    return frame


def test_reach_is_validated_by_its_model_not_by_a_hand_check() -> None:
    ds.REACH.validate(_reach_frame(period_start=dt.date(2026, 2, 1)))
    with pytest.raises(ValidationFailed, match=r"period_start|unique|duplicate"):
        ds.REACH.validate(_reach_frame())  # the same account month twice
    with pytest.raises(ValidationFailed, match="reach"):
        ds.REACH.validate(_reach_frame(period_start=dt.date(2026, 2, 1), reach=-1))
    ad_set = {"level": "ad_set", "campaign_id": "1", "ad_set_id": "2"}
    ds.REACH.validate(_reach_frame(**ad_set))  # its own grain: beside the account's month
    with pytest.raises(ValidationFailed, match="ids of its level"):
        ds.REACH.validate(_reach_frame(**{**ad_set, "ad_set_id": None}))
    with pytest.raises(ValidationFailed, match="ids of its level"):
        ds.REACH.validate(_reach_frame(level="campaign", campaign_id="1", ad_set_id="2"))


def test_token_health_rows_that_break_their_model_are_not_written(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    row = ds.TOKEN_CHECKS.empty_row() | {
        "account_id": "not-an-account",
        "checked_at": dt.datetime.now(dt.UTC),
    }
    with pytest.raises(ValidationFailed, match="account_id"):
        token_health.record(lake, [row], tag="t")
    assert not (tmp_path / "token_health").exists()
    token_health.record(lake, [row | {"account_id": "act_1"}], tag="t")
    assert len(list((tmp_path / "token_health").rglob("*.parquet"))) == 1


def _string_literals(path: Path) -> set[str]:
    return {
        node.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_dataset_names_are_spelled_only_in_their_declarations() -> None:
    """Everywhere else reads the registry's constants (the sandbox speaks the API, not the
    lake, and the dashboard reads marts, so they are not concerned).  ``campaigns`` and
    ``ads`` are also Graph API edges, and ``ad_accounts`` the name of the dynamic
    partition set: those words mean something else where they are spelled."""
    exempt = ("datasets", "sandbox", "dashboard")
    other_meanings = {"campaigns", "ads", ad_accounts_partitions.name}
    names = set(ds.DATASETS) - other_meanings
    assert ds.AD_INSIGHTS_DAILY in names
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        if path.relative_to(PACKAGE).parts[0] in exempt:
            continue
        spelled = _string_literals(path) & names
        if spelled:
            offenders[str(path.relative_to(PACKAGE))] = sorted(spelled)
    assert offenders == {}


def test_every_arrow_type_of_the_registry_has_a_duckdb_type() -> None:
    for declared in ds.DATASETS.values():
        for field in declared.arrow:
            assert re.fullmatch(r"[a-z_(),0-9 \"\[\]]+", ds.base.duckdb_type(field.type))
    with pytest.raises(TypeError):
        ds.base.duckdb_type(pa.int8())
