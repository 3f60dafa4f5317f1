"""The sandbox's world: ad accounts, campaigns, ad sets and ads, all from the seed.

History is anchored at a fixed date (``GENESIS``, 2024-01-01) rather than at the
clock, so moving the clock never rewrites the past: every entity is created
during 2024 (at a random minute between 00:00 and 00:59 account-local time), and
status changes and renames happen at fixed instants afterwards. The clock only
decides which of those instants have already happened:

* an entity is visible once its ``created_time`` is <= the sandbox instant;
* ``status`` is ACTIVE until its status event (PAUSED, ARCHIVED or DELETED), if
  any, has happened; ``effective_status`` also reflects the parents;
* three ads in five get their creative edited one to three times (a new creative
  id from the edit instant on, ``updated_time`` moves there; ``creatives.py``);
* about a quarter of the entities are renamed periodically (every 14-60 days,
  forever), so a client pulling on two clock days can see a rename; the name gets
  a `` v2``, `` v3``... suffix and ``updated_time`` moves to the rename instant.

Accounts are built lazily (the first time they are touched), so a 50-account x
500-ad sandbox starts instantly.

A *quiet* account (``World(quiet=...)``) has the same structure, but every campaign is
paused at ``QUIET_SINCE`` (local midnight) unless its own history stopped it earlier:
it delivered in 2024 and spends nothing from 2025 on, with nothing ACTIVE, the way a
client who paused everything looks to the API.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
import threading
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from .clock import UTC
from .hashing import h64

GENESIS = dt.date(2024, 1, 1)
FAR_DAY = dt.date(9999, 1, 1).toordinal()
#: Quiet accounts' campaigns are paused from this local day on: after every entity's
#: creation (campaigns by 2024-10-27, ad sets and ads at most 40 days later).
QUIET_SINCE = dt.date(2025, 1, 1)

ACTIVE = "ACTIVE"
PAUSED = "PAUSED"
ARCHIVED = "ARCHIVED"
DELETED = "DELETED"
HIDDEN_BY_DEFAULT = frozenset({ARCHIVED, DELETED})
EFFECTIVE_STATUSES = (
    ACTIVE,
    PAUSED,
    DELETED,
    ARCHIVED,
    "CAMPAIGN_PAUSED",
    "ADSET_PAUSED",
    "PENDING_REVIEW",
    "DISAPPROVED",
    "PREAPPROVED",
    "PENDING_BILLING_INFO",
    "IN_PROCESS",
    "WITH_ISSUES",
)

# (timezone, currency) cycled by account index so that even 3 accounts differ.
ACCOUNT_PROFILES: tuple[tuple[str, str], ...] = (
    ("America/New_York", "USD"),
    ("Europe/Berlin", "EUR"),
    ("Asia/Tokyo", "JPY"),
    ("UTC", "USD"),
    ("America/Los_Angeles", "USD"),
    ("Europe/London", "GBP"),
    ("America/Sao_Paulo", "BRL"),
    ("Australia/Sydney", "AUD"),
    ("Asia/Kolkata", "INR"),
    ("Pacific/Auckland", "NZD"),
)
# currency -> (decimals, minor units per US cent of spend)
CURRENCIES: dict[str, tuple[int, float]] = {
    "USD": (2, 1.0),
    "EUR": (2, 0.92),
    "JPY": (0, 1.5),
    "GBP": (2, 0.79),
    "BRL": (2, 5.0),
    "AUD": (2, 1.5),
    "INR": (2, 83.0),
    "NZD": (2, 1.65),
}

OBJECTIVES: tuple[tuple[str, float], ...] = (
    ("OUTCOME_SALES", 0.45),
    ("OUTCOME_LEADS", 0.25),
    ("OUTCOME_TRAFFIC", 0.15),
    ("OUTCOME_ENGAGEMENT", 0.08),
    ("OUTCOME_AWARENESS", 0.07),
)
GOALS: dict[str, tuple[str, ...]] = {
    "OUTCOME_SALES": ("OFFSITE_CONVERSIONS", "VALUE"),
    "OUTCOME_LEADS": ("LEAD_GENERATION", "OFFSITE_CONVERSIONS"),
    "OUTCOME_TRAFFIC": ("LINK_CLICKS", "LANDING_PAGE_VIEWS"),
    "OUTCOME_ENGAGEMENT": ("POST_ENGAGEMENT",),
    "OUTCOME_AWARENESS": ("REACH", "IMPRESSIONS"),
}

_BRANDS = ("Northwind", "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Soylent", "Stark")
_REGIONS = ("US", "DACH", "JP", "Global", "West", "UK", "BR", "ANZ", "IN", "NZ")
_THEMES = ("Spring Sale", "Always On", "Retargeting", "Launch", "Black Friday", "Brand")
_AUDIENCES = ("Broad", "Lookalike 1%", "Interests", "Website Visitors", "Advantage+")
_FORMATS = ("Video", "Carousel", "Static", "Reel", "Collection")
VIDEO_FORMATS = ("Video", "Reel")
_HOOKS = ("UGC", "Discount", "Testimonial", "Product Demo", "Founder Story", "Bundle")

FAMILY_PURCHASE = 1
FAMILY_LEAD = 2


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """An ad account's identity; cheap, built for all accounts at start-up."""

    index: int
    id: str
    digits: str
    name: str
    currency: str
    decimals: int
    rate: float
    timezone_name: str
    tz: ZoneInfo


