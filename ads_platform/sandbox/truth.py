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
  + 1d_view) to that count; ``conversion_values`` does the same for the value types.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .clock import ClockView
from .delivery import CLICKS, IMPRESSIONS, LINK_CLICKS, REACH, SPEND
from .insights import InsightsEngine
from .rows import ACTION_TYPES, VALUE_TYPES
from .wire import money_number
from .world import AccountSpec

_W7C, _W1V = 1, 3


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
    for day in range(since.toordinal(), last + 1):
        groups = engine.groups(data, "account", day, day, clock)
        entry: dict[str, Any] = {
            "date": dt.date.fromordinal(day).isoformat(),
            "spend": 0,
            "spend_minor": 0,
            "impressions": 0,
            "link_clicks": 0,
            "clicks": 0,
            "reach": 0,
            "conversions": {},
            "conversion_values": {},
        }
        if groups:
            _, m = groups[0]
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
            entry.update(
                spend=money_number(m[SPEND], decimals),
                spend_minor=m[SPEND],
                impressions=m[IMPRESSIONS],
                link_clicks=m[LINK_CLICKS],
                clicks=m[CLICKS],
                reach=m[REACH],
                conversions=conversions,
                conversion_values=values,
            )
            totals["spend_minor"] += m[SPEND]
            totals["impressions"] += m[IMPRESSIONS]
            totals["clicks"] += m[CLICKS]
            totals["link_clicks"] += m[LINK_CLICKS]
        days.append(entry)
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
    }
