"""Ground truth: what the sandbox serves, per account-local day, as plain numbers.

Tests compare the platform's marts against this. It is computed with the same
code that serves insights, at the *current* clock, with faults ignored (a
``zeros`` fault is exactly what the platform must not let into the marts):

* one entry per account-local day from ``since`` to ``min(until, account today)``,
  days without delivery included with zeros (days after the account's today are
  omitted, as insights has no rows for them);
* spend, impressions, clicks, link_clicks (= inline_link_clicks) are exact sums of
  the ad-level rows; ``spend_minor`` is the same in integer minor units;
* reach is the account-level daily reach (level=account, time_increment=1);
* ``conversions`` maps every action type with a nonzero default ``value`` (7d_click
  + 1d_view) to that count; ``conversion_values`` does the same for the value types,
  values without counts included (they are conversion value like any other);
* ``values_without_counts`` lists every (day, ad, action type) whose ad-day row has
  an ``action_values`` element but no ``actions`` element of that type (no count in
  any window): ``date``, ``ad_id``, ``action_type``, ``value`` (the default
  attribution) and each window's value, as numbers, so a test can find those ad-days
  in the marts and check that their value is kept and no count is invented;
* ``breakdown_truth`` gives the same figures per breakdown value and day
  (level=account), with the unbroken day beside them and the first ``since`` for
  which breakdown queries still carry reach (``unique_fields_since``);
* ``video`` holds plays, p25..p100, thruplays and watch_seconds (sums; the average
  watch time is watch_seconds / plays, weighted by plays by construction);
* ``reach_truth`` gives the deduplicated reach of every account, campaign, ad set or ad
  over one whole range (what ``level=…`` with that ``time_range`` and no increment
  serves, reach included even where the API omits it), with each entity's daily reach
  beside it: the range's reach lies between the largest day and the sum of the days;
* ``passthrough_truth`` gives the extra fields (``rows.EXTRA_FIELDS``) of every ad-day
  row an ad-level daily query serves, as numbers (text as served); a field the row
  omits is absent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .breakdowns import Breakdown, unique_cutoff
from .clock import ClockView
from .delivery import (
    CLICKS,
    IMPRESSIONS,
    LINK_CLICKS,
    N_METRICS,
    REACH,
    SPEND,
    VIDEO_P25,
    VIDEO_P50,
    VIDEO_P75,
    VIDEO_P95,
    VIDEO_P100,
    VIDEO_PLAYS,
    VIDEO_THRUPLAYS,
    VIDEO_WATCH_SECONDS,
    Metrics,
)
from .insights import LEVELS, Group, InsightsEngine
from .rows import ACTION_TYPES, EXTRA_FIELDS, VALUE_TYPES, WINDOW_INDEX, RowFormatter
from .wire import money_number
from .world import AccountSpec

_W7C, _W1V = 1, 3


def _numbers(m: Metrics, decimals: int) -> dict[str, Any]:
    """The additive figures of one metrics tuple, as the truth reports them."""
    conversions: dict[str, int] = {}
    for action_type, offset, is_conversion in ACTION_TYPES:
        value = m[offset + _W7C] + m[offset + _W1V] if is_conversion else m[offset]
        if value:
            conversions[action_type] = value
    values: dict[str, int | float] = {}
    for action_type, offset in VALUE_TYPES:
        money = m[offset + _W7C] + m[offset + _W1V]
        if money:
            values[action_type] = money_number(money, decimals)
    return {
        "spend": money_number(m[SPEND], decimals),
        "spend_minor": m[SPEND],
        "impressions": m[IMPRESSIONS],
        "link_clicks": m[LINK_CLICKS],
        "clicks": m[CLICKS],
        "reach": m[REACH],
        "conversions": conversions,
        "conversion_values": values,
        "video": {
            "plays": m[VIDEO_PLAYS],
            "p25": m[VIDEO_P25],
            "p50": m[VIDEO_P50],
            "p75": m[VIDEO_P75],
            "p95": m[VIDEO_P95],
            "p100": m[VIDEO_P100],
            "thruplays": m[VIDEO_THRUPLAYS],
            "watch_seconds": m[VIDEO_WATCH_SECONDS],
        },
    }


_EMPTY: Metrics = (0,) * N_METRICS
_COUNT_OFFSET = {action_type: offset for action_type, offset, _ in ACTION_TYPES}


def _values_without_counts(ads: list[Group], decimals: int) -> list[dict[str, Any]]:
    """The (ad, value type) pairs of one day whose row lists a value but no count."""
    out: list[dict[str, Any]] = []
    for ad_id, _, m in ads:
        for action_type, offset in VALUE_TYPES:
            count = _COUNT_OFFSET[action_type]
            money = m[offset : offset + 4]
            if any(m[count : count + 4]) or not any(money):
                continue
            entry: dict[str, Any] = {
                "ad_id": ad_id,
                "action_type": action_type,
                "value": money_number(money[_W7C] + money[_W1V], decimals),
            }
            for window, idx in WINDOW_INDEX.items():
                entry[window] = money_number(money[idx], decimals)
            out.append(entry)
    return out


def ground_truth(
    engine: InsightsEngine,
    account: AccountSpec,
    since: dt.date,
    until: dt.date,
    clock: ClockView,
) -> dict[str, Any]:
    data = engine.world.data(account)
    decimals = account.decimals
    last = min(until.toordinal(), clock.account_today(account.tz).toordinal())
    days: list[dict[str, Any]] = []
    totals = {"spend_minor": 0, "impressions": 0, "clicks": 0, "link_clicks": 0}
    value_only: list[dict[str, Any]] = []
    for day in range(since.toordinal(), last + 1):
        groups = engine.groups(data, "account", day, day, clock)
        m = groups[0][2] if groups else _EMPTY
        date = dt.date.fromordinal(day).isoformat()
        days.append({"date": date, **_numbers(m, decimals)})
        ads = engine.groups(data, "ad", day, day, clock)
        value_only += ({"date": date, **v} for v in _values_without_counts(ads, decimals))
        totals["spend_minor"] += m[SPEND]
        totals["impressions"] += m[IMPRESSIONS]
        totals["clicks"] += m[CLICKS]
        totals["link_clicks"] += m[LINK_CLICKS]
    return {
        "account_id": account.id,
        "currency": account.currency,
        "timezone_name": account.timezone_name,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "clock_utc_date": clock.utc_date.isoformat(),
        "account_today": clock.account_today(account.tz).isoformat(),
        "days": days,
        "totals": {
            "spend": money_number(totals["spend_minor"], decimals),
            **totals,
        },
        "values_without_counts": value_only,
    }


def breakdown_truth(
    engine: InsightsEngine,
    account: AccountSpec,
    since: dt.date,
    until: dt.date,
    breakdown: Breakdown,
    clock: ClockView,
) -> dict[str, Any]:
    """Account-level daily figures per breakdown value, next to the unbroken totals.

    ``rows`` hold one entry per value with delivery (the API's rows at
    level=account, time_increment=1, reach included even where the API omits it);
    ``total`` is the unbroken day, so a reconciliation can report both figures (they
    are equal unless the sandbox runs with ``breakdown_drift_per_mille``).
    """
    data = engine.world.data(account)
    decimals = account.decimals
    values = engine.splitter.cells.projection(account, breakdown)[1]
    today = clock.account_today(account.tz)
    last = min(until.toordinal(), today.toordinal())
    days: list[dict[str, Any]] = []
    for day in range(since.toordinal(), last + 1):
        plain = engine.groups(data, "account", day, day, clock)
        broken = engine.groups(data, "account", day, day, clock, breakdown=breakdown)
        rows = [
            {**dict(zip(breakdown.dims, values[cell], strict=True)), **_numbers(m, decimals)}
            for _, cell, m in broken
        ]
        days.append(
            {
                "date": dt.date.fromordinal(day).isoformat(),
                "total": _numbers(plain[0][2] if plain else _EMPTY, decimals),
                "rows": rows,
            }
        )
    return {
        "account_id": account.id,
        "currency": account.currency,
        "breakdowns": list(breakdown.dims),
        "since": since.isoformat(),
        "until": until.isoformat(),
        "account_today": today.isoformat(),
        "unique_fields_since": unique_cutoff(today).isoformat(),
        "drift_per_mille": engine.splitter.drift,
        "days": days,
    }


def reach_truth(
    engine: InsightsEngine,
    account: AccountSpec,
    since: dt.date,
    until: dt.date,
    level: str,
    clock: ClockView,
) -> dict[str, Any]:
    """Reach over exactly ``since``..``until`` per entity of ``level``, and per day.

    ``rows`` hold one entry per entity with delivery in the range, in the API's order:
    its ids (``campaign_id``, ``adset_id``, ``ad_id`` as far as the level has them),
    ``reach`` and ``impressions`` for the whole range, and ``daily_reach`` (one value
    per delivering day). The range is cut at the account's today, as insights cuts it.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    data = engine.world.data(account)
    today = clock.account_today(account.tz)
    first, last = since.toordinal(), min(until.toordinal(), today.toordinal())
    daily: dict[str, list[int]] = {}
    for day in range(first, last + 1):
        for group, _, m in engine.groups(data, level, day, day, clock):
            daily.setdefault(group, []).append(m[REACH])
    rows: list[dict[str, Any]] = []
    for group, _, m in engine.groups(data, level, first, last, clock) if first <= last else []:
        ids: dict[str, str] = {}
        if level != "account":
            entity = data.by_id[group]
            ids["campaign_id"] = entity.campaign_id or entity.id
            if level != "campaign":
                ids["adset_id"] = entity.adset_id or entity.id
            if level == "ad":
                ids["ad_id"] = entity.id
        rows.append(
            {**ids, "reach": m[REACH], "impressions": m[IMPRESSIONS], "daily_reach": daily[group]}
        )
    return {
        "account_id": account.id,
        "level": level,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "account_today": today.isoformat(),
        "rows": rows,
    }


