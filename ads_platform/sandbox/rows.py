"""Formatting grouped metrics as Graph insight rows (every scalar a string).

Kept apart from the aggregation because it is the hot path of big pulls: a
``RowFormatter`` is built once per page with the query's choices precomputed, and
the per-row pseudo-random choices (omit ``reach`` on ~1/40 of ad rows, omit some
zero-valued attribution-window keys) come from one cheap integer mix per row.

Action elements: ``value`` is the default attribution (7d_click + 1d_view for
conversions; the count itself for link_click, landing_page_view, post_engagement).
Requested window keys (1d_click, 7d_click, 28d_click, 1d_view) are added; a key
whose value is 0 is omitted on about half the elements, so a missing key means 0.
An element is listed when its value or a requested window is nonzero. ``actions`` and
``action_values`` are built independently, so a value without counts (``delivery.py``)
gives an ``action_values`` element for a type ``actions`` does not list, as on Meta.

Video fields (``video_play_actions``, ``video_p25_watched_actions``...
``video_thruplay_watched_actions``, ``video_avg_time_watched_actions``) are lists
with one ``video_view`` element, on rows whose group has video plays (video ads;
other rows omit them). The average is watch seconds / plays, rounded half up to
whole seconds: exact per ad-day, a plays-weighted average at higher levels.

Extra fields (``EXTRA_FIELDS``: what the platform's passthrough settings may ask for
beyond its own fields) follow Meta's definitions over the same metrics, at every
level: ``inline_post_engagement`` is the post engagement count; ``unique_clicks`` and
``unique_inline_link_clicks`` are the clicks (link clicks) times a stable per (group,
first day) share in [0.700, 1.000], rounded up (deduplicated like reach, never summed
across levels); ``cpp`` (cost per 1,000 people reached), ``unique_ctr`` and
``cost_per_unique_click`` are ratios of those, omitted when their denominator is 0 or
reach is omitted; ``quality_ranking`` is a stable label per ad (ad level only). Every
other valid field is accepted and omitted, as Meta omits fields it has no value for.
"""

from __future__ import annotations

import datetime as dt
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
from .wire import fmt_money, fmt_ratio
from .world import AccountData

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
VIDEO_FIELDS: tuple[tuple[str, int], ...] = (
    ("video_play_actions", VIDEO_PLAYS),
    ("video_p25_watched_actions", VIDEO_P25),
    ("video_p50_watched_actions", VIDEO_P50),
    ("video_p75_watched_actions", VIDEO_P75),
    ("video_p95_watched_actions", VIDEO_P95),
    ("video_p100_watched_actions", VIDEO_P100),
    ("video_thruplay_watched_actions", VIDEO_THRUPLAYS),
)
VIDEO_AVG_FIELD = "video_avg_time_watched_actions"
#: Extra insights fields the sandbox serves, with how the truth reads them back.
EXTRA_FIELDS: dict[str, str] = {
    "inline_post_engagement": "count",
    "unique_clicks": "count",
    "unique_inline_link_clicks": "count",
    "cpp": "number",
    "unique_ctr": "number",
    "cost_per_unique_click": "number",
    "quality_ranking": "text",
}
QUALITY_RANKINGS = (
    "ABOVE_AVERAGE",
    "AVERAGE",
    "BELOW_AVERAGE_35",
    "BELOW_AVERAGE_20",
    "BELOW_AVERAGE_10",
)
WINDOW_INDEX = {"1d_click": 0, "7d_click": 1, "28d_click": 2, "1d_view": 3}
W7C, W1V = 1, 3
_MASK64 = (1 << 64) - 1
_VALUE_BITS = 4 * len(ACTION_TYPES)  # window-omission bits of action_values start here
_REACH_SHIFT = 48


def mix64(*values: int) -> int:
    """SplitMix64 over integers: stable, and far cheaper than a cryptographic hash."""
    x = 0x9E3779B97F4A7C15
    for v in values:
        x = (x ^ (v & _MASK64)) * 0xBF58476D1CE4E5B9 & _MASK64
        x = (x ^ (x >> 31)) * 0x94D049BB133111EB & _MASK64
        x ^= x >> 29
    return x


