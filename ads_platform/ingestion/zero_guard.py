"""The all-zero guard: never store a day of zeros when the evidence says there was delivery.

Meta returns no row for an ad that did not deliver, so rows whose metrics are all zero
are a red flag on their own (the "errors as zeros" failure mode of upstream outages).
A closed day is blocked when its totals are zero and there is evidence of delivery:

* rows present, all zero, and either ads were active that day per the entity state or
  the days just before had delivery;
* no rows at all, and ads were active that day per the entity state (or, when the
  entity state has never been pulled, the days just before had delivery).

A quiet account (nothing active, nothing recent) passes with an empty partition.

Today (in the account's time zone) is guarded too: it is partial, so small numbers are
normal, but zeros written over it are exactly the failure this product exists to
prevent (a client dashboard showing zeros for hours).  Evidence that fits a partial day:

* spend, impressions and clicks never decrease within a day: a result lower in any of
  them than what is already stored for today is blocked (all zeros after a stored
  non-zero today included), whatever the entity state says;
* rows present and all zero, with ads active per the entity state or delivery on the
  days just before: blocked, as on a closed day (Meta omits ads that did not deliver);
* no rows at all while nothing is stored yet: a real zero early in the local day (Meta
  reports today with a delay, and ads may not have delivered yet), so it passes during
  the first ``TODAY_GRACE`` of the local day; after that, no rows while ads are active
  (or, entity state unknown, the days before delivered) is blocked like a closed day.

Blocking writes nothing, so the last good value of the day stays.  Days after the
account's local today are never fetched (see ``insights.split_started``); should one
reach the guard, it is blocked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ads_platform.datasets import AD_INSIGHTS_DAILY, AD_SETS, ADS, CAMPAIGNS
from ads_platform.frames import ENTITY_SPECS
from ads_platform.ingestion.outcomes import CheckOutcome
from ads_platform.lake import Lake

CHECK_NAME = "zero_guard"
#: How long into an account's local day "no rows yet" is a real zero, not a failure.
TODAY_GRACE = dt.timedelta(hours=4)
#: Spend is money with two decimals read back as floats: differences below this are noise.
SPEND_TOLERANCE = 0.005


@dataclass(frozen=True)
class DayTotals:
    rows: int
    spend: float
    impressions: int
    clicks: int

    @property
    def all_zero(self) -> bool:
        return self.spend == 0 and self.impressions == 0 and self.clicks == 0


def totals_of(day: pd.DataFrame | pa.Table) -> DayTotals:
    """A day's totals, from its validated frame or from the Arrow table to be written.

    From the table when the caller has it: a day of a range is a slice of the range's
    table, while a pandas slice of the range's frame (four sums and an index reset per
    day) cost the 90-day pull more than the sums.  Spend from the table is the exact
    decimal sum; missing counts (null) add nothing in both forms.
    """
    if not len(day):
        return DayTotals(rows=0, spend=0.0, impressions=0, clicks=0)
    if isinstance(day, pa.Table):

        def total(column: str) -> Any:
            value = pc.sum(day.column(column)).as_py()
            return 0 if value is None else value

    else:

        def total(column: str) -> Any:
            return day[column].fillna(0).sum()

    return DayTotals(
        rows=len(day),
        spend=float(total("spend")),
        impressions=int(total("impressions")),
        clicks=int(total("link_clicks") + total("clicks_all")),
    )


def totals_differ(a: DayTotals, b: DayTotals, tolerance: float) -> bool:
    """Whether two sums of the same delivery (spend or impressions) disagree beyond noise.

    Relative ``tolerance``, and never less than a cent: the reconciliations of ad-level
    rows with the account's day and of a breakdown with its unbroken day are this one
    comparison.
    """

    def off(x: float, y: float) -> bool:
        return abs(x - y) > max(tolerance * max(abs(x), abs(y)), 0.011)

    return off(a.spend, b.spend) or off(float(a.impressions), float(b.impressions))


class EntityState:
    """Latest known state of an account's ads, read once per pull from the lake."""

    def __init__(self, lake: Lake, account_id: str) -> None:
        self.known = False
        self._ads: pd.DataFrame | None = None
        self._stops: dict[str, pd.Timestamp] = {}
        ads = _latest(lake, ADS, account_id)
        if ads is None:
            return
        self.known = True
        self._ads = ads
        for dataset, column in ((CAMPAIGNS, "stop_time"), (AD_SETS, "end_time")):
            parents = _latest(lake, dataset, account_id)
            if parents is None or column not in parents:
                continue
            id_col = ENTITY_SPECS[dataset].id_column
            for parent_id, stop in zip(parents[id_col], parents[column], strict=True):
                if stop is not None and not pd.isna(stop):
                    self._stops[f"{dataset}:{parent_id}"] = pd.Timestamp(stop)

    def active_ads_on(self, day: dt.date, timezone: str) -> int:
        """Ads that are ACTIVE now, existed by the end of ``day`` and had not stopped."""
        if self._ads is None:
            return 0
        tz = ZoneInfo(timezone)
        start = pd.Timestamp(dt.datetime.combine(day, dt.time(), tz)).tz_convert("UTC")
        end = start + pd.Timedelta(days=1)
        ads = self._ads
        active = ads["effective_status"] == "ACTIVE"
        created = pd.to_datetime(ads["created_time"], utc=True)
        active &= created.isna() | (created < end)
        count = 0
        for ad_set_id, campaign_id, is_active in zip(
            ads["ad_set_id"], ads["campaign_id"], active, strict=True
        ):
            if not is_active:
                continue
            stops = [
                self._stops.get(f"ad_sets:{ad_set_id}"),
                self._stops.get(f"campaigns:{campaign_id}"),
            ]
            if any(stop is not None and stop < start for stop in stops):
                continue
            count += 1
        return count