@dataclass(frozen=True, slots=True)
class Entity:
    """A campaign, ad set or ad with its whole (fixed) history."""

    kind: str
    id: str
    account: AccountSpec
    campaign_id: str | None
    adset_id: str | None
    base_name: str
    created: dt.datetime
    start_day: int
    scheduled_end: dt.datetime | None
    end_day: int | None
    event_status: str | None
    event_time: dt.datetime | None
    event_day: int | None
    rename_first: dt.datetime | None
    rename_period_s: int
    objective: str | None = None
    optimization_goal: str | None = None
    billing_event: str | None = None
    daily_budget: int | None = None
    lifetime_budget: int | None = None
    creative_id: str | None = None
    #: Ads: every creative the ad has had (``creative_id`` first) and when each later
    #: one replaced the one before (one instant per edit).
    creative_ids: tuple[str, ...] = ()
    creative_edits: tuple[dt.datetime, ...] = ()

    def status_at(self, instant: dt.datetime) -> str:
        """Own configured status at ``instant``."""
        if self.event_time is not None and self.event_status and self.event_time <= instant:
            return self.event_status
        return ACTIVE

    def renames_at(self, instant: dt.datetime) -> tuple[int, dt.datetime | None]:
        """How many renames have happened by ``instant`` and when the last one was."""
        if self.rename_first is None or instant < self.rename_first:
            return 0, None
        seconds = int((instant - self.rename_first).total_seconds())
        k = seconds // self.rename_period_s + 1
        return k, self.rename_first + dt.timedelta(seconds=(k - 1) * self.rename_period_s)

    def name_at(self, instant: dt.datetime) -> str:
        k, _ = self.renames_at(instant)
        return self.base_name if k == 0 else f"{self.base_name} v{k + 1}"

    def creative_version(self, instant: dt.datetime) -> int:
        """Index in ``creative_ids`` of the creative the ad carries at ``instant``."""
        return sum(1 for edit in self.creative_edits if edit <= instant)

    def creative_at(self, instant: dt.datetime) -> str | None:
        if not self.creative_ids:
            return self.creative_id
        return self.creative_ids[self.creative_version(instant)]

    def updated_at(self, instant: dt.datetime) -> dt.datetime:
        latest = self.created
        if self.event_time is not None and self.event_time <= instant:
            latest = max(latest, self.event_time)
        k = self.creative_version(instant)
        if k:
            latest = max(latest, self.creative_edits[k - 1])
        _, renamed = self.renames_at(instant)
        if renamed is not None:
            latest = max(latest, renamed)
        return latest


@dataclass(frozen=True, slots=True)
class AdParams:
    """Per-ad delivery parameters (all money in US cents; scaled per currency later)."""

    pos: int
    start_day: int
    end_day: int
    base: float
    cpm: float
    ctr: float
    link_ratio: float
    freq: float
    family: int
    cvr: float
    reg_rate: float
    aov: float
    video: bool = False  # the creative is a video (the ad's format says Video or Reel)


