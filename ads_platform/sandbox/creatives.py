"""Ad creatives as Graph renders them (``act_<id>/adcreatives``, ``GET <creative_id>``).

Every ad has its own creative; three ads in five get it replaced one to three times
(``world.World._creative_edits``): the edit creates a new creative (new id, often a
new headline, landing page or ``url_tags``) and the ad's ``creative{id}`` points at it
from the edit instant on. Old creatives stay listed, as on Graph, so a daily pull
sees history accumulate. Creatives are visible once created (the ad's creation, or
the edit instant).

Content is drawn from stable hashes of the ids: a video creative (``video_id``,
``object_story_spec.video_data``) for ads whose format is Video or Reel, an image
creative (``image_hash``, ``object_story_spec.link_data``) otherwise; a landing URL
on the account brand's site; ``url_tags`` in one of several styles, most with Meta's
dynamic macros (``{{campaign.name}}``, ``{{ad.id}}``...), one static, some absent.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any

from .hashing import h64
from .wire import fmt_time
from .world import VIDEO_FORMATS, AccountData, AccountSpec, Entity, World

URL_TAG_STYLES: tuple[str | None, ...] = (
    "utm_source=facebook&utm_medium=paid_social&utm_campaign={{campaign.name}}"
    "&utm_content={{ad.name}}",
    "utm_source=facebook&utm_medium=cpc&utm_campaign={{campaign.id}}&utm_term={{adset.name}}"
    "&utm_content={{ad.id}}",
    "utm_source={{site_source_name}}&utm_medium=paid&utm_campaign={{campaign.name}}"
    "&utm_id={{campaign.id}}&fbadid={{ad.id}}",
    "utm_source=fb&utm_medium=paid&utm_campaign=always_on",
    None,  # no url_tags: the field is absent
)
PATHS = ("", "products/new", "sale", "collections/bestsellers", "signup", "lp/offer")
CTA_BY_OBJECTIVE: dict[str, tuple[str, ...]] = {
    "OUTCOME_SALES": ("SHOP_NOW", "BUY_NOW", "GET_OFFER"),
    "OUTCOME_LEADS": ("SIGN_UP", "LEARN_MORE", "SUBSCRIBE"),
    "OUTCOME_TRAFFIC": ("LEARN_MORE", "SHOP_NOW"),
    "OUTCOME_ENGAGEMENT": ("LEARN_MORE", "WATCH_MORE"),
    "OUTCOME_AWARENESS": ("LEARN_MORE", "WATCH_MORE"),
}
HEADLINES = (
    "New season, new favourites",
    "Free shipping this week",
    "Made to last",
    "See why customers switch",
    "Your first order, 20% off",
    "Limited stock",
)
BODIES = (
    "Discover the range everyone is talking about.",
    "Loved by thousands. Try it risk-free for 30 days.",
    "Quality you can feel, prices you will love.",
    "Join today and get early access to new drops.",
    "Tap to see what is new this week.",
)
FIELDS = (
    "id",
    "account_id",
    "name",
    "title",
    "body",
    "call_to_action_type",
    "object_type",
    "object_story_spec",
    "link_url",
    "url_tags",
    "image_hash",
    "video_id",
    "thumbnail_url",
    "effective_object_story_id",
    "status",
)


@dataclass(frozen=True, slots=True)
class Creative:
    """One creative of one ad: its view and when it was the ad's creative."""

    id: str
    ad: Entity
    version: int
    created: dt.datetime
    replaced: dt.datetime | None  # when the next edit replaced it, if ever
    view: dict[str, Any]


def page_id(seed: int, account_digits: str) -> str:
    """The Facebook page an account advertises from."""
    return str(10**14 + h64(seed, "page", account_digits) % (9 * 10**14))


def _pick(options: tuple[Any, ...], *parts: object) -> Any:
    return options[h64(*parts) % len(options)]


