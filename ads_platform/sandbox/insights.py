"""Insights: query parsing, aggregation per level, row formatting and paging.

Every level is computed from the served ad-level records, so account, campaign and
ad set rows are *exact* sums of the ad rows for spend, impressions, clicks, link
clicks and every action count/value. Reach is the exception, as on Graph: it is
deduplicated at each level,

* one day, one group of ads: ``max(max ad reach, floor(sum ad reach x f))`` with
  a stable overlap factor ``f`` in [0.600, 0.900] per (group, day) (a group with
  a single delivering ad keeps that ad's reach);
* several days in one row (no ``time_increment``, or increments > 1): the daily
  reaches of that group combine as ``max(max daily, floor(sum daily x g))`` with
  ``g = 0.35 + 0.65 / sqrt(delivering days)``.

Rows are sorted by date_start, then by the level's id. Paging cursors point at a
(bucket, offset) position, so a page only computes the days it needs.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .clock import ClockView
from .delivery import (
    CLICKS,
    IMPRESSIONS,
    LANDING_PAGE_VIEWS,
    LEAD,
    LINK_CLICKS,
    N_METRICS,
    POST_ENGAGEMENT,
    PURCHASE,
    PURCHASE_VALUE,
    RARE,
    REACH,
    REGISTRATION,
    SPEND,
    Delivery,
    Metrics,
)
from .filters import (
    Filter,
    matches,
    parse_fields,
    parse_filtering,
    parse_json_param,
    parse_string_list,
)
from .hashing import h64
from .wire import GraphError, fmt_money, fmt_ratio, invalid_param
from .world import AccountData, AccountSpec, World

LEVELS = ("account", "campaign", "adset", "ad")
WINDOW_KEYS = ("1d_click", "7d_click", "28d_click", "1d_view")
ACCEPTED_WINDOWS = frozenset({*WINDOW_KEYS, "1d_ev", "7d_view", "28d_view", "default"})
DEFAULT_FIELDS = ("impressions", "spend")
RETENTION_MONTHS = 37

# Synchronous size rule (see too_large()).
SYNC_MAX_AD_LEVEL_DAYS = 93
SYNC_MAX_CELLS = 50_000

# (action_type, metrics offset, is a conversion with 4 window counts)
ACTION_TYPES: tuple[tuple[str, int, bool], ...] = (
    ("link_click", LINK_CLICKS, False),
    ("landing_page_view", LANDING_PAGE_VIEWS, False),
    ("post_engagement", POST_ENGAGEMENT, False),
    ("offsite_conversion.fb_pixel_purchase", PURCHASE, True),
    ("omni_purchase", PURCHASE, True),
    ("offsite_conversion.fb_pixel_lead", LEAD, True),
    ("lead", LEAD, True),
    ("complete_registration", REGISTRATION, True),
    ("onsite_web_purchase", RARE, True),
)
VALUE_TYPES: tuple[tuple[str, int], ...] = (
    ("offsite_conversion.fb_pixel_purchase", PURCHASE_VALUE),
    ("omni_purchase", PURCHASE_VALUE),
)
_W1C, _W7C, _W28C, _W1V = 0, 1, 2, 3
_WINDOW_OFFSET = {"1d_click": _W1C, "7d_click": _W7C, "28d_click": _W28C, "1d_view": _W1V}

Group = tuple[str, Metrics]  # (level id or account digits, summed metrics with level reach)


@dataclass(frozen=True, slots=True)
class InsightQuery:
    """A parsed insights request; everything needed to page it again later."""

    account: AccountSpec
    level: str
    since: dt.date
    until: dt.date
    increment: str
    fields: tuple[str, ...]
    windows: tuple[str, ...]
    filters: tuple[Filter, ...]

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    def buckets(self) -> list[tuple[int, int]]:
        """Inclusive (first, last) ordinal days of each output row period."""
        lo, hi = self.since.toordinal(), self.until.toordinal()
        if self.increment == "all_days":
            return [(lo, hi)]
        if self.increment == "monthly":
            out: list[tuple[int, int]] = []
            start = self.since
            while start <= self.until:
                nxt = (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
                stop = min(self.until, nxt - dt.timedelta(days=1))
                out.append((start.toordinal(), stop.toordinal()))
                start = nxt
            return out
        step = int(self.increment)
        return [(d, min(hi, d + step - 1)) for d in range(lo, hi + 1, step)]


def _parse_date(value: Any, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise invalid_param(f"{name} must be a date in YYYY-MM-DD format") from exc


def _preset_range(preset: str, today: dt.date) -> tuple[dt.date, dt.date]:
    yesterday = today - dt.timedelta(days=1)
    if preset == "today":
        return today, today
    if preset == "yesterday":
        return yesterday, yesterday
    if preset.startswith("last_") and preset.endswith("d") and preset[5:-1].isdigit():
        n = int(preset[5:-1])
        if n in (3, 7, 14, 28, 30, 90):
            return yesterday - dt.timedelta(days=n - 1), yesterday
    if preset == "this_month":
        return today.replace(day=1), today
    if preset == "last_month":
        last = today.replace(day=1) - dt.timedelta(days=1)
        return last.replace(day=1), last
    if preset == "maximum":
        return _months_back(today, RETENTION_MONTHS), today
    raise invalid_param(f"date_preset {preset!r} is not supported by the sandbox")


def _months_back(day: dt.date, months: int) -> dt.date:
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    return dt.date(year, month + 1, 1)


def parse_query(params: dict[str, str], account: AccountSpec, clock: ClockView) -> InsightQuery:
    """Validate an insights request the way Graph does (code 100 on bad params)."""
    level = params.get("level", "account")
    if level not in LEVELS:
        raise invalid_param(f"level must be one of {', '.join(LEVELS)}")
    today = clock.account_today(account.tz)
    if params.get("time_range"):
        value = parse_json_param(params["time_range"], "time_range")
        if not isinstance(value, dict) or "since" not in value or "until" not in value:
            raise invalid_param("time_range must be an object with since and until")
        since = _parse_date(value["since"], "since")
        until = _parse_date(value["until"], "until")
    else:
        since, until = _preset_range(params.get("date_preset", "last_30d"), today)
    if since > until:
        raise invalid_param("since must be on or before until in time_range")
    if since < _months_back(today, RETENTION_MONTHS):
        raise GraphError(
            "(#3018) The start date of the time range cannot be beyond 37 months from the "
            "current date",
            code=3018,
        )
    increment = params.get("time_increment", "all_days").strip().lower()
    if increment not in ("all_days", "monthly"):
        if not increment.isdigit() or not 1 <= int(increment) <= 90:
            raise invalid_param("time_increment must be 1..90, monthly or all_days")
        increment = str(int(increment))
    fields = parse_fields(params.get("fields"))
    windows = parse_string_list(
        params.get("action_attribution_windows"), "action_attribution_windows"
    )
    for w in windows or ():
        if w not in ACCEPTED_WINDOWS:
            raise invalid_param(f"{w} is not a valid action attribution window")
    filters = parse_filtering(params.get("filtering"))
    for f in filters:
        if f.prefix not in (None, "ad", "adset", "campaign") or f.name not in (
            "effective_status",
            "id",
        ):
            raise invalid_param(
                f"Filtering field {f.field} is not supported by the sandbox insights "
                "(supported: ad./adset./campaign. effective_status and id)"
            )
    return InsightQuery(
        account=account,
        level=level,
        since=since,
        until=until,
        increment=increment,
        fields=tuple(fields) if fields is not None else DEFAULT_FIELDS,
        windows=tuple(windows or ()),
        filters=tuple(filters),
    )


def too_large(query: InsightQuery, data: AccountData) -> bool:
    """The sandbox's rule for refusing a *synchronous* request (100/1504018).

    Refused when the level is ``ad`` and the range is longer than 93 days, or when
    days x entities at the level (ads, ad sets, campaigns, or 1 for the account)
    exceeds 50,000. Async report runs are never refused.
    """
    entities = {
        "account": 1,
        "campaign": len(data.campaigns),
        "adset": len(data.adsets),
        "ad": len(data.ads),
    }[query.level]
    if query.level == "ad" and query.days > SYNC_MAX_AD_LEVEL_DAYS:
        return True
    return query.days * entities > SYNC_MAX_CELLS


def overlap_per_mille(seed: int, group: str, day: int) -> int:
    return 600 + h64(seed, "overlap", group, day) % 301


def combine_reach(daily: list[int]) -> int:
    if len(daily) == 1:
        return daily[0]
    g = 0.35 + 0.65 / math.sqrt(len(daily))
    return max(max(daily), int(sum(daily) * g))


class InsightsEngine:
    """Computes grouped rows per bucket (memoized) and formats pages."""

    def __init__(self, world: World, delivery: Delivery, cache_size: int = 512) -> None:
        self.world = world
        self.delivery = delivery
        self._cache: OrderedDict[tuple[Any, ...], list[Group]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    # -- grouping ------------------------------------------------------------------

    def _key_fn(self, data: AccountData, level: str) -> Callable[[int], str]:
        ads = data.ads
        if level == "ad":
            return lambda pos: ads[pos].id
        if level == "adset":
            return lambda pos: ads[pos].adset_id or ""
        if level == "campaign":
            return lambda pos: ads[pos].campaign_id or ""
        digits = data.spec.digits
        return lambda pos: digits

    def _allowed(
        self, data: AccountData, filters: tuple[Filter, ...], clock: ClockView
    ) -> frozenset[int] | None:
        if not filters:
            return None
        instant = clock.instant
        allowed: set[int] = set()
        for pos, ad in enumerate(data.ads):
            keep = True
            for f in filters:
                target = ad
                if f.prefix == "adset" and ad.adset_id:
                    target = data.by_id[ad.adset_id]
                elif f.prefix == "campaign" and ad.campaign_id:
                    target = data.by_id[ad.campaign_id]
                value = (
                    data.effective_status(target, instant)
                    if f.name == "effective_status"
                    else target.id
                )
                if not matches(value, f.operator, f.value):
                    keep = False
                    break
            if keep:
                allowed.add(pos)
        return frozenset(allowed)

    def groups(
        self,
        data: AccountData,
        level: str,
        first: int,
        last: int,
        clock: ClockView,
        filters: tuple[Filter, ...] = (),
    ) -> list[Group]:
        """Rows (unformatted) of one bucket: level id + summed metrics, sorted by id."""
        key = (data.spec.index, level, first, last, clock.utc_date, repr(filters))
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        result = self._compute(data, level, first, last, clock, self._allowed(data, filters, clock))
        with self._lock:
            self._cache[key] = result
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result

    def _compute(
        self,
        data: AccountData,
        level: str,
        first: int,
        last: int,
        clock: ClockView,
        allowed: frozenset[int] | None,
    ) -> list[Group]:
        last = min(last, clock.account_today(data.spec.tz).toordinal())
        ads = data.ads
        if level == "ad" and first == last:
            served = self.delivery.served_day(data, first, clock)
            return [(ads[pos].id, m) for pos, m in served if allowed is None or pos in allowed]
        key_of = self._key_fn(data, level)
        seed = self.world.seed
        sums: dict[str, list[int]] = {}
        daily_reach: dict[str, list[int]] = {}
        for day in range(first, last + 1):
            day_reach: dict[str, list[int]] = {}
            for pos, m in self.delivery.served_day(data, day, clock):
                if allowed is not None and pos not in allowed:
                    continue
                g = key_of(pos)
                acc = sums.get(g)
                sums[g] = list(m) if acc is None else [a + b for a, b in zip(acc, m, strict=True)]
                r = m[REACH]
                stats = day_reach.get(g)
                if stats is None:
                    day_reach[g] = [r, r, 1]
                else:
                    stats[0] += r
                    stats[1] = max(stats[1], r)
                    stats[2] += 1
            for g, (total, biggest, count) in day_reach.items():
                reach = (
                    total
                    if count == 1
                    else max(biggest, total * overlap_per_mille(seed, g, day) // 1000)
                )
                daily_reach.setdefault(g, []).append(reach)
        out: list[Group] = []
        for g in sorted(sums):
            metrics = sums[g]
            metrics[REACH] = combine_reach(daily_reach[g])
            out.append((g, tuple(metrics)))
        return out

    # -- paging --------------------------------------------------------------------

    def page(
        self,
        query: InsightQuery,
        clock: ClockView,
        position: tuple[int, int],
        limit: int,
        *,
        zeros: bool = False,
    ) -> tuple[list[dict[str, Any]], tuple[int, int] | None]:
        """Rows from ``position`` (bucket, offset) and the position of the next row, if any."""
        data = self.world.data(query.account)
        buckets = query.buckets()
        rows: list[dict[str, Any]] = []
        b, o = position
        while b < len(buckets) and len(rows) < limit:
            first, last = buckets[b]
            groups = self.groups(data, query.level, first, last, clock, query.filters)
            take = groups[o : o + limit - len(rows)]
            rows.extend(
                self.format_row(query, data, g, m, first, last, clock, zeros) for g, m in take
            )
            o += len(take)
            if o >= len(groups):
                b, o = b + 1, 0
        while b < len(buckets):
            first, last = buckets[b]
            if o < len(self.groups(data, query.level, first, last, clock, query.filters)):
                return rows, (b, o)
            b, o = b + 1, 0
        return rows, None

    # -- formatting ----------------------------------------------------------------

    def format_row(
        self,
        query: InsightQuery,
        data: AccountData,
        group: str,
        m: Metrics,
        first: int,
        last: int,
        clock: ClockView,
        zeros: bool,
    ) -> dict[str, Any]:
        spec = data.spec
        level = query.level
        fields = set(query.fields)
        instant = clock.instant
        if zeros:
            m = (0,) * N_METRICS
        row: dict[str, Any] = {"account_id": spec.digits}
        if "account_name" in fields:
            row["account_name"] = spec.name
        if "account_currency" in fields:
            row["account_currency"] = spec.currency
        if level != "account":
            entity = data.by_id[group]
            campaign = data.by_id[entity.campaign_id] if entity.campaign_id else entity
            row["campaign_id"] = campaign.id
            if "campaign_name" in fields:
                row["campaign_name"] = campaign.name_at(instant)
            if level in ("adset", "ad"):
                adset = data.by_id[entity.adset_id] if entity.adset_id else entity
                row["adset_id"] = adset.id
                if "adset_name" in fields:
                    row["adset_name"] = adset.name_at(instant)
            if level == "ad":
                row["ad_id"] = entity.id
                if "ad_name" in fields:
                    row["ad_name"] = entity.name_at(instant)
            if "objective" in fields:
                row["objective"] = campaign.objective
        decimals = spec.decimals
        spend, impressions, reach = m[SPEND], m[IMPRESSIONS], m[REACH]
        clicks, link = m[CLICKS], m[LINK_CLICKS]
        omit_reach = (
            level == "ad" and not zeros and h64(self.world.seed, "no-reach", group, first) % 40 == 0
        )
        major = spend / 10**decimals
        if "impressions" in fields:
            row["impressions"] = str(impressions)
        if "reach" in fields and not omit_reach:
            row["reach"] = str(reach)
        if "frequency" in fields and not omit_reach:
            row["frequency"] = fmt_ratio(impressions / reach) if reach else "0"
        if "clicks" in fields:
            row["clicks"] = str(clicks)
        if "inline_link_clicks" in fields:
            row["inline_link_clicks"] = str(link)
        if "spend" in fields:
            row["spend"] = fmt_money(spend, decimals)
        if "cpc" in fields and (clicks or zeros):
            row["cpc"] = fmt_ratio(major / clicks) if clicks else "0"
        if "cpm" in fields and (impressions or zeros):
            row["cpm"] = fmt_ratio(major * 1000 / impressions) if impressions else "0"
        if "ctr" in fields and (impressions or zeros):
            row["ctr"] = fmt_ratio(clicks * 100 / impressions) if impressions else "0"
        if "cost_per_inline_link_click" in fields and link:
            row["cost_per_inline_link_click"] = fmt_ratio(major / link)
        if "inline_link_click_ctr" in fields and impressions:
            row["inline_link_click_ctr"] = fmt_ratio(link * 100 / impressions)
        if "actions" in fields and not zeros:
            actions = self._actions(m, query.windows, group, first)
            if actions:
                row["actions"] = actions
        if "action_values" in fields and not zeros:
            values = self._values(m, query.windows, group, first, decimals)
            if values:
                row["action_values"] = values
        row["date_start"] = dt.date.fromordinal(first).isoformat()
        row["date_stop"] = dt.date.fromordinal(last).isoformat()
        return row

    def _keep_zero_window(self, group: str, first: int, action_type: str, key: str) -> bool:
        """A zero-valued window key is omitted on about half the elements (missing = 0)."""
        return h64(self.world.seed, "win", group, first, action_type, key) % 2 == 0

    def _actions(
        self, m: Metrics, windows: tuple[str, ...], group: str, first: int
    ) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for action_type, offset, is_conversion in ACTION_TYPES:
            if is_conversion:
                counts = m[offset : offset + 4]
                value = counts[_W7C] + counts[_W1V]
            else:
                value = m[offset]
                counts = (value, value, value, 0)
            element = {"action_type": action_type, "value": str(value)}
            any_window = False
            for key in windows:
                idx = _WINDOW_OFFSET.get(key)
                if idx is None or (not is_conversion and key == "1d_view"):
                    continue
                n = counts[idx]
                any_window = any_window or n > 0
                if n > 0 or self._keep_zero_window(group, first, action_type, key):
                    element[key] = str(n)
            if value > 0 or any_window:
                out.append(element)
        return out

    def _values(
        self, m: Metrics, windows: tuple[str, ...], group: str, first: int, decimals: int
    ) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for action_type, offset in VALUE_TYPES:
            money = m[offset : offset + 4]
            value = money[_W7C] + money[_W1V]
            element = {"action_type": action_type, "value": fmt_money(value, decimals)}
            any_window = False
            for key in windows:
                idx = _WINDOW_OFFSET.get(key)
                if idx is None:
                    continue
                n = money[idx]
                any_window = any_window or n > 0
                if n > 0 or self._keep_zero_window(group, first, "v:" + action_type, key):
                    element[key] = fmt_money(n, decimals)
            if value > 0 or any_window:
                out.append(element)
        return out