@dataclass(frozen=True, slots=True)
class AccountData:
    """The full, fixed structure of one account (ads sorted by id)."""

    spec: AccountSpec
    campaigns: tuple[Entity, ...]
    adsets: tuple[Entity, ...]
    ads: tuple[Entity, ...]
    params: tuple[AdParams, ...]
    by_id: dict[str, Entity]

    def parents(self, entity: Entity) -> list[Entity]:
        """Ancestors nearest first (ad -> ad set, campaign)."""
        out: list[Entity] = []
        if entity.adset_id is not None:
            out.append(self.by_id[entity.adset_id])
        if entity.campaign_id is not None:
            out.append(self.by_id[entity.campaign_id])
        return out

    def effective_status(self, entity: Entity, instant: dt.datetime) -> str:
        """Meta-like effective status: DELETED/ARCHIVED propagate down, pauses show up."""
        chain = [entity, *self.parents(entity)]
        statuses = [e.status_at(instant) for e in chain]
        if DELETED in statuses:
            return DELETED
        if ARCHIVED in statuses:
            return ARCHIVED
        if statuses[0] == PAUSED:
            return PAUSED
        for parent, status in zip(chain[1:], statuses[1:], strict=True):
            if status == PAUSED:
                return "ADSET_PAUSED" if parent.kind == "adset" else "CAMPAIGN_PAUSED"
        return ACTIVE

    def entities(self, kind: str) -> tuple[Entity, ...]:
        if kind == "campaign":
            return self.campaigns
        if kind == "adset":
            return self.adsets
        return self.ads


def _local_instant(tz: ZoneInfo, day: dt.date, seconds: int) -> dt.datetime:
    local = dt.datetime.combine(day, dt.time(0), tzinfo=tz) + dt.timedelta(seconds=seconds)
    return local.astimezone(UTC)


def _entity_id(kind_digit: int, account_index: int, index: int, seed: int) -> str:
    tail = h64(seed, "entity", kind_digit, account_index, index) % 1_000_000
    return f"120{kind_digit}{account_index:03d}{index:05d}{tail:06d}"


def _creative_id(account_index: int, index: int, version: int, seed: int) -> str:
    """Id of an ad's creative after its ``version``-th edit (1..9); same shape as the
    first creative's (``1205...``) with kind digit 6."""
    tail = h64(seed, "creative", account_index, index, version) % 100_000
    return f"1206{account_index:03d}{index:05d}{version}{tail:05d}"


def account_index_of(object_id: str) -> int | None:
    """The account index an 18-digit campaign/ad set/ad/creative id encodes, if any."""
    if len(object_id) == 18 and object_id.startswith("120") and object_id[3] in "23456":
        return int(object_id[4:7])
    return None


