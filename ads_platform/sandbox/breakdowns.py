"""Breakdowns: how one ad-day splits across ages, genders, placements and places.

Three families, each a two-level hierarchy of Meta's values, split at the finest
level (a *cell*) and summed up to what a query asks for:

* demographic: ``age`` x ``gender`` (people are in one bucket: reach adds up);
* placement: ``publisher_platform`` x ``platform_position`` (one person sees an ad
  in several placements: reach per value is larger than its share, never summed);
* geo: ``country`` x ``region`` (the account's home country and a few neighbours).

A query's ``breakdowns`` must be one of ``ACCEPTED``; anything else Meta would refuse
(``age`` with ``country``, ``platform_position`` without ``publisher_platform``) is
refused with Meta's message, and breakdowns Meta accepts but the sandbox does not
model (``impression_device``...) are refused with a sandbox message.

Split rule, per (account, ad, day, family): every additive metric is divided by
largest remainder over integer weights (a base share per cell x a stable per-ad
skew x a stable per-day jitter, from ``mix64`` of the ids, the day and the cell), so
the cells sum *exactly* to the unbroken ad-day. Clicks, spend and conversions get
their own jitter (CTR, CPM and conversion rate differ by age, placement...), and
caps keep each cell coherent: reach, clicks <= impressions (reach >= 1 where there
are impressions), link clicks <= clicks,
landing page views <= link clicks, 1d_click <= 7d_click <= 28d_click, video plays
<= impressions and each later quartile <= the one before. Conversion values are the
cell's counts x the ad-day's order value, so they stay exact too; a value without
counts (``delivery.py``) is split like a count (by the conversion weights, 1d_click <=
7d_click <= 28d_click), so it stays without counts in every cell.

``drift_per_mille`` (sandbox option, default 0) models Meta's breakdown rows that
add up to slightly more or less than the totals: each (ad, day, family) is scaled by
a stable factor in ``1 +- drift/1000`` before the split (reach is capped to the
scaled impressions), identically for every breakdown of that family.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from .delivery import (
    CLICKS,
    COUNT_BLOCKS,
    IMPRESSIONS,
    LANDING_PAGE_VIEWS,
    LINK_CLICKS,
    N_METRICS,
    POST_ENGAGEMENT,
    PURCHASE,
    PURCHASE_VALUE,
    REACH,
    SPEND,
    VIDEO_CAPS,
    VIDEO_PLAYS,
    VIDEO_WATCH_SECONDS,
    Metrics,
    seconds_per_play,
)
from .rows import mix64
from .wire import invalid_param
from .world import AccountSpec

DEMOGRAPHIC, PLACEMENT, GEO = "demographic", "placement", "geo"
FAMILY_DIMS: dict[str, tuple[str, str]] = {
    DEMOGRAPHIC: ("age", "gender"),
    PLACEMENT: ("publisher_platform", "platform_position"),
    GEO: ("country", "region"),
}
_FAMILY_CODE = {DEMOGRAPHIC: 1, PLACEMENT: 2, GEO: 3}
MODELLED = frozenset(d for dims in FAMILY_DIMS.values() for d in dims)

#: Breakdown sets the sandbox answers (as sorted tuples), with their family.
ACCEPTED: dict[tuple[str, ...], str] = {
    ("age",): DEMOGRAPHIC,
    ("gender",): DEMOGRAPHIC,
    ("age", "gender"): DEMOGRAPHIC,
    ("publisher_platform",): PLACEMENT,
    ("platform_position", "publisher_platform"): PLACEMENT,
    ("country",): GEO,
    ("region",): GEO,
}

#: Unique-count fields Meta omits for breakdown queries starting too far back.
UNIQUE_FIELDS = ("reach", "frequency")
UNIQUE_MONTHS = 13

AGES: tuple[tuple[str, int], ...] = (
    ("18-24", 14),
    ("25-34", 28),
    ("35-44", 22),
    ("45-54", 15),
    ("55-64", 11),
    ("65+", 8),
    ("Unknown", 2),
)
GENDERS: tuple[tuple[str, int], ...] = (("female", 52), ("male", 45), ("unknown", 3))
PLACEMENTS: tuple[tuple[str, str, int], ...] = (
    ("facebook", "feed", 30),
    ("facebook", "facebook_stories", 6),
    ("facebook", "facebook_reels", 6),
    ("facebook", "marketplace", 4),
    ("facebook", "video_feeds", 3),
    ("facebook", "right_hand_column", 2),
    ("facebook", "instream_video", 2),
    ("facebook", "search", 1),
    ("instagram", "feed", 18),
    ("instagram", "instagram_stories", 10),
    ("instagram", "instagram_reels", 10),
    ("instagram", "instagram_explore", 3),
    ("audience_network", "an_classic", 2),
    ("audience_network", "rewarded_video", 1),
    ("messenger", "messenger_inbox", 1),
    ("messenger", "messenger_stories", 1),
)
REGIONS: dict[str, tuple[tuple[str, int], ...]] = {
    "US": (
        ("California", 12),
        ("Texas", 9),
        ("Florida", 7),
        ("New York", 6),
        ("Illinois", 4),
        ("Pennsylvania", 4),
        ("Ohio", 3),
        ("Washington", 3),
        ("Unknown", 1),
    ),
    "DE": (
        ("North Rhine-Westphalia", 10),
        ("Bavaria", 9),
        ("Baden-Württemberg", 8),
        ("Berlin", 6),
        ("Hamburg", 3),
        ("Hesse", 4),
        ("Unknown", 1),
    ),
    "JP": (("Tokyo", 14), ("Osaka", 8), ("Kanagawa", 7), ("Aichi", 5), ("Fukuoka", 4)),
    "GB": (("England", 20), ("Scotland", 3), ("Wales", 2), ("Northern Ireland", 1)),
    "BR": (("Sao Paulo", 12), ("Rio de Janeiro", 7), ("Minas Gerais", 5), ("Bahia", 3)),
    "AU": (
        ("New South Wales", 9),
        ("Victoria", 8),
        ("Queensland", 6),
        ("Western Australia", 3),
    ),
    "IN": (("Maharashtra", 9), ("Karnataka", 7), ("Delhi", 7), ("Tamil Nadu", 6)),
    "NZ": (("Auckland", 10), ("Wellington", 4), ("Canterbury", 4), ("Waikato", 2)),
    "CA": (("Ontario", 3), ("British Columbia", 2)),
    "MX": (("Mexico City", 1),),
    "AT": (("Vienna", 1),),
    "CH": (("Zurich", 1),),
    "NL": (("North Holland", 1),),
    "IE": (("Leinster", 1),),
    "KR": (("Seoul", 1),),
    "TW": (("Taipei City", 1),),
    "PT": (("Lisbon", 1),),
    "AR": (("Buenos Aires", 1),),
    "AE": (("Dubai", 1),),
    "SG": (("Singapore", 1),),
}
#: Home country and neighbours by account time zone (share of the home: 85 %).
COUNTRIES_BY_TZ: dict[str, tuple[str, ...]] = {
    "America/New_York": ("US", "CA", "MX"),
    "Europe/Berlin": ("DE", "AT", "CH", "NL"),
    "Asia/Tokyo": ("JP", "KR", "TW"),
    "UTC": ("US", "GB", "CA"),
    "America/Los_Angeles": ("US", "CA", "MX"),
    "Europe/London": ("GB", "IE", "US"),
    "America/Sao_Paulo": ("BR", "PT", "AR"),
    "Australia/Sydney": ("AU", "NZ"),
    "Asia/Kolkata": ("IN", "AE", "SG"),
    "Pacific/Auckland": ("NZ", "AU"),
}
HOME_SHARE = 85

Cell = tuple[str, str]
#: For each fine cell the index of its output cell, and the output cells' values.
Projection = tuple[tuple[int, ...], tuple[tuple[str, ...], ...]]


@dataclass(frozen=True, slots=True)
class Breakdown:
    """The ``breakdowns`` of one query: its family and the dimensions asked for."""

    family: str
    dims: tuple[str, ...]  # in the family's order (age before gender...)

    @property
    def key(self) -> str:
        return ",".join(self.dims)


def parse_breakdowns(
    wanted: Sequence[str] | None, action_breakdowns: Sequence[str] | None
) -> Breakdown | None:
    """The modelled breakdown of a (name-checked) ``breakdowns`` list, or a code-100 refusal."""
    if not wanted:
        return None
    names = tuple(sorted(set(wanted)))
    unmodelled = [n for n in names if n not in MODELLED]
    if unmodelled:
        raise invalid_param(
            f"The sandbox does not model breakdowns ({', '.join(unmodelled)}): it models "
            "age, gender, publisher_platform, platform_position, country and region. Drop "
            "the others for sandbox runs."
        )
    family = ACCEPTED.get(names)
    if family is None:
        columns = sorted({*(action_breakdowns or ("action_type",)), *names})
        raise invalid_param(
            f"Current combination of data breakdown columns ({', '.join(columns)}) is invalid "
        )
    return Breakdown(family=family, dims=tuple(d for d in FAMILY_DIMS[family] if d in names))


def unique_cutoff(today: dt.date) -> dt.date:
    """First ``since`` for which a breakdown query still gets reach and frequency."""
    total = today.year * 12 + today.month - 1 - UNIQUE_MONTHS
    year, month = divmod(total, 12)
    month += 1
    day = today.day
    while True:
        try:
            return dt.date(year, month, day)
        except ValueError:
            day -= 1


class Cells:
    """Fine cells per (account, family) with base weights, and their projections."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fine: dict[tuple[str, str], tuple[tuple[Cell, ...], tuple[int, ...]]] = {}
        self._proj: dict[tuple[str, str, str], Projection] = {}
        self._members: dict[tuple[str, str, str], tuple[tuple[int, ...], ...]] = {}

    def fine(self, account: AccountSpec, family: str) -> tuple[tuple[Cell, ...], tuple[int, ...]]:
        key = (account.timezone_name, family)
        with self._lock:
            hit = self._fine.get(key)
        if hit is not None:
            return hit
        cells: list[Cell] = []
        weights: list[int] = []
        if family == DEMOGRAPHIC:
            for age, wa in AGES:
                for gender, wg in GENDERS:
                    cells.append((age, gender))
                    weights.append(wa * wg)
        elif family == PLACEMENT:
            for platform, position, w in PLACEMENTS:
                cells.append((platform, position))
                weights.append(w)
        else:
            countries = COUNTRIES_BY_TZ.get(account.timezone_name, ("US",))
            foreign = (100 - HOME_SHARE) // max(1, len(countries) - 1)
            for i, country in enumerate(countries):
                share = HOME_SHARE if i == 0 else foreign
                regions = REGIONS.get(country, (("Unknown", 1),))
                total = sum(w for _, w in regions)
                for region, w in regions:
                    cells.append((country, region))
                    weights.append(max(1, share * w * 100 // total))
        built = (tuple(cells), tuple(weights))
        with self._lock:
            self._fine[key] = built
        return built

    def members(self, account: AccountSpec, breakdown: Breakdown) -> tuple[tuple[int, ...], ...]:
        """For each output cell, the fine cells it sums (in order)."""
        key = (account.timezone_name, breakdown.family, breakdown.key)
        with self._lock:
            hit = self._members.get(key)
        if hit is not None:
            return hit
        target, values = self.projection(account, breakdown)
        built = _members(target, len(values))
        with self._lock:
            self._members[key] = built
        return built

    def projection(self, account: AccountSpec, breakdown: Breakdown) -> Projection:
        """For each fine cell the index of its output cell, and the output cells' values."""
        key = (account.timezone_name, breakdown.family, breakdown.key)
        with self._lock:
            hit = self._proj.get(key)
        if hit is not None:
            return hit
        cells, _ = self.fine(account, breakdown.family)
        dims = FAMILY_DIMS[breakdown.family]
        keep = [i for i, d in enumerate(dims) if d in breakdown.dims]
        values: list[tuple[str, ...]] = []
        index: dict[tuple[str, ...], int] = {}
        target: list[int] = []
        for cell in cells:
            value = tuple(cell[i] for i in keep)
            if value not in index:
                index[value] = len(values)
                values.append(value)
            target.append(index[value])
        built = (tuple(target), tuple(values))
        with self._lock:
            self._proj[key] = built
        return built


def _members(target: tuple[int, ...], n_out: int) -> tuple[tuple[int, ...], ...]:
    groups: list[list[int]] = [[] for _ in range(n_out)]
    for c, t in enumerate(target):
        groups[t].append(c)
    return tuple(tuple(g) for g in groups)


def split(total: int, weights: Sequence[int], caps: Sequence[int] | None = None) -> list[int]:
    """``total`` divided by largest remainder over ``weights``, each part <= its cap.

    Exact (the parts sum to ``total``) and deterministic (ties go to the lower
    index). A part over its cap gives the excess to the others by weight, which
    always fits because the callers' totals respect the caps' totals.
    """
    n = len(weights)
    if total == 0:
        return [0] * n
    w_sum = sum(weights)
    parts = [total * w // w_sum for w in weights]
    left = total - sum(parts)
    if left:
        order = sorted(range(n), key=lambda i: (-(total * weights[i] % w_sum), i))
        for i in order[:left]:
            parts[i] += 1
    if caps is not None:
        excess = 0
        for i in range(n):
            if parts[i] > caps[i]:
                excess += parts[i] - caps[i]
                parts[i] = caps[i]
        if excess:
            for i in sorted(range(n), key=lambda i: (-weights[i], i)):
                room = caps[i] - parts[i]
                if room > 0:
                    give = min(room, excess)
                    parts[i] += give
                    excess -= give
                    if not excess:
                        break
    return parts


# Which weight each metric splits by (0 delivery, 1 spend, 2 clicks, 3 conversions,
# 4 video) and the metric it is capped by, in the order the caps need.
_PLAN: list[tuple[int, int, int | None]] = [
    (IMPRESSIONS, 0, None),
    (SPEND, 1, None),
    (REACH, 0, IMPRESSIONS),
    (CLICKS, 2, IMPRESSIONS),
    (LINK_CLICKS, 2, CLICKS),
    (LANDING_PAGE_VIEWS, 2, LINK_CLICKS),
    (POST_ENGAGEMENT, 2, None),
]
for _block in COUNT_BLOCKS:
    _PLAN += [
        (_block + 2, 3, None),
        (_block + 1, 3, _block + 2),
        (_block + 0, 3, _block + 1),
        (_block + 3, 3, None),
    ]
_PLAN += [(metric, 4, cap) for metric, cap in VIDEO_CAPS]
#: Window offsets of a value without counts in split order, with the window capping each.
_VALUE_PLAN: tuple[tuple[int, int | None], ...] = ((2, None), (1, 2), (0, 1), (3, None))
_PLAN_WEIGHTS = 5
_FACTOR_CACHE = 60_000  # (account, ad, family) entries, ~2 kB each


def _jitter(bits: int, shift: int) -> int:
    """A factor in 600..1399 (per mille) from 10 bits of ``bits``."""
    return 600 + ((bits >> shift) & 0x3FF) * 800 // 1024


class Splitter:
    """Splits served ad-day metrics into a family's fine cells (see the module doc)."""

    def __init__(self, seed: int, drift_per_mille: int = 0) -> None:
        self.seed = seed
        self.drift = drift_per_mille
        self.cells = Cells()
        self._ad_factors: OrderedDict[tuple[int, int, str], list[tuple[int, ...]]] = OrderedDict()
        self._lock = threading.Lock()

    def _factors(self, account: AccountSpec, pos: int, family: str) -> list[tuple[int, ...]]:
        """Per cell: base share x the ad's skew, and its spend/clicks/conversion/video
        factors (stable per ad: one ad skews young, another converts on Instagram)."""
        key = (account.index, pos, family)
        with self._lock:
            hit = self._ad_factors.get(key)
        if hit is not None:
            return hit
        _, base = self.cells.fine(account, family)
        code = _FAMILY_CODE[family]
        out: list[tuple[int, ...]] = []
        for c, b in enumerate(base):
            bits = mix64(self.seed, account.index, pos, code, c)
            out.append(
                (
                    b * (500 + (bits & 0x3FF)),
                    _jitter(bits, 10),
                    _jitter(bits, 20),
                    _jitter(bits, 30),
                    _jitter(bits, 40),
                )
            )
        with self._lock:
            self._ad_factors[key] = out
            while len(self._ad_factors) > _FACTOR_CACHE:
                self._ad_factors.popitem(last=False)
        return out

    def weights(self, account: AccountSpec, pos: int, day: int, family: str) -> list[list[int]]:
        """Integer weights per plan group (delivery, spend, clicks, conversions, video)."""
        code = _FAMILY_CODE[family]
        seed, acct = self.seed, account.index
        out: list[list[int]] = [[] for _ in range(_PLAN_WEIGHTS)]
        w0, w1, w2, w3, w4 = out
        for c, (base, spend_f, click_f, conv_f, video_f) in enumerate(
            self._factors(account, pos, family)
        ):
            day_bits = mix64(seed, acct, pos, code, c, day)
            w = base * _jitter(day_bits, 0)
            w0.append(w)
            w1.append(w * spend_f * _jitter(day_bits, 10) // 1000)
            clicks = w * click_f // 1000
            w2.append(clicks)
            w3.append(clicks * conv_f * _jitter(day_bits, 20) // 1000)
            w4.append(w * video_f // 1000)
        return out

    def drifted(self, account: AccountSpec, pos: int, day: int, family: str, m: Metrics) -> Metrics:
        """``m`` scaled by the family's stable drift factor (only when the option is on)."""
        if not self.drift:
            return m
        bits = mix64(self.seed, account.index, pos, _FAMILY_CODE[family], day, 0xD71F)
        factor = 1000 + bits % (2 * self.drift + 1) - self.drift
        scaled = [x * factor // 1000 for x in m]
        scaled[REACH] = min(m[REACH], scaled[IMPRESSIONS])
        scaled[VIDEO_WATCH_SECONDS] = scaled[VIDEO_PLAYS] * seconds_per_play(m)
        aov = _order_value(m)
        if aov:  # else values without counts: scaled like the counts, as above
            for i in range(4):
                scaled[PURCHASE_VALUE + i] = scaled[PURCHASE + i] * aov
        return tuple(scaled)

    def split_ad_day(
        self, account: AccountSpec, pos: int, day: int, family: str, m: Metrics
    ) -> list[tuple[int, ...]]:
        """One metrics tuple per fine cell; additive metrics sum to (drifted) ``m``."""
        m = self.drifted(account, pos, day, family, m)
        weights = self.weights(account, pos, day, family)
        n = len(weights[0])
        zero = [0] * n
        columns: list[list[int]] = [zero] * N_METRICS
        for metric, wi, cap in _PLAN:
            total = m[metric]
            if total:
                columns[metric] = split(total, weights[wi], None if cap is None else columns[cap])
        # Someone saw every impression: a cell with impressions reaches at least one
        # person (this only raises the sum over cells, which is never the ad's reach).
        columns[REACH] = [
            1 if imp and not r else r
            for imp, r in zip(columns[IMPRESSIONS], columns[REACH], strict=True)
        ]
        aov = _order_value(m)
        if aov:
            for i in range(4):
                columns[PURCHASE_VALUE + i] = [x * aov for x in columns[PURCHASE + i]]
        else:  # a value without counts (or none): split like the counts are
            for offset, cap in _VALUE_PLAN:
                total = m[PURCHASE_VALUE + offset]
                if total:
                    caps = None if cap is None else columns[PURCHASE_VALUE + cap]
                    columns[PURCHASE_VALUE + offset] = split(total, weights[3], caps)
        per_play = seconds_per_play(m)
        if per_play:
            columns[VIDEO_WATCH_SECONDS] = [x * per_play for x in columns[VIDEO_PLAYS]]
        return list(zip(*columns, strict=True))


def _order_value(m: Metrics) -> int:
    """The ad-day's order value: purchase values are counts x this, window by window."""
    for i in range(4):
        if m[PURCHASE + i]:
            return m[PURCHASE_VALUE + i] // m[PURCHASE + i]
    return 0


def placement_overlap_per_mille(seed: int, account: AccountSpec, pos: int, day: int, c: int) -> int:
    """How much more reach a placement cell has than its share (people see several)."""
    return mix64(seed, account.index, pos, day, c, 0x9ACE) % 151