def build(seed: int, data: AccountData) -> tuple[Creative, ...]:
    """All creatives of an account, every version of every ad (clock-independent)."""
    spec = data.spec
    brand = spec.name.split()[0].lower()
    page = page_id(seed, spec.digits)
    out: list[Creative] = []
    for ad in data.ads:
        campaign = data.by_id[ad.campaign_id] if ad.campaign_id else ad
        objective = campaign.objective or "OUTCOME_TRAFFIC"
        video = ad.base_name.startswith(VIDEO_FORMATS)
        starts = (ad.created, *ad.creative_edits)
        for k, creative_id in enumerate(ad.creative_ids):
            salt = (seed, creative_id)
            cta = _pick(CTA_BY_OBJECTIVE[objective], *salt, "cta")
            path = _pick(PATHS, *salt, "path")
            link = (
                f"https://www.{brand}.example/{path}" if path else f"https://www.{brand}.example/"
            )
            title = _pick(HEADLINES, *salt, "title")
            body = _pick(BODIES, *salt, "body")
            tags = _pick(URL_TAG_STYLES, *salt, "tags")
            thumb = (
                f"https://scontent.xx.fbcdn.net/v/t45.1600-4/{creative_id}_n.jpg"
                f"?stp=dst-jpg_p64x64&_nc_hash={h64(*salt, 'thumb') % 16**8:08x}"
            )
            cta_spec = {"type": cta, "value": {"link": link}}
            view: dict[str, Any] = {
                "id": creative_id,
                "account_id": spec.digits,
                "name": f"{ad.base_name} - Creative {starts[k].astimezone(spec.tz):%Y-%m-%d}",
                "title": title,
                "body": body,
                "call_to_action_type": cta,
                "link_url": link,
                "thumbnail_url": thumb,
                "status": "ACTIVE",
                "effective_object_story_id": f"{page}_{10**15 + h64(*salt, 'post') % 10**15}",
            }
            if video:
                video_id = str(10**15 + h64(*salt, "video") % (9 * 10**15))
                view["object_type"] = "VIDEO"
                view["video_id"] = video_id
                view["object_story_spec"] = {
                    "page_id": page,
                    "video_data": {
                        "video_id": video_id,
                        "title": title,
                        "message": body,
                        "image_url": thumb,
                        "call_to_action": cta_spec,
                    },
                }
            else:
                image_hash = f"{h64(*salt, 'image'):016x}{h64(*salt, 'image', 2):016x}"
                view["object_type"] = "SHARE"
                view["image_hash"] = image_hash
                view["object_story_spec"] = {
                    "page_id": page,
                    "link_data": {
                        "link": link,
                        "message": body,
                        "name": title,
                        "image_hash": image_hash,
                        "call_to_action": cta_spec,
                    },
                }
            if tags is not None:
                view["url_tags"] = tags
            out.append(
                Creative(
                    id=creative_id,
                    ad=ad,
                    version=k,
                    created=starts[k],
                    replaced=starts[k + 1] if k + 1 < len(starts) else None,
                    view=view,
                )
            )
    return tuple(out)


def visible(creatives: tuple[Creative, ...], instant: dt.datetime) -> list[Creative]:
    """Creatives that exist at ``instant``, newest first (created, then id, descending)."""
    shown = [c for c in creatives if c.created <= instant]
    shown.sort(key=lambda c: (c.created, c.id), reverse=True)
    return shown


class CreativeBook:
    """Creatives per account, built on first use and kept (they never change)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._lock = threading.Lock()
        self._built: dict[int, tuple[Creative, ...]] = {}
        self._by_id: dict[int, dict[str, Creative]] = {}

    def of(self, spec: AccountSpec) -> tuple[Creative, ...]:
        with self._lock:
            hit = self._built.get(spec.index)
        if hit is not None:
            return hit
        built = build(self.world.seed, self.world.data(spec))
        with self._lock:
            self._by_id.setdefault(spec.index, {c.id: c for c in built})
            return self._built.setdefault(spec.index, built)

    def get(self, spec: AccountSpec, creative_id: str) -> Creative | None:
        self.of(spec)
        with self._lock:
            return self._by_id[spec.index].get(creative_id)


def truth(book: CreativeBook, spec: AccountSpec, instant: dt.datetime) -> dict[str, Any]:
    """Every creative visible at ``instant`` with its ad and validity, newest first.

    ``valid_to`` is the instant the next edit replaced it, when that has happened
    (``None``: it is the ad's creative now); ``ads`` maps each visible ad to its
    current creative id, as ``GET <ad_id>?fields=creative`` answers.
    """
    creatives = visible(book.of(spec), instant)
    ads = {
        ad.id: ad.creative_at(instant) for ad in book.world.data(spec).ads if ad.created <= instant
    }
    return {
        "account_id": spec.id,
        "instant": fmt_time(instant),
        "creatives": [
            {
                **c.view,
                "ad_id": c.ad.id,
                "version": c.version,
                "valid_from": fmt_time(c.created),
                "valid_to": (
                    fmt_time(c.replaced)
                    if c.replaced is not None and c.replaced <= instant
                    else None
                ),
            }
            for c in creatives
        ],
        "ads": ads,
    }