_READ = {"count": int, "number": float, "text": str}


def passthrough_truth(
    engine: InsightsEngine,
    account: AccountSpec,
    since: dt.date,
    until: dt.date,
    fields: list[str],
    clock: ClockView,
) -> dict[str, Any]:
    """Per day, per ad: the requested extra fields as ``level=ad, time_increment=1`` serves
    them (formatted by the serving code, read back as plain numbers)."""
    unknown = sorted(set(fields) - set(EXTRA_FIELDS))
    if unknown:
        raise ValueError(f"the sandbox does not model {unknown} (it models {sorted(EXTRA_FIELDS)})")
    data = engine.world.data(account)
    formatter = RowFormatter(
        level="ad",
        fields=tuple(fields),
        windows=(),
        data=data,
        clock=clock,
        seed=engine.world.seed,
        zeros=False,
    )
    last = min(until.toordinal(), clock.account_today(account.tz).toordinal())
    days: list[dict[str, Any]] = []
    for day in range(since.toordinal(), last + 1):
        ads: dict[str, dict[str, Any]] = {}
        for group, cell, m in engine.groups(data, "ad", day, day, clock):
            row = formatter.row(group, m, day, day, cell)
            ads[group] = {f: _READ[EXTRA_FIELDS[f]](row[f]) for f in fields if f in row}
        days.append({"date": dt.date.fromordinal(day).isoformat(), "ads": ads})
    return {"account_id": account.id, "fields": list(fields), "days": days}