class RowFormatter:
    """Formats rows of one query at one clock (names resolved once per entity)."""

    def __init__(
        self,
        *,
        level: str,
        fields: tuple[str, ...],
        windows: tuple[str, ...],
        data: AccountData,
        clock: ClockView,
        seed: int,
        zeros: bool,
        dims: tuple[str, ...] = (),
        values: tuple[tuple[str, ...], ...] = (),
        unique: bool = True,
    ) -> None:
        self.level = level
        self.fields = frozenset(fields)
        self.windows = tuple((w, WINDOW_INDEX[w]) for w in windows if w in WINDOW_INDEX)
        self.data = data
        self.instant = clock.instant
        self.seed = seed
        self.zeros = zeros
        self.dims = dims
        self.values = values
        self.unique = unique
        self.decimals = data.spec.decimals
        self._names: dict[str, str] = {}
        f = self.fields
        self.video = tuple((name, idx) for name, idx in VIDEO_FIELDS if name in f)
        self.video_avg = VIDEO_AVG_FIELD in f
        self.extras = tuple(name for name in EXTRA_FIELDS if name in f)
        self.want = {
            name: name in f
            for name in (
                "account_name",
                "account_currency",
                "campaign_name",
                "adset_name",
                "ad_name",
                "objective",
                "impressions",
                "reach",
                "frequency",
                "clicks",
                "inline_link_clicks",
                "spend",
                "cpc",
                "cpm",
                "ctr",
                "cost_per_inline_link_click",
                "inline_link_click_ctr",
                "actions",
                "action_values",
            )
        }

    def _name(self, entity_id: str) -> str:
        name = self._names.get(entity_id)
        if name is None:
            name = self.data.by_id[entity_id].name_at(self.instant)
            self._names[entity_id] = name
        return name

    def row(self, group: str, m: Metrics, first: int, last: int, cell: int = 0) -> dict[str, Any]:
        want = self.want
        data = self.data
        spec = data.spec
        zeros = self.zeros
        if zeros:
            m = (0,) * N_METRICS
        dims = self.dims
        bits = (
            mix64(self.seed, int(group), first, cell)
            if dims
            else mix64(self.seed, int(group), first)
        )
        row: dict[str, Any] = {"account_id": spec.digits}
        if want["account_name"]:
            row["account_name"] = spec.name
        if want["account_currency"]:
            row["account_currency"] = spec.currency
        level = self.level
        if level != "account":
            entity = data.by_id[group]
            campaign_id = entity.campaign_id or entity.id
            row["campaign_id"] = campaign_id
            if want["campaign_name"]:
                row["campaign_name"] = self._name(campaign_id)
            if level != "campaign":
                adset_id = entity.adset_id or entity.id
                row["adset_id"] = adset_id
                if want["adset_name"]:
                    row["adset_name"] = self._name(adset_id)
            if level == "ad":
                row["ad_id"] = entity.id
                if want["ad_name"]:
                    row["ad_name"] = self._name(entity.id)
            if want["objective"]:
                row["objective"] = data.by_id[campaign_id].objective
        decimals = self.decimals
        spend, impressions, reach = m[SPEND], m[IMPRESSIONS], m[REACH]
        clicks, link = m[CLICKS], m[LINK_CLICKS]
        omit_reach = not self.unique or (
            level == "ad" and not zeros and (bits >> _REACH_SHIFT) % 40 == 0
        )
        major = spend / 10**decimals
        if want["impressions"]:
            row["impressions"] = str(impressions)
        if want["reach"] and not omit_reach:
            row["reach"] = str(reach)
        if want["frequency"] and not omit_reach:
            row["frequency"] = fmt_ratio(impressions / reach) if reach else "0"
        if want["clicks"]:
            row["clicks"] = str(clicks)
        if want["inline_link_clicks"]:
            row["inline_link_clicks"] = str(link)
        if want["spend"]:
            row["spend"] = fmt_money(spend, decimals)
        if want["cpc"] and (clicks or zeros):
            row["cpc"] = fmt_ratio(major / clicks) if clicks else "0"
        if want["cpm"] and (impressions or zeros):
            row["cpm"] = fmt_ratio(major * 1000 / impressions) if impressions else "0"
        if want["ctr"] and (impressions or zeros):
            row["ctr"] = fmt_ratio(clicks * 100 / impressions) if impressions else "0"
        if want["cost_per_inline_link_click"] and link:
            row["cost_per_inline_link_click"] = fmt_ratio(major / link)
        if want["inline_link_click_ctr"] and impressions:
            row["inline_link_click_ctr"] = fmt_ratio(link * 100 / impressions)
        if want["actions"] and not zeros:
            actions = self._actions(m, bits)
            if actions:
                row["actions"] = actions
        if want["action_values"] and not zeros:
            values = self._values(m, bits)
            if values:
                row["action_values"] = values
        plays = m[VIDEO_PLAYS]
        if plays and not zeros:
            for name, idx in self.video:
                row[name] = [{"action_type": "video_view", "value": str(m[idx])}]
            if self.video_avg:
                avg = (2 * m[VIDEO_WATCH_SECONDS] + plays) // (2 * plays)
                row[VIDEO_AVG_FIELD] = [{"action_type": "video_view", "value": str(avg)}]
        if self.extras:
            row.update(self._extras(m, group, first, cell, reach=0 if omit_reach else reach))
        if dims:
            row.update(zip(dims, self.values[cell], strict=True))
        row["date_start"] = dt.date.fromordinal(first).isoformat()
        row["date_stop"] = dt.date.fromordinal(last).isoformat()
        return row

    def _extras(self, m: Metrics, group: str, first: int, cell: int, reach: int) -> dict[str, str]:
        """The requested extra fields of one row (see the module docstring)."""
        out: dict[str, str] = {}
        wanted = self.extras
        gid = int(group)
        clicks = _unique(m[CLICKS], mix64(self.seed, 0x0C, gid, first, cell))
        links = _unique(m[LINK_CLICKS], mix64(self.seed, 0x1C, gid, first, cell))
        major = m[SPEND] / 10**self.decimals
        values = {
            "inline_post_engagement": str(m[POST_ENGAGEMENT]),
            "unique_clicks": str(clicks),
            "unique_inline_link_clicks": str(links),
        }
        if reach:
            values["cpp"] = fmt_ratio(major * 1000 / reach)
            values["unique_ctr"] = fmt_ratio(clicks * 100 / reach)
        if clicks:
            values["cost_per_unique_click"] = fmt_ratio(major / clicks)
        if self.level == "ad":
            ranking = QUALITY_RANKINGS[mix64(self.seed, 0x0A, gid) % len(QUALITY_RANKINGS)]
            values["quality_ranking"] = ranking
        for name in wanted:
            if name in values:
                out[name] = values[name]
        return out

    def _actions(self, m: Metrics, bits: int) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        windows = self.windows
        for i, (action_type, offset, is_conversion) in enumerate(ACTION_TYPES):
            if is_conversion:
                counts = m[offset : offset + 4]
                if not any(counts):
                    continue
                value = counts[W7C] + counts[W1V]
            else:
                value = m[offset]
                if not value:
                    continue
                counts = (value, value, value, 0)
            element = {"action_type": action_type, "value": str(value)}
            listed = value > 0
            for key, idx in windows:
                if idx == W1V and not is_conversion:
                    continue
                n = counts[idx]
                if n:
                    element[key] = str(n)
                    listed = True
                elif (bits >> (4 * i + idx)) & 1:
                    element[key] = "0"
            if listed:
                out.append(element)
        return out

    def _values(self, m: Metrics, bits: int) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        decimals = self.decimals
        for i, (action_type, offset) in enumerate(VALUE_TYPES):
            money = m[offset : offset + 4]
            if not any(money):
                continue
            value = money[W7C] + money[W1V]
            element = {"action_type": action_type, "value": fmt_money(value, decimals)}
            listed = value > 0
            for key, idx in self.windows:
                n = money[idx]
                if n:
                    element[key] = fmt_money(n, decimals)
                    listed = True
                elif (bits >> (_VALUE_BITS + 4 * i + idx)) & 1:
                    element[key] = fmt_money(0, decimals)
            if listed:
                out.append(element)
        return out


def _unique(count: int, bits: int) -> int:
    """A deduplicated count: ``count`` times a stable share in [0.700, 1.000], rounded up."""
    share = 700 + bits % 301
    return (count * share + 999) // 1000