class World:
    """Accounts from the seed; account structures built lazily and kept."""

    def __init__(
        self,
        seed: int,
        accounts: int,
        ads_per_account: int | None,
        quiet: frozenset[int] = frozenset(),
    ) -> None:
        self.seed = seed
        self.ads_per_account = ads_per_account
        self.quiet = quiet
        self.accounts: tuple[AccountSpec, ...] = tuple(self._make_specs(accounts))
        self._by_id: dict[str, AccountSpec] = {}
        for spec in self.accounts:
            self._by_id[spec.id] = spec
            self._by_id[spec.digits] = spec
        self._data: dict[int, AccountData] = {}
        self._lock = threading.Lock()

    # -- accounts --------------------------------------------------------------

    def _make_specs(self, count: int) -> list[AccountSpec]:
        specs: list[AccountSpec] = []
        seen: set[str] = set()
        for i in range(count):
            salt = 0
            while True:
                digits = str(10**15 + h64(self.seed, "account", i, salt) % (9 * 10**15))
                if digits not in seen:
                    break
                salt += 1
            seen.add(digits)
            tz_name, currency = ACCOUNT_PROFILES[i % len(ACCOUNT_PROFILES)]
            decimals, rate = CURRENCIES[currency]
            brand = _BRANDS[h64(self.seed, "brand", i) % len(_BRANDS)]
            region = _REGIONS[i % len(_REGIONS)]
            specs.append(
                AccountSpec(
                    index=i,
                    id=f"act_{digits}",
                    digits=digits,
                    name=f"{brand} {region} #{i + 1}",
                    currency=currency,
                    decimals=decimals,
                    rate=rate,
                    timezone_name=tz_name,
                    tz=ZoneInfo(tz_name),
                )
            )
        return specs

    def account(self, account_id: str) -> AccountSpec | None:
        """Look up ``act_<digits>`` or bare digits."""
        return self._by_id.get(account_id)

    def data(self, spec: AccountSpec) -> AccountData:
        with self._lock:
            built = self._data.get(spec.index)
        if built is not None:
            return built
        built = self._build(spec)
        with self._lock:
            return self._data.setdefault(spec.index, built)

    def ad_count(self, spec: AccountSpec) -> int:
        if self.ads_per_account is not None:
            return self.ads_per_account
        return 20 + h64(self.seed, "ad-count", spec.index) % 21

    # -- structure -------------------------------------------------------------

    def _build(self, spec: AccountSpec) -> AccountData:
        rng = random.Random(h64(self.seed, "structure", spec.index))
        n_ads = self.ad_count(spec)
        campaigns: list[Entity] = []
        adsets: list[Entity] = []
        ads: list[Entity] = []
        params: list[AdParams] = []
        by_id: dict[str, Entity] = {}
        forced = {1: PAUSED, 2: ARCHIVED, 3: DELETED}

        while len(ads) < n_ads:
            c_idx = len(campaigns)
            objective = _weighted(rng, OBJECTIVES)
            c_day = GENESIS + dt.timedelta(days=rng.randint(0, 300))
            campaign = self._entity(
                rng,
                spec,
                kind="campaign",
                index=c_idx,
                created_day=c_day,
                name=f"{rng.choice(_THEMES)} | {objective.removeprefix('OUTCOME_').title()}"
                f" | {_REGIONS[spec.index % len(_REGIONS)]} {c_idx + 1:03d}",
                event_prob=0.0 if c_idx == 0 else 0.08,
                end_prob=0.0 if c_idx == 0 else 0.05,
                force_rename=c_idx == 0,
                objective=objective,
                campaign=None,
                adset=None,
            )
            if spec.index in self.quiet:
                campaign = _paused_since(campaign, QUIET_SINCE)
            campaigns.append(campaign)
            by_id[campaign.id] = campaign
            for _ in range(rng.randint(1, 3)):
                if len(ads) >= n_ads:
                    break
                s_idx = len(adsets)
                s_day = c_day + dt.timedelta(days=rng.randint(0, 20))
                adset = self._entity(
                    rng,
                    spec,
                    kind="adset",
                    index=s_idx,
                    created_day=s_day,
                    name=f"{rng.choice(_AUDIENCES)} | {rng.choice(('Auto', 'Feeds', 'Reels'))}"
                    f" {s_idx + 1:03d}",
                    event_prob=0.0 if c_idx == 0 else 0.08,
                    end_prob=0.0 if c_idx == 0 else 0.10,
                    force_rename=False,
                    objective=objective,
                    campaign=campaign,
                    adset=None,
                )
                adsets.append(adset)
                by_id[adset.id] = adset
                for _ in range(rng.randint(1, 6)):
                    if len(ads) >= n_ads:
                        break
                    a_idx = len(ads)
                    a_day = s_day + dt.timedelta(days=rng.randint(0, 20))
                    ad = self._entity(
                        rng,
                        spec,
                        kind="ad",
                        index=a_idx,
                        created_day=a_day,
                        name=f"{rng.choice(_FORMATS)} - {rng.choice(_HOOKS)} #{a_idx + 1}",
                        event_prob=0.15,
                        end_prob=0.0,
                        force_rename=False,
                        objective=objective,
                        campaign=campaign,
                        adset=adset,
                        forced_status=forced.get(a_idx),
                    )
                    ads.append(ad)
                    by_id[ad.id] = ad
                    params.append(self._ad_params(rng, a_idx, ad, adset, campaign, objective))

        return AccountData(
            spec=spec,
            campaigns=tuple(campaigns),
            adsets=tuple(adsets),
            ads=tuple(ads),
            params=tuple(params),
            by_id=by_id,
        )

    def _entity(
        self,
        rng: random.Random,
        spec: AccountSpec,
        *,
        kind: str,
        index: int,
        created_day: dt.date,
        name: str,
        event_prob: float,
        end_prob: float,
        force_rename: bool,
        objective: str,
        campaign: Entity | None,
        adset: Entity | None,
        forced_status: str | None = None,
    ) -> Entity:
        kind_digit = {"campaign": 2, "adset": 3, "ad": 4}[kind]
        created = _local_instant(spec.tz, created_day, rng.randint(0, 3599))

        event_status: str | None = None
        event_time: dt.datetime | None = None
        event_day: int | None = None
        roll = rng.random()
        if forced_status is not None:
            event_status = forced_status
            e_day = created_day + dt.timedelta(days=rng.randint(30, 300))
        elif roll < event_prob:
            event_status = _weighted(rng, ((PAUSED, 0.4), (ARCHIVED, 0.25), (DELETED, 0.35)))
            e_day = created_day + dt.timedelta(days=rng.randint(30, 900))
        if event_status is not None:
            event_time = _local_instant(spec.tz, e_day, rng.randint(0, 3599))
            event_day = e_day.toordinal()

        scheduled_end: dt.datetime | None = None
        end_day: int | None = None
        if rng.random() < end_prob:
            x_day = created_day + dt.timedelta(days=rng.randint(30, 700))
            scheduled_end = _local_instant(spec.tz, x_day, rng.randint(0, 3599))
            end_day = x_day.toordinal()

        rename_first: dt.datetime | None = None
        period_days = rng.randint(14, 60)
        if force_rename or rng.random() < 0.25:
            r_day = created_day + dt.timedelta(days=rng.randint(10, 60))
            rename_first = _local_instant(spec.tz, r_day, rng.randint(0, 3599))

        creative_ids: tuple[str, ...] = ()
        edits: tuple[dt.datetime, ...] = ()
        if kind == "ad":
            edits = self._creative_edits(spec, index, created_day, event_time)
            creative_ids = (
                _entity_id(5, spec.index, index, self.seed),
                *(_creative_id(spec.index, index, k, self.seed) for k in range(1, len(edits) + 1)),
            )

        daily_budget: int | None = None
        lifetime_budget: int | None = None
        budget_roll = rng.random()
        budget_minor = int(round(rng.uniform(2_000, 50_000) * spec.rate, -2)) or 100
        goal: str | None = None
        billing: str | None = None
        if kind == "campaign":
            if scheduled_end is not None and budget_roll < 0.5:
                lifetime_budget = budget_minor * 30
            elif budget_roll < 0.6:
                daily_budget = budget_minor
        elif kind == "adset":
            assert campaign is not None
            if campaign.daily_budget is None and campaign.lifetime_budget is None:
                if scheduled_end is not None and budget_roll < 0.3:
                    lifetime_budget = budget_minor * 30
                else:
                    daily_budget = budget_minor // 2 or 100
            goal = rng.choice(GOALS[objective])
            billing = (
                "LINK_CLICKS" if goal == "LINK_CLICKS" and budget_roll < 0.3 else "IMPRESSIONS"
            )

        return Entity(
            kind=kind,
            id=_entity_id(kind_digit, spec.index, index, self.seed),
            account=spec,
            campaign_id=campaign.id if campaign is not None else None,
            adset_id=adset.id if adset is not None else None,
            base_name=name,
            created=created,
            start_day=created_day.toordinal(),
            scheduled_end=scheduled_end,
            end_day=end_day,
            event_status=event_status,
            event_time=event_time,
            event_day=event_day,
            rename_first=rename_first,
            rename_period_s=period_days * 86_400,
            objective=objective if kind == "campaign" else None,
            optimization_goal=goal,
            billing_event=billing,
            daily_budget=daily_budget,
            lifetime_budget=lifetime_budget,
            creative_id=creative_ids[0] if creative_ids else None,
            creative_ids=creative_ids,
            creative_edits=edits,
        )

    def _creative_edits(
        self, spec: AccountSpec, index: int, created_day: dt.date, stop: dt.datetime | None
    ) -> tuple[dt.datetime, ...]:
        """When the ad's creative is replaced: 0 to 3 edits (2 ads in 5 keep theirs), the
        first 20-219 days after creation, the next 60-379 days apart (so some fall in
        2025-2026, where a client pulling on two clock days sees the change), all
        before the ad stops.

        Drawn from their own hashes, not the structure's random stream, so the rest of
        the world is the one the seed always gave.
        """
        roll = h64(self.seed, "creative-edits", spec.index, index)
        count = (0, 0, 1, 2, 3)[roll % 5]
        edits: list[dt.datetime] = []
        day = created_day
        for k in range(count):
            gap = 20 + (roll >> (8 + 8 * k)) % 200 if k == 0 else 60 + (roll >> (8 + 8 * k)) % 320
            day += dt.timedelta(days=gap)
            moment = _local_instant(spec.tz, day, 9 * 3600 + (roll >> (40 + 8 * k)) % 28_800)
            if stop is not None and moment >= stop:
                break
            edits.append(moment)
        return tuple(edits)

    @staticmethod
    def _ad_params(
        rng: random.Random,
        pos: int,
        ad: Entity,
        adset: Entity,
        campaign: Entity,
        objective: str,
    ) -> AdParams:
        end = FAR_DAY
        for e in (ad, adset, campaign):
            for day in (e.event_day, e.end_day):
                if day is not None:
                    end = min(end, day)
        base = rng.lognormvariate(math.log(1_500.0), 1.1)
        if rng.random() < 0.03:
            base *= rng.uniform(5.0, 15.0)
        base = min(base, 5_000_000.0)
        if objective == "OUTCOME_AWARENESS":
            cpm, ctr = rng.uniform(200, 600), rng.uniform(0.002, 0.008)
        elif objective == "OUTCOME_TRAFFIC":
            cpm, ctr = rng.uniform(600, 2_200), rng.uniform(0.008, 0.03)
        else:
            cpm, ctr = rng.uniform(600, 2_200), rng.uniform(0.005, 0.02)
        if objective == "OUTCOME_SALES":
            family, cvr, reg = FAMILY_PURCHASE, rng.uniform(0.01, 0.05), rng.uniform(0.002, 0.01)
        elif objective == "OUTCOME_LEADS":
            family, cvr, reg = FAMILY_LEAD, rng.uniform(0.05, 0.15), rng.uniform(0.005, 0.02)
        else:
            family, cvr, reg = FAMILY_PURCHASE, rng.uniform(0.002, 0.008), 0.0
        return AdParams(
            pos=pos,
            start_day=ad.start_day,
            end_day=end,
            base=base,
            cpm=cpm,
            ctr=ctr,
            link_ratio=rng.uniform(0.55, 0.9),
            freq=rng.uniform(1.02, 1.4),
            family=family,
            cvr=cvr,
            reg_rate=reg,
            aov=rng.uniform(3_000, 12_000),
            video=ad.base_name.startswith(VIDEO_FORMATS),
        )


def _paused_since(campaign: Entity, day: dt.date) -> Entity:
    """``campaign`` paused at local midnight of ``day``, unless its own status event
    (pause, archive, deletion) came first.  Consumes no randomness, so the rest of the
    account's structure is the one the seed gives."""
    if campaign.event_day is not None and campaign.event_day <= day.toordinal():
        return campaign
    return dataclasses.replace(
        campaign,
        event_status=PAUSED,
        event_time=_local_instant(campaign.account.tz, day, 0),
        event_day=day.toordinal(),
    )


def _weighted(rng: random.Random, choices: tuple[tuple[str, float], ...]) -> str:
    roll = rng.random() * sum(w for _, w in choices)
    for value, weight in choices:
        roll -= weight
        if roll < 0:
            return value
    return choices[-1][0]