def _latest(lake: Lake, dataset: str, account_id: str) -> pd.DataFrame | None:
    frame = lake.read(lake.partition_path(dataset, account_id))
    if frame is None or not len(frame):
        return None
    id_col = ENTITY_SPECS[dataset].id_column
    return frame.sort_values("valid_from").drop_duplicates(id_col, keep="last")


def stored_daily_spend(
    lake: Lake, account_id: str, days: Sequence[dt.date]
) -> dict[dt.date, DayTotals]:
    """Totals of already stored partitions (the days just before, and today as stored).

    Clicks are counted as :func:`totals_of` counts them (link + all clicks), so a stored
    day and a fresh result compare like for like.
    """
    out: dict[dt.date, DayTotals] = {}
    columns = ["spend", "impressions", "link_clicks", "clicks_all"]
    for day in days:
        path = lake.partition_path(AD_INSIGHTS_DAILY, account_id, day)
        if not path.exists():
            continue
        table = pq.read_table(path, columns=columns)

        def total(name: str, table: pa.Table = table) -> float:
            return sum(float(v) for v in table.column(name).to_pylist() if v is not None)

        out[day] = DayTotals(
            table.num_rows,
            total("spend"),
            int(total("impressions")),
            int(total("link_clicks") + total("clicks_all")),
        )
    return out


def evaluate(
    day: dt.date,
    totals: DayTotals,
    *,
    local_today: dt.date,
    active_ads: int | None,
    recent: Mapping[dt.date, DayTotals],
    stored_today: DayTotals | None = None,
    day_elapsed: dt.timedelta | None = None,
) -> CheckOutcome:
    """Decide one day; ``recent`` holds the totals of the days just before it.

    For today, ``stored_today`` is what is already stored for it (None: nothing) and
    ``day_elapsed`` how far into the account's local day the pull ran (None: unknown,
    taken as past the grace period).
    """
    meta: dict[str, object] = {
        "rows": totals.rows,
        "spend": totals.spend,
        "impressions": totals.impressions,
        "clicks": totals.clicks,
        "active_ads": active_ads if active_ads is not None else "unknown",
    }
    if day > local_today:
        return CheckOutcome(
            CHECK_NAME,
            False,
            f"blocked: {day} has not started in the account's time zone (local today "
            f"{local_today}); nothing was stored",
            meta,
        )
    decrease = _decrease(totals, stored_today, meta) if day == local_today else ""
    if decrease:
        return CheckOutcome(
            CHECK_NAME,
            False,
            f"blocked: {day} (today, partial) returned {decrease}, lower than what is "
            "already stored for today; spend, impressions and clicks never decrease "
            "within a day, so this looks like an API failure: nothing was stored and the "
            "previous data for today stays in place",
            meta,
        )
    if not totals.all_zero:
        return CheckOutcome(CHECK_NAME, True, "delivery recorded", meta)
    early = day == local_today and day_elapsed is not None and day_elapsed < TODAY_GRACE
    return _zero_verdict(day, totals, active_ads, recent, meta, early=early)


def _zero_verdict(
    day: dt.date,
    totals: DayTotals,
    active_ads: int | None,
    recent: Mapping[dt.date, DayTotals],
    meta: dict[str, object],
    *,
    early: bool,
) -> CheckOutcome:
    """An all-zero result: blocked when the evidence says there was delivery.

    ``early``: today, within ``TODAY_GRACE`` of the local midnight, when "no rows yet"
    is still a real zero.
    """
    nonzero = sorted(d for d, t in recent.items() if d < day and not t.all_zero)
    meta["recent_nonzero_days"] = ", ".join(str(d) for d in nonzero[-5:]) or "none"
    evidence = []
    if active_ads:
        evidence.append(f"{active_ads} ad(s) were active that day per the entity state")
    if nonzero:
        evidence.append(f"the account delivered on {nonzero[-1]}")
    if totals.rows > 0:
        blocked = bool(evidence)
        what = f"{totals.rows} row(s) with zero spend, impressions and clicks"
    else:
        blocked = bool(active_ads) or (active_ads is None and bool(nonzero))
        what = "no rows"
        if blocked and early:
            return CheckOutcome(
                CHECK_NAME, True, "early in the local day: no rows yet is a real zero", meta
            )
    if not blocked:
        return CheckOutcome(
            CHECK_NAME, True, f"quiet day: {what} and no evidence of delivery", meta
        )
    return CheckOutcome(
        CHECK_NAME,
        False,
        f"blocked: {day} returned {what} although {' and '.join(evidence)}; "
        "this looks like an API failure reported as zeros, so nothing was stored and the "
        "previous data for this day stays in place",
        meta,
    )


def _decrease(totals: DayTotals, stored: DayTotals | None, meta: dict[str, object]) -> str:
    """What ``totals`` is lower in than ``stored`` (``spend 0.00 < 305.77 stored, …``), or ""."""
    if stored is None:
        return ""
    meta["stored_spend"] = stored.spend
    meta["stored_impressions"] = stored.impressions
    meta["stored_clicks"] = stored.clicks
    lower = []
    if totals.spend < stored.spend - SPEND_TOLERANCE:
        lower.append(f"spend {totals.spend:.2f} < {stored.spend:.2f} stored")
    if totals.impressions < stored.impressions:
        lower.append(f"impressions {totals.impressions:,} < {stored.impressions:,} stored")
    if totals.clicks < stored.clicks:
        lower.append(f"clicks {totals.clicks:,} < {stored.clicks:,} stored")
    return ", ".join(lower)
