"""Insights: query parsing, aggregation per level and paging (formatting: ``rows.py``).

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

With ``breakdowns`` (``breakdowns.py``) each ad-day is first split into the
family's cells; every level then sums the cells the same way, and reach is
deduplicated per (group, breakdown value, day) with the same rule and its own
stable factor: never summed across values. Reach and frequency are omitted when a
breakdown query starts more than 13 months before the account's today.

Rows are sorted by date_start, then by the level's id, then by breakdown value (in
the order of ``breakdowns.py``'s tables). Paging cursors point at a (bucket, offset)
position, so a page only computes the days it needs.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .breakdowns import PLACEMENT, Breakdown, Splitter, parse_breakdowns, unique_cutoff
from .breakdowns import placement_overlap_per_mille as placement_overlap
from .clock import ClockView
from .delivery import IMPRESSIONS, REACH, Delivery, Metrics
from .filters import (
    Filter,
    date_range,
    matches,
    parse_bool,
    parse_enum,
    parse_fields,
    parse_filtering,
    parse_string_list,
    parse_time_range,
    parse_time_ranges,
)
from .rows import RowFormatter, mix64
from .vocabulary import (
    ACTION_BREAKDOWNS,
    ACTION_REPORT_TIMES,
    ATTRIBUTION_WINDOWS,
    BREAKDOWNS,
    DATE_PRESETS,
    INSIGHT_FIELDS,
)
from .wire import GraphError, invalid_param
from .world import AccountData, AccountSpec, World

LEVELS = ("account", "campaign", "adset", "ad")
WINDOW_KEYS = ("1d_click", "7d_click", "28d_click", "1d_view")
DEFAULT_FIELDS = ("impressions", "spend")
FIELDS_DOC = "https://developers.facebook.com/docs/marketing-api/reference/ads-insights/"
RETENTION_MONTHS = 37

# Synchronous size rule (see too_large()).
SYNC_MAX_AD_LEVEL_DAYS = 93
SYNC_MAX_CELLS = 50_000

#: (level id or account digits, breakdown cell index (0 without breakdowns), summed
#: metrics with the level's reach)
Group = tuple[str, int, Metrics]


DateRange = tuple[dt.date, dt.date]


@dataclass(frozen=True, slots=True)
class InsightQuery:
    """A parsed insights request; everything needed to page it again later.

    ``ranges`` holds one (since, until) pair per requested time range: one for
    ``time_range``, ``since``/``until`` and ``date_preset``, one per element of
    ``time_ranges``. Rows come range by range, each range cut by ``increment``.
    """

    account: AccountSpec
    level: str
    ranges: tuple[DateRange, ...]
    increment: str
    fields: tuple[str, ...]
    windows: tuple[str, ...]
    filters: tuple[Filter, ...]
    breakdown: Breakdown | None = None
    unique: bool = True  # reach/frequency returned (False: old breakdown query)

    @property
    def since(self) -> dt.date:
        return min(r[0] for r in self.ranges)

    @property
    def until(self) -> dt.date:
        return max(r[1] for r in self.ranges)

    @property
    def days(self) -> int:
        """Account-days the query covers (overlapping ranges count twice, as they cost twice)."""
        return sum((until - since).days + 1 for since, until in self.ranges)

    def buckets(self) -> list[tuple[int, int]]:
        """Inclusive (first, last) ordinal days of each output row period, range by range."""
        return [b for since, until in self.ranges for b in self._cut(since, until)]

    def _cut(self, since: dt.date, until: dt.date) -> list[tuple[int, int]]:
        lo, hi = since.toordinal(), until.toordinal()
        if self.increment == "all_days":
            return [(lo, hi)]
        if self.increment == "monthly":
            out: list[tuple[int, int]] = []
            start = since
            while start <= until:
                nxt = (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
                stop = min(until, nxt - dt.timedelta(days=1))
                out.append((start.toordinal(), stop.toordinal()))
                start = nxt
            return out
        step = int(self.increment)
        return [(d, min(hi, d + step - 1)) for d in range(lo, hi + 1, step)]


def _preset_range(preset: str, today: dt.date) -> DateRange:
    """Every ``date_preset`` Meta lists, in the account's calendar (weeks, quarters too)."""
    yesterday = today - dt.timedelta(days=1)
    if preset == "today":
        return today, today
    if preset == "yesterday":
        return yesterday, yesterday
    if preset.startswith("last_") and preset.endswith("d") and preset[5:-1].isdigit():
        n = int(preset[5:-1])
        return yesterday - dt.timedelta(days=n - 1), yesterday
    if "_week_" in preset:  # this_week_mon_today, last_week_sun_sat...
        back = today.weekday() if "_mon_" in preset else (today.weekday() + 1) % 7
        week_start = today - dt.timedelta(days=back)
        if preset.startswith("this_week"):
            return week_start, today
        return week_start - dt.timedelta(days=7), week_start - dt.timedelta(days=1)
    if preset == "this_month":
        return today.replace(day=1), today
    if preset == "last_month":
        last = today.replace(day=1) - dt.timedelta(days=1)
        return last.replace(day=1), last
    quarter_start = today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1)
    if preset == "this_quarter":
        return quarter_start, today
    if preset == "last_quarter":
        last = quarter_start - dt.timedelta(days=1)
        return last.replace(month=3 * ((last.month - 1) // 3) + 1, day=1), last
    if preset == "this_year":
        return today.replace(month=1, day=1), today
    if preset == "last_year":
        return dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)
    # maximum, data_maximum: everything retention keeps
    return _months_back(today, RETENTION_MONTHS), today


def _months_back(day: dt.date, months: int) -> dt.date:
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    return dt.date(year, month + 1, 1)


def _ranges(params: dict[str, str], today: dt.date) -> tuple[list[DateRange], bool]:
    """The requested ranges and whether they came from ``time_ranges``.

    Precedence: ``time_ranges`` over ``time_range`` over ``since``/``until`` over
    ``date_preset`` (Meta's reference ignores ``date_preset`` when a range is given;
    the order between the range forms is the sandbox's choice). Nothing at all means
    ``last_30d``, Meta's default.
    """
    many = parse_time_ranges(params.get("time_ranges"))
    if many is not None:
        return many, True
    one = parse_time_range(params.get("time_range"))
    if one is not None:
        return [one], False
    since, until = params.get("since", "").strip(), params.get("until", "").strip()
    if since or until:
        if not (since and until):
            raise invalid_param("since and until must be given together (YYYY-MM-DD)")
        return [date_range({"since": since, "until": until}, "since/until")], False
    preset = parse_enum(params.get("date_preset"), "date_preset", DATE_PRESETS) or "last_30d"
    return [_preset_range(preset, today)], False


def _check_retention(ranges: list[DateRange], today: dt.date) -> None:
    oldest = _months_back(today, RETENTION_MONTHS)
    if min(since for since, _ in ranges) < oldest:
        raise GraphError(
            "(#3018) The start date of the time range cannot be beyond 37 months from the "
            "current date",
            code=3018,
        )


def _increment(raw: str | None) -> str:
    increment = (raw or "all_days").strip().strip('"').lower()
    if increment in ("all_days", "monthly"):
        return increment
    if not increment.isdigit() or not 1 <= int(increment) <= 90:
        raise invalid_param("time_increment must be 1..90, monthly or all_days")
    return str(int(increment))


def _insight_fields(raw: str | None) -> tuple[str, ...]:
    """Requested fields; names Meta does not know are refused all at once, as Meta does."""
    fields = parse_fields(raw)
    if fields is None:
        return DEFAULT_FIELDS
    unknown = [f for f in fields if f not in INSIGHT_FIELDS]
    if unknown:
        verb = "is" if len(unknown) == 1 else "are"
        raise invalid_param(
            f"{', '.join(unknown)} {verb} not valid for fields param. please check "
            f"{FIELDS_DOC} for all valid values"
        )
    return tuple(fields)


def _breakdowns(params: dict[str, str]) -> Breakdown | None:
    """Validate breakdown parameters; the modelled breakdown, if any.

    ``action_breakdowns`` only shape the keys inside action elements: every valid
    value is accepted and elements keep ``action_type`` (the default breakdown).
    ``breakdowns`` must be a combination Meta accepts and the sandbox models
    (``breakdowns.ACCEPTED``); others are refused with code 100 rather than answered
    with rows that silently lack the breakdown.
    """
    actions = parse_string_list(
        params.get("action_breakdowns"), "action_breakdowns", ACTION_BREAKDOWNS
    )
    wanted = parse_string_list(params.get("breakdowns"), "breakdowns", BREAKDOWNS)
    return parse_breakdowns(wanted, actions)


def parse_query(params: dict[str, str], account: AccountSpec, clock: ClockView) -> InsightQuery:
    """Validate an insights request the way Graph does (code 100 on bad params).

    The same parser serves synchronous requests, async report creation (query string
    or form body) and batch items, so every route understands the same encodings.
    With ``time_ranges`` each range is one row period and ``time_increment`` is
    ignored (how we read Meta's reference; the sandbox's documented semantics): rows
    come range by range, each carrying its range's ``date_start``/``date_stop``.
    tap-facebook sends one single-day range with ``time_increment=1``, for which
    either reading gives the same rows.
    """
    level = parse_enum(params.get("level"), "level", frozenset(LEVELS)) or "account"
    today = clock.account_today(account.tz)
    ranges, from_list = _ranges(params, today)
    _check_retention(ranges, today)
    increment = "all_days" if from_list else _increment(params.get("time_increment"))
    fields = _insight_fields(params.get("fields"))
    windows = parse_string_list(
        params.get("action_attribution_windows"),
        "action_attribution_windows",
        ATTRIBUTION_WINDOWS,
    )
    breakdown = _breakdowns(params)
    parse_enum(params.get("action_report_time"), "action_report_time", ACTION_REPORT_TIMES)
    for flag in ("use_unified_attribution_setting", "use_account_attribution_setting"):
        parse_bool(params.get(flag), flag)
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
        ranges=tuple(ranges),
        increment=increment,
        fields=fields,
        windows=tuple(w for w in windows or () if w in WINDOW_KEYS),
        filters=tuple(filters),
        breakdown=breakdown,
        unique=breakdown is None or min(r[0] for r in ranges) >= unique_cutoff(today),
    )


