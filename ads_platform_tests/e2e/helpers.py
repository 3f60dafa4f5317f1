"""Helpers for end-to-end tests: real Dagster runs against the sandbox over HTTP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import dagster as dg
import duckdb

from ads_platform.definitions import defs
from ads_platform.lake import Lake
from ads_platform.orchestration import materialize, range_tags
from ads_platform.partitions import key_for
from ads_platform_tests.conftest import Platform


def setup_accounts(platform: Platform, entities: bool = True) -> None:
    result = materialize(defs, platform.instance, ["ad_accounts"])
    assert result.success
    if entities:
        first, last = platform.accounts[0], platform.accounts[-1]
        result = materialize(
            defs, platform.instance, ["campaigns", "ad_sets", "ads"], tags=range_tags(first, last)
        )
        assert result.success


def ingest(
    platform: Platform, account_id: str, since: dt.date, until: dt.date
) -> dg.ExecuteInProcessResult:
    return materialize(
        defs,
        platform.instance,
        ["ad_insights_daily"],
        tags=range_tags(str(key_for(account_id, since)), str(key_for(account_id, until))),
    )


def lake(platform: Platform) -> Lake:
    return Lake(platform.home / "lake")


def stored_daily_totals(platform: Platform, account_id: str) -> dict[str, dict[str, object]]:
    """Per day: spend, impressions, link clicks and conversions per action type from the lake."""
    glob = str(
        platform.home
        / "lake"
        / "ad_insights_daily"
        / f"account_id={account_id}"
        / "*"
        / "*.parquet"
    )
    con = duckdb.connect()
    rows = con.execute(
        f"""select date_day::varchar, sum(spend), sum(impressions)::bigint,
                   sum(coalesce(link_clicks, 0))::bigint, count(*)
            from read_parquet('{glob}') group by 1 order by 1"""
    ).fetchall()
    actions = con.execute(
        f"""select date_day::varchar, a.action_type, sum(a.value::decimal(38,6))
            from (select date_day, unnest(actions) as a from read_parquet('{glob}'))
            where a.stat = 'actions' and a."window" = 'value'
            group by 1, 2"""
    ).fetchall()
    out: dict[str, dict[str, object]] = {}
    for day, spend, impressions, clicks, n in rows:
        out[day] = {
            "spend": Decimal(spend),
            "impressions": impressions,
            "link_clicks": clicks,
            "rows": n,
            "conversions": {},
        }
    for day, action_type, value in actions:
        out[day]["conversions"][action_type] = Decimal(value)  # type: ignore[index]
    return out


def truth_daily(
    platform: Platform, account_id: str, since: dt.date, until: dt.date
) -> dict[str, dict[str, object]]:
    truth = platform.sandbox.truth(account_id, since, until)
    out: dict[str, dict[str, object]] = {}
    for day in truth["days"]:
        out[day["date"]] = {
            "spend": Decimal(str(day["spend"])).quantize(Decimal("0.01")),
            "impressions": int(day["impressions"]),
            "link_clicks": int(day["link_clicks"]),
            "conversions": {k: Decimal(str(v)) for k, v in day["conversions"].items() if v},
        }
    return out


def materialized_partitions(platform: Platform, asset: str = "ad_insights_daily") -> set[str]:
    return set(platform.instance.get_materialized_partitions(dg.AssetKey(asset)))


def check_evaluations(platform: Platform, run_id: str) -> list[dg.AssetCheckEvaluation]:
    records = platform.instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION), limit=10_000
    )
    out = []
    for record in records:
        if record.run_id != run_id:
            continue
        event = record.event_log_entry.dagster_event
        assert event is not None
        out.append(event.event_specific_data)
    return out  # type: ignore[return-value]
