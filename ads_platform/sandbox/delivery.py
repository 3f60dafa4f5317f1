"""Ad-level daily delivery, generated on demand from the seed.

Each (account, ad, account-local day) gets its *final* numbers from one stable
hash (``uniforms(seed, account, ad, day)``), so nothing has to be precomputed and
50 accounts x 500 ads x 365 days is servable. Final days are memoized per
(account, day) in a bounded LRU; the clock is applied afterwards:

* spend, impressions, reach, clicks, link clicks, landing page views and post
  engagement are final once the day is over (age >= 1);
* today's row (age 0) is partial: every count is ``floor(final * s / 86400)``
  where ``s`` is the account-local seconds elapsed at the sandbox instant
  (12:00 UTC); nothing is served for days after the account's today;
* conversions (purchases, leads, registrations, the rare type) keep maturing:
  the count served at age ``a`` is ``floor(final * MATURITY_PER_MILLE[a] / 1000)``
  (times the partial fraction at age 0), nondecreasing in ``a`` and final from
  age 28 on. Conversion values are served count x the ad-day's order value, so
  they mature with the counts;
* values without counts: on about one in ten purchase-family ad-days without a
  purchase (``VALUE_ONLY_PER_MILLE``, about 5 % of all ad-days), a purchase value
  of one order is attributed with no purchase counted, as Meta's ``action_values``
  can list a type ``actions`` does not that day. It is either click-through
  (7d_click and 28d_click) or view-through (1d_view), from the seed, and matures
  like a count (``floor(value x share + offset)``);
* video ads (``AdParams.video``: the ad's format is Video or Reel) also get plays,
  25/50/75/95/100 % watched (each <= the one before), ThruPlays (<= plays) and
  watch time = plays x a whole number of seconds per ad-day (so every split and
  partial keeps the ad-day's average exact). They are delivery numbers: final once
  the day is over, partial today. Other ads have zeros there (rows omit them).

All money is integer minor units of the account currency, so every sum is exact.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict

from .clock import ClockView
from .hashing import h64, normal, stochastic_round, uniforms
from .world import FAMILY_LEAD, FAMILY_PURCHASE, AccountData, World

# Layout of a metrics tuple (35 ints).
SPEND, IMPRESSIONS, REACH, CLICKS, LINK_CLICKS, LANDING_PAGE_VIEWS, POST_ENGAGEMENT = range(7)
PURCHASE = 7  # +0 1d_click, +1 7d_click, +2 28d_click, +3 1d_view (counts)
PURCHASE_VALUE = 11  # same four windows, money in minor units
LEAD = 15
REGISTRATION = 19
RARE = 23
VIDEO = 27  # plays, p25, p50, p75, p95, p100, thruplays, watch seconds
VIDEO_PLAYS, VIDEO_P25, VIDEO_P50, VIDEO_P75, VIDEO_P95, VIDEO_P100 = range(27, 33)
VIDEO_THRUPLAYS, VIDEO_WATCH_SECONDS = 33, 34
N_METRICS = 35
COUNT_BLOCKS = (PURCHASE, LEAD, REGISTRATION, RARE)
#: Video counts in split order with the metric each is capped by (watch time aside).
VIDEO_CAPS: tuple[tuple[int, int], ...] = (
    (VIDEO_PLAYS, IMPRESSIONS),
    (VIDEO_P25, VIDEO_PLAYS),
    (VIDEO_P50, VIDEO_P25),
    (VIDEO_P75, VIDEO_P50),
    (VIDEO_P95, VIDEO_P75),
    (VIDEO_P100, VIDEO_P95),
    (VIDEO_THRUPLAYS, VIDEO_PLAYS),
)
NO_VIDEO = (0,) * (N_METRICS - VIDEO)

#: Per mille of purchase-family ad-days without purchases that get a value without counts.
VALUE_ONLY_PER_MILLE = 100

FINAL_AGE = 28
# Share of the final conversions reported at each age in days (index = age).
MATURITY_PER_MILLE: tuple[int, ...] = (
    400, 620, 700, 750, 790, 820, 845, 865, 880, 893,
    905, 915, 924, 932, 939, 946, 952, 958, 963, 968,
    973, 977, 981, 985, 989, 992, 995, 998, 1000,
)  # fmt: skip
SECONDS_PER_DAY = 86_400
# Monday..Sunday spend multipliers.
WEEKDAY_FACTOR = (1.0, 1.02, 1.04, 1.03, 0.98, 0.88, 0.85)

Metrics = tuple[int, ...]
# (ad position, final metrics, order value in minor units, rounding offset per mille)
FinalRecord = tuple[int, Metrics, int, int]
ServedRecord = tuple[int, Metrics]  # (ad position, metrics at the clock)


class Delivery:
    """Final and served ad-day numbers with a bounded per-(account, day) cache.

    The cache holds at most ``max_cached_records`` ad-day records (~0.6 kB each),
    about one 500-ad account-year; older (account, day) entries are evicted first.
    """

    def __init__(self, world: World, max_cached_records: int = 150_000) -> None:
        self.world = world
        self._max = max_cached_records
        self._cache: OrderedDict[tuple[int, int], list[FinalRecord]] = OrderedDict()
        self._cached_records = 0
        self._lock = threading.Lock()

    # -- final numbers -----------------------------------------------------------

    def final_day(self, data: AccountData, day: int) -> list[FinalRecord]:
        """Final (fully matured, full-day) records of the delivering ads, by ad id."""
        key = (data.spec.index, day)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        records = self._generate(data, day)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = records
                self._cached_records += len(records) + 1
                while self._cached_records > self._max and len(self._cache) > 1:
                    _, old = self._cache.popitem(last=False)
                    self._cached_records -= len(old) + 1
        return records

    def _generate(self, data: AccountData, day: int) -> list[FinalRecord]:
        spec = data.spec
        seed = self.world.seed
        weekday = WEEKDAY_FACTOR[dt.date.fromordinal(day).weekday()]
        out: list[FinalRecord] = []
        for p in data.params:
            if day < p.start_day or day >= p.end_day:
                continue
            u = uniforms(seed, spec.index, p.pos, day)
            if u[0] < (0.3 if day - p.start_day < 2 else 0.06):
                continue  # no delivery today: no row at all
            usd = p.base * weekday * math.exp(0.35 * normal(u[1], u[2]))
            spend = max(1, int(usd * spec.rate + 0.5))
            cpm = p.cpm * math.exp(0.15 * normal(u[3], u[4]))
            impressions = max(1, int(usd * 1000.0 / cpm + u[5]))
            reach = max(1, min(impressions, int(impressions / (p.freq * (1.0 + 0.1 * u[6])))))
            clicks = stochastic_round(impressions * p.ctr * (0.7 + 0.6 * u[7]), u[8])
            link = min(clicks, stochastic_round(clicks * p.link_ratio, u[9]))
            lpv = int(link * (0.6 + 0.3 * u[10]))
            engagement = link + int(impressions * 0.004 * u[11])

            expected = link * p.cvr * (0.5 + u[12]) + impressions * 0.00001
            main = _windows(expected, u[13], u[14], u[15], u[16])
            reg = _windows(link * p.reg_rate * (0.5 + u[17]), u[18], u[19], u[20], 1.0)
            rare = (1, 1, 1, 0) if u[21] < 0.01 else (0, 0, 0, 0)
            aov = max(1, int(p.aov * (0.8 + 0.4 * u[22]) * spec.rate + 0.5))

            purchase = main if p.family == FAMILY_PURCHASE else (0, 0, 0, 0)
            lead = main if p.family == FAMILY_LEAD else (0, 0, 0, 0)
            value = tuple(c * aov for c in purchase)
            if p.family == FAMILY_PURCHASE and not any(purchase):
                value = _value_without_counts(seed, spec.index, p.pos, day, aov)
            metrics: Metrics = (
                spend,
                impressions,
                reach,
                clicks,
                link,
                lpv,
                engagement,
                *purchase,
                *value,
                *lead,
                *reg,
                *rare,
                *(_video(seed, spec.index, p.pos, day, impressions) if p.video else NO_VIDEO),
            )
            out.append((p.pos, metrics, aov, int(u[23] * 1000)))
        return out

    # -- served numbers ------------------------------------------------------------

    def served_day(self, data: AccountData, day: int, clock: ClockView) -> list[ServedRecord]:
        """What the API serves for ``day`` at ``clock`` (partial today, maturing conversions)."""
        tz = data.spec.tz
        age = clock.account_today(tz).toordinal() - day
        if age < 0:
            return []
        finals = self.final_day(data, day)
        if age >= FINAL_AGE:
            return [(pos, m) for pos, m, _, _ in finals]
        if age > 0:
            share = MATURITY_PER_MILLE[age]
            return [(pos, _mature(m, aov, theta, share, 1000)) for pos, m, aov, theta in finals]
        secs = clock.elapsed_seconds(tz)
        out: list[ServedRecord] = []
        for pos, m, aov, theta in finals:
            served = _partial(m, aov, theta, secs)
            if served[SPEND] or served[IMPRESSIONS]:
                out.append((pos, served))
        return out


def _video(seed: int, account: int, pos: int, day: int, impressions: int) -> Metrics:
    """Final video counts of one ad-day: a watch funnel, monotone by construction."""
    u = uniforms(seed, "video", account, pos, day)
    plays = min(impressions, int(impressions * (0.25 + 0.35 * u[0])))
    p25 = int(plays * (0.45 + 0.25 * u[1]))
    p50 = int(p25 * (0.55 + 0.25 * u[2]))
    p75 = int(p50 * (0.6 + 0.25 * u[3]))
    p95 = int(p75 * (0.6 + 0.25 * u[4]))
    p100 = int(p95 * (0.8 + 0.15 * u[5]))
    thruplays = min(plays, max(p100, int(plays * (0.15 + 0.15 * u[6]))))
    seconds_per_play = 2 + int(8 * u[7])
    return (plays, p25, p50, p75, p95, p100, thruplays, plays * seconds_per_play)


def _value_without_counts(seed: int, account: int, pos: int, day: int, aov: int) -> Metrics:
    """Final purchase value windows of an ad-day without purchases: zeros, or on
    ``VALUE_ONLY_PER_MILLE`` of them one order's value, click- or view-through.

    Its own hash (not one of the ad-day's uniforms), so every other number of the
    ad-day is the one the seed always gave.
    """
    roll = h64(seed, "value-only", account, pos, day)
    if roll % 1000 >= VALUE_ONLY_PER_MILLE:
        return (0, 0, 0, 0)
    return (0, 0, 0, aov) if (roll >> 32) & 1 else (0, aov, aov, 0)


def seconds_per_play(m: Metrics) -> int:
    """The ad-day's whole seconds watched per play (0 without plays)."""
    plays = m[VIDEO_PLAYS]
    return m[VIDEO_WATCH_SECONDS] // plays if plays else 0


def _windows(expected: float, u28: float, u7: float, u1: float, uview: float) -> Metrics:
    """Final (1d_click, 7d_click, 28d_click, 1d_view) counts with 1d <= 7d <= 28d."""
    c28 = stochastic_round(max(0.0, expected), u28)
    c7 = stochastic_round(c28 * 0.85, u7)
    c1 = stochastic_round(c7 * 0.6, u1)
    v1 = stochastic_round(c7 * 0.25 + 0.05, uview) if uview < 1.0 else 0
    return (c1, c7, c28, v1)


def _mature(m: Metrics, aov: int, theta: int, num: int, den: int) -> Metrics:
    """Conversion counts reported so far: ``floor(final x num/den + theta/1000)``.

    The per-ad-day offset ``theta`` (0..999) rounds small counts up or down instead
    of always down (a single purchase shows up early on some days, late on others).
    One offset for all windows keeps 1d_click <= 7d_click <= 28d_click; the result
    is nondecreasing in num/den and equals the final count once num == den.  Purchase
    values are the matured counts x ``aov``; a value without counts matures itself.
    """
    scale = den * 1000
    offset = theta * den
    purchase = [(c * num * 1000 + offset) // scale for c in m[PURCHASE : PURCHASE + 4]]
    if any(m[PURCHASE : PURCHASE + 4]):
        values = [c * aov for c in purchase]
    else:
        values = [(v * num * 1000 + offset) // scale for v in m[PURCHASE_VALUE:LEAD]]
    return (
        *m[:PURCHASE],
        *purchase,
        *values,
        *((c * num * 1000 + offset) // scale for c in m[LEAD:VIDEO]),
        *m[VIDEO:],
    )


def _partial(m: Metrics, aov: int, theta: int, secs: int) -> Metrics:
    """Today's numbers: counts x secs/86400, conversions also x maturity at age 0."""
    base = [x * secs // SECONDS_PER_DAY for x in m[:PURCHASE]]
    if base[IMPRESSIONS] > 0:
        base[REACH] = max(1, base[REACH])
    matured = _mature(m, aov, theta, secs * MATURITY_PER_MILLE[0], SECONDS_PER_DAY * 1000)
    video = [x * secs // SECONDS_PER_DAY for x in m[VIDEO:VIDEO_WATCH_SECONDS]]
    video.append(video[0] * seconds_per_play(m))
    return (*base, *matured[PURCHASE:VIDEO], *video)