def too_large(query: InsightQuery, data: AccountData, breakdown_values: int = 1) -> bool:
    """The sandbox's rule for refusing a *synchronous* request (100/1504018).

    Refused when the level is ``ad`` and the range is longer than 93 days, or when
    days x entities at the level (ads, ad sets, campaigns, or 1 for the account)
    x ``breakdown_values`` (how many values the query's breakdowns have, 1 without)
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
    return query.days * entities * breakdown_values > SYNC_MAX_CELLS


def overlap_per_mille(seed: int, group: str, day: int, cell: int | None = None) -> int:
    if cell is None:
        return 600 + mix64(seed, 0x0E, int(group), day) % 301
    return 600 + mix64(seed, 0x0E, int(group), day, cell) % 301


def combine_reach(daily: list[int]) -> int:
    if len(daily) == 1:
        return daily[0]
    g = 0.35 + 0.65 / math.sqrt(len(daily))
    return max(max(daily), int(sum(daily) * g))


class InsightsEngine:
    """Computes grouped rows per bucket (memoized) and formats pages."""

    def __init__(
        self,
        world: World,
        delivery: Delivery,
        cache_size: int = 256,
        *,
        splitter: Splitter | None = None,
    ) -> None:
        self.world = world
        self.delivery = delivery
        self.splitter = splitter if splitter is not None else Splitter(world.seed)
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
        breakdown: Breakdown | None = None,
    ) -> list[Group]:
        """Rows (unformatted) of one bucket: level id, cell, summed metrics, sorted."""
        bd_key = None if breakdown is None else (breakdown.family, breakdown.key)
        key = (data.spec.index, level, first, last, clock.utc_date, repr(filters), bd_key)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        allowed = self._allowed(data, filters, clock)
        if breakdown is None:
            result = self._compute(data, level, first, last, clock, allowed)
        else:
            result = self._compute_broken(data, level, first, last, clock, allowed, breakdown)
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
            return [(ads[pos].id, 0, m) for pos, m in served if allowed is None or pos in allowed]
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
            out.append((g, 0, tuple(metrics)))
        return out

    def _cells_of_ad_day(
        self, data: AccountData, pos: int, day: int, m: Metrics, breakdown: Breakdown
    ) -> list[tuple[int, list[int]]]:
        """One ad-day projected on the query's breakdown: (cell, metrics) with delivery."""
        spec = data.spec
        splitter = self.splitter
        members = splitter.cells.members(spec, breakdown)
        fine = splitter.split_ad_day(spec, pos, day, breakdown.family, m)
        placement = breakdown.family == PLACEMENT
        seed = self.world.seed
        out: list[tuple[int, list[int]]] = []
        for t, cells in enumerate(members):
            if len(cells) == 1:
                acc = list(fine[cells[0]])
            else:
                acc = [sum(column) for column in zip(*(fine[c] for c in cells), strict=True)]
            if not any(acc):
                continue
            if placement:
                # A position's reach exceeds its share (people also saw the ad
                # elsewhere); a platform's lies between the shares' sum and its
                # positions' sum.
                biggest = inflated = 0
                for c in cells:
                    r = fine[c][REACH]
                    seen = min(
                        fine[c][IMPRESSIONS],
                        r + r * placement_overlap(seed, spec, pos, day, c) // 1000,
                    )
                    biggest = max(biggest, seen)
                    inflated += seen
                acc[REACH] = max(biggest, acc[REACH] + (inflated - acc[REACH]) // 2)
            out.append((t, acc))
        return out

    def _compute_broken(
        self,
        data: AccountData,
        level: str,
        first: int,
        last: int,
        clock: ClockView,
        allowed: frozenset[int] | None,
        breakdown: Breakdown,
    ) -> list[Group]:
        last = min(last, clock.account_today(data.spec.tz).toordinal())
        key_of = self._key_fn(data, level)
        seed = self.world.seed
        sums: dict[tuple[str, int], list[int]] = {}
        daily_reach: dict[tuple[str, int], list[int]] = {}
        for day in range(first, last + 1):
            day_reach: dict[tuple[str, int], list[int]] = {}
            for pos, m in self.delivery.served_day(data, day, clock):
                if allowed is not None and pos not in allowed:
                    continue
                g = key_of(pos)
                for cell, cm in self._cells_of_ad_day(data, pos, day, m, breakdown):
                    k = (g, cell)
                    acc = sums.get(k)
                    sums[k] = cm if acc is None else [a + b for a, b in zip(acc, cm, strict=True)]
                    r = cm[REACH]
                    stats = day_reach.get(k)
                    if stats is None:
                        day_reach[k] = [r, r, 1]
                    else:
                        stats[0] += r
                        stats[1] = max(stats[1], r)
                        stats[2] += 1
            for k, (total, biggest, count) in day_reach.items():
                reach = (
                    total
                    if count == 1
                    else max(biggest, total * overlap_per_mille(seed, k[0], day, k[1]) // 1000)
                )
                daily_reach.setdefault(k, []).append(reach)
        out: list[Group] = []
        for k in sorted(sums):
            metrics = sums[k]
            metrics[REACH] = combine_reach(daily_reach[k])
            out.append((k[0], k[1], tuple(metrics)))
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
        breakdown = query.breakdown
        dims: tuple[str, ...] = ()
        values: tuple[tuple[str, ...], ...] = ()
        if breakdown is not None:
            dims = breakdown.dims
            values = self.splitter.cells.projection(data.spec, breakdown)[1]
        formatter = RowFormatter(
            level=query.level,
            fields=query.fields,
            windows=query.windows,
            data=data,
            clock=clock,
            seed=self.world.seed,
            zeros=zeros,
            dims=dims,
            values=values,
            unique=query.unique,
        )
        buckets = query.buckets()
        rows: list[dict[str, Any]] = []
        b, o = position
        while b < len(buckets) and len(rows) < limit:
            first, last = buckets[b]
            groups = self.groups(data, query.level, first, last, clock, query.filters, breakdown)
            take = groups[o : o + limit - len(rows)]
            rows.extend(formatter.row(g, m, first, last, cell) for g, cell, m in take)
            o += len(take)
            if o >= len(groups):
                b, o = b + 1, 0
        while b < len(buckets):
            first, last = buckets[b]
            if o < len(
                self.groups(data, query.level, first, last, clock, query.filters, breakdown)
            ):
                return rows, (b, o)
            b, o = b + 1, 0
        return rows, None
