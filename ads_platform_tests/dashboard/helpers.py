"""Helpers for the dashboard tests: AppTest runs of a page, expected figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from ads_platform.dashboard.model import parse_number
from ads_platform.dashboard.server import MARTS_ENV
from ads_platform.warehouse import open_marts_readonly
from ads_platform_tests.dashboard.conftest import DashboardWorld

PAGES = Path(__file__).resolve().parents[2] / "ads_platform" / "dashboard" / "views"
APP = PAGES.parent / "app.py"
#: The conversion action types the dbt project counts (dbt_project.yml).
CONVERSION_TYPES = {
    "offsite_conversion.fb_pixel_purchase",
    "offsite_conversion.fb_pixel_lead",
    "complete_registration",
}


def run_page(monkeypatch: pytest.MonkeyPatch, marts: Path, page: str, **params: str) -> AppTest:
    """Run one page as a link with ``params`` in its URL opens it (a fresh session)."""
    monkeypatch.setenv(MARTS_ENV, str(marts))
    at = AppTest.from_file(str(PAGES / f"{page}.py"), default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: str(m.value) for m in at.metric}


def table(at: AppTest, first_column: str) -> Any:
    """The first dataframe on the page whose first column is ``first_column``."""
    for frame in at.dataframe:
        value = frame.value
        if len(value.columns) and value.columns[0] == first_column:
            return value
    raise AssertionError(f"no table starting with {first_column!r} on the page")


def texts(at: AppTest) -> list[str]:
    """Every banner and caption of the page."""
    out: list[str] = []
    for kind in (at.error, at.warning, at.info, at.success, at.caption, at.markdown):
        out += [str(e.value) for e in kind]
    return out


def truth_totals(
    world: DashboardWorld, account_id: str, since: dt.date, until: dt.date
) -> dict[str, Decimal]:
    """The sandbox's own totals for the days (conversions: the configured types only)."""
    out = {
        k: Decimal(0)
        for k in ("spend", "impressions", "link_clicks", "conversions", "conversion_value")
    }
    for day in world.truth(account_id, since, until)["days"]:
        out["spend"] += Decimal(str(day["spend"]))
        out["impressions"] += Decimal(day["impressions"])
        out["link_clicks"] += Decimal(day["link_clicks"])
        out["conversions"] += sum(
            (Decimal(str(v)) for k, v in day["conversions"].items() if k in CONVERSION_TYPES),
            Decimal(0),
        )
        out["conversion_value"] += sum(
            (Decimal(str(v)) for k, v in day["conversion_values"].items() if k in CONVERSION_TYPES),
            Decimal(0),
        )
    return out


def marts_totals(
    marts: Path, account_id: str, since: dt.date, until: dt.date
) -> dict[str, Decimal]:
    """The same totals straight from the marts (rpt_account_daily), in SQL."""
    con = open_marts_readonly(marts)
    try:
        row = con.execute(
            """select coalesce(sum(spend), 0), coalesce(sum(impressions), 0),
                      coalesce(sum(link_clicks), 0), coalesce(sum(conversions), 0),
                      coalesce(sum(conversion_value), 0)
               from rpt_account_daily where account_id = ? and date_day between ? and ?""",
            [account_id, since, until],
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    keys = ("spend", "impressions", "link_clicks", "conversions", "conversion_value")
    return {k: Decimal(str(v)) for k, v in zip(keys, row, strict=True)}


def shown(text: str) -> Decimal | None:
    """A figure as the page shows it (``1,234.56 EUR``) as a number."""
    value = parse_number(text)
    return None if value is None else Decimal(text.split(" ")[0].replace(",", ""))


def matches(text: str, expected: Decimal) -> bool:
    """The page shows ``expected`` rounded to the decimals it displays."""
    value = shown(text)
    if value is None:
        return False
    places = -value.as_tuple().exponent  # type: ignore[operator]
    return value == expected.quantize(Decimal(1).scaleb(-places))
