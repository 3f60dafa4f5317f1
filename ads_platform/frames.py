"""Graph API rows → typed pandas frames, losing nothing the API returned.

Meta sends every scalar as a string.  Counts are parsed with ``int()`` from the
string (never through a float), money is parsed with ``Decimal`` and rounded to the
cent only as a float64 view for validation; the Parquet file stores it as an exact
``decimal128``.  A field the API omits stays null: a missing ``reach`` is not zero,
and an action without ``value`` keeps its other windows.  Action lists are kept as
they came, flattened to ``(stat, action_type, window, value)`` string tuples so an
action type nobody has seen before is stored, not dropped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import pandas as pd
import pyarrow as pa

from ads_platform.datasets import (
    ACCOUNT_INSIGHTS,
    AD_HISTORY,
    AD_INSIGHTS,
    AD_SET_HISTORY,
    CAMPAIGN_HISTORY,
    CREATIVE_HISTORY,
    Dataset,
)
from ads_platform.datasets.base import ACTION_LIST
from ads_platform.datasets.creatives import LANDING_COLUMNS, UNTRACKED
from ads_platform.datasets.entities import VERSION_COLUMNS
from ads_platform.datasets.insights import ACTION_STATS, VIDEO_AVG_TIME, VIDEO_COUNTS, VIDEO_FIELDS
from ads_platform.datasets.passthrough import passthrough_of
from ads_platform.insights_fields import FieldKind
from ads_platform.landing_urls import parse_landing_url
from ads_platform.meta.errors import MalformedResponseError, required_field

#: Endpoint insight rows come from (sync pages or the async report run of the same call).
INSIGHTS_ENDPOINT = "act/insights"


class RowError(MalformedResponseError, ValueError):
    """A row from the API could not be parsed; the message names the field and endpoint.

    A :class:`MalformedResponseError` (kind ``malformed``) so that wherever it escapes it
    reads as a broken Graph answer, and a ``ValueError`` as before.  Callers that can
    keep the other days turn it into a blocked day (``ValidationFailed``).
    """


@contextmanager
def from_endpoint(endpoint: str, account_id: str | None = None) -> Iterator[None]:
    """Name the endpoint (and account) in any :class:`RowError` raised while parsing its rows."""
    try:
        yield
    except RowError as exc:
        exc.endpoint = exc.endpoint or endpoint
        exc.account_id = exc.account_id or account_id
        raise


def required(
    row: Mapping[str, Any], field: str, *, endpoint: str, account_id: str | None = None
) -> Any:
    """A field the platform relies on (see :func:`ads_platform.meta.errors.required_field`)."""
    return required_field(
        row, field, endpoint=endpoint, account_id=account_id, what="row", error=RowError
    )


def parse_count(value: Any, field: str) -> int | None:
    """Exact integer from Meta's string; None when absent."""
    if type(value) is str and value:
        try:  # the common case first: Meta's digits
            return int(value)
        except ValueError:
            pass
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RowError(f"{field}: expected a count, got {value!r}")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        try:
            exact = Decimal(text)
        except InvalidOperation:
            raise RowError(f"{field}: expected a count, got {value!r}") from None
        if exact != exact.to_integral_value():
            raise RowError(f"{field}: expected a whole count, got {value!r}") from None
        return int(exact)


def parse_money(value: Any, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise RowError(f"{field}: expected an amount, got {value!r}") from None
    if not amount.is_finite():
        raise RowError(f"{field}: expected a finite amount, got {value!r}")
    return amount


def parse_number(value: Any, field: str) -> float | None:
    """A decimal number (cost, rate, average) from Meta's string; None when absent."""
    amount = parse_money(value, field)
    return None if amount is None else float(amount)


def parse_text(value: Any, field: str) -> str | None:
    """A label (a ranking, an objective); None when absent, an error when it is not a scalar."""
    if value is None or value == "":
        return None
    if isinstance(value, (Mapping, list)):
        raise RowError(f"{field}: expected a single value, got {type(value).__name__}")
    return str(value)


#: How each scalar kind of :mod:`ads_platform.insights_fields` is parsed from the wire.
PARSERS: Mapping[FieldKind, Callable[[Any, str], Any]] = {
    FieldKind.COUNT: parse_count,
    FieldKind.NUMBER: parse_number,
    FieldKind.TEXT: parse_text,
}


_ACTION_FIELDS = ("stat", "action_type", "window", "value")


def flatten_actions(row: Mapping[str, Any]) -> list[dict[str, str | None]]:
    """Every element and every window of every action list, as strings."""
    column = ActionColumn()
    column.add(row)
    return [
        dict(zip(_ACTION_FIELDS, item, strict=True)) for item in zip(*column.columns, strict=True)
    ]


class ActionColumn:
    """The flattened action lists of many rows, built straight into one Arrow list array.

    Why: as Python lists of dicts, a 90-day pull's actions were millions of small
    objects made, checked and converted again for the Parquet write; as Arrow they are
    four string arrays and their offsets, already of the type the file stores.
    """

    def __init__(self) -> None:
        self._offsets = [0]
        #: ``stat``, ``action_type``, ``window`` and ``value`` of every element so far.
        self.columns: tuple[list[str | None], ...] = ([], [], [], [])

    def add(self, row: Mapping[str, Any]) -> None:
        """One row's elements: every element and every window of every action list."""
        stats, kinds, windows, values = self.columns
        add_stat, add_kind, add_window, add_value = (
            stats.append,
            kinds.append,
            windows.append,
            values.append,
        )
        for stat in ACTION_STATS:
            items = row.get(stat)
            if not items:
                continue
            if not isinstance(items, list):
                raise RowError(f"{stat}: expected a list, got {type(items).__name__}")
            for item in items:
                if not isinstance(item, Mapping):
                    raise RowError(f"{stat}: expected objects in the list, got {item!r}")
                action_type = item.get("action_type")
                kind = None if action_type is None else str(action_type)
                for key, value in item.items():
                    if key == "action_type":
                        continue
                    add_stat(stat)
                    add_kind(kind)
                    add_window(key if type(key) is str else str(key))
                    add_value(value if type(value) is str or value is None else str(value))
                if len(item) == 1:
                    # An action with no value and no window: keep that it was reported.
                    add_stat(stat)
                    add_kind(kind)
                    add_window(None)
                    add_value(None)
        self._offsets.append(len(stats))

    def array(self) -> pa.Array:
        struct = ACTION_LIST.value_type
        items = pa.StructArray.from_arrays(
            [pa.array(c, type=pa.string()) for c in self.columns], fields=list(struct)
        )
        return pa.ListArray.from_arrays(pa.array(self._offsets, type=pa.int32()), items)


def _video_list(row: Mapping[str, Any], field: str) -> list[Any] | None:
    items = row.get(field)
    if items is None:
        return None
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise RowError(f"{field}: expected a list of objects, got {items!r}")
    return items


def video_metrics(row: Mapping[str, Any]) -> dict[str, int | float | None]:
    """The video columns of one ad row: each list's ``value``s summed, null when absent.

    Meta sends one ``video_view`` element per list; should it send several, counts add
    up, while the average watch time is taken from the ``video_view`` element only (an
    average cannot be summed).
    """
    out: dict[str, int | float | None] = {}
    for column, api in VIDEO_COUNTS:
        items = row.get(api)
        if items is None:  # not a video ad: no list at all
            out[column] = None
            continue
        if type(items) is list and len(items) == 1 and type(items[0]) is dict:
            out[column] = parse_count(items[0].get("value"), api)  # Meta's one element
            continue
        items = _video_list(row, api)
        counts = [parse_count(i.get("value"), api) for i in items or ()]
        known = [c for c in counts if c is not None]
        out[column] = sum(known) if known else None
    column, api = VIDEO_AVG_TIME
    views = [i for i in _video_list(row, api) or () if i.get("action_type") == "video_view"]
    avg = parse_money(views[0].get("value"), api) if views else None
    if avg is not None and avg < 0:
        raise RowError(f"{api}: expected a non-negative average, got {avg}")
    out[column] = None if avg is None else float(avg)
    return out


def _act(account_id: Any) -> str:
    text = str(account_id)
    return text if text.startswith("act_") else f"act_{text}"


def _day(row: Mapping[str, Any], account_id: str | None = None) -> dt.date:
    start = required(row, "date_start", endpoint=INSIGHTS_ENDPOINT, account_id=account_id)
    stop = row.get("date_stop")
    if stop and stop != start:
        raise RowError(f"date_start {start} != date_stop {stop}: expected time_increment=1 rows")
    try:
        return dt.date.fromisoformat(str(start))
    except ValueError:
        raise RowError(f"date_start: not a date: {start!r}") from None


def insights_frame(
    rows: Iterable[Mapping[str, Any]],
    *,
    account_id: str,
    currency: str,
    fetched_at: dt.datetime,
    run_id: str,
    dataset: Dataset = AD_INSIGHTS,
) -> pd.DataFrame:
    """Ad-level daily insight rows → the ``ad_insights_daily`` frame.

    An ad-level row without its ad, ad set or campaign id cannot be stored (nor joined
    to a name): it is a :class:`RowError` naming the field, not a null key.  ``dataset``
    is the declaration with the settings' passthrough columns, each parsed by its kind
    (:func:`ads_platform.datasets.passthrough.ad_insights_dataset`).
    """
    return _insights(rows, dataset, account_id, currency, fetched_at, run_id, ad_level=True)


def account_insights_frame(
    rows: Iterable[Mapping[str, Any]],
    *,
    account_id: str,
    currency: str,
    fetched_at: dt.datetime,
    run_id: str,
) -> pd.DataFrame:
    """Account-level daily insight rows → the ``account_insights_daily`` frame."""
    return _insights(
        rows, ACCOUNT_INSIGHTS, account_id, currency, fetched_at, run_id, ad_level=False
    )


#: Ad-level ids: stored column → API field.
_AD_IDS = (("campaign_id", "campaign_id"), ("ad_set_id", "adset_id"), ("ad_id", "ad_id"))


def _insights(
    rows: Iterable[Mapping[str, Any]],
    dataset: Dataset,
    account_id: str,
    currency: str,
    fetched_at: dt.datetime,
    run_id: str,
    *,
    ad_level: bool,
) -> pd.DataFrame:
    """One parse for both levels: the same metrics, plus ids and actions at ad level.

    Column by column: each row's values go straight into its columns' lists (actions
    into one Arrow array), never into a dict per row.
    """
    names = [f.name for f in dataset.arrow if f.name != "actions"]
    columns: dict[str, list[Any]] = {name: [] for name in names}
    actions = ActionColumn() if ad_level else None
    ids = [(columns[column].append, api) for column, api in (_AD_IDS if ad_level else ())]
    date_day, account, currency_col = (
        columns["date_day"],
        columns["account_id"],
        columns["currency"],
    )
    impressions_col, reach, clicks, link_clicks = (
        columns["impressions"],
        columns["reach"],
        columns["clicks_all"],
        columns["link_clicks"],
    )
    spend_col = columns["spend"]
    video = [columns[column] for column, _ in VIDEO_FIELDS] if ad_level else []
    video_names = [column for column, _ in VIDEO_FIELDS]
    extra = [
        (columns[f.name].append, f.name, PARSERS[f.kind])
        for f in (passthrough_of(dataset) if ad_level else ())
    ]
    n = 0
    with from_endpoint(INSIGHTS_ENDPOINT, account_id):
        for row in rows:
            for append, api in ids:
                value = row.get(api) if type(row) is dict else None
                if value is None or value == "":
                    value = required(row, api, endpoint=INSIGHTS_ENDPOINT, account_id=account_id)
                append(str(value))
            spend = parse_money(row.get("spend"), "spend")
            impressions = parse_count(row.get("impressions"), "impressions")
            date_day.append(_day(row, account_id))
            account.append(_act(row.get("account_id") or account_id))
            currency_col.append(str(row.get("account_currency") or currency))
            impressions_col.append(0 if impressions is None else impressions)
            reach.append(parse_count(row.get("reach"), "reach"))
            clicks.append(parse_count(row.get("clicks"), "clicks"))
            link_clicks.append(parse_count(row.get("inline_link_clicks"), "inline_link_clicks"))
            spend_col.append(Decimal(0) if spend is None else spend)
            if actions is not None:
                actions.add(row)
                metrics = video_metrics(row)
                for values, name in zip(video, video_names, strict=True):
                    values.append(metrics[name])
                for append_extra, api, parse in extra:
                    append_extra(parse(row.get(api), api))
            n += 1
    columns["fetched_at"] = [fetched_at] * n
    columns["run_id"] = [run_id] * n
    typed: dict[str, Sequence[Any] | pa.Array] = dict(columns)
    if actions is not None:
        typed["actions"] = actions.array()
    return dataset.frame_from_columns(typed)


def _str_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def record_hash(record: Mapping[str, Any], fields: Iterable[str]) -> str:
    """A stable hash of an entity's tracked fields: a changed hash is a new version."""
    payload = json.dumps({f: record.get(f) for f in fields}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def parse_meta_time(value: Any) -> dt.datetime | None:
    """Meta's ``2026-01-05T10:11:12+0000`` → aware UTC datetime; None when absent."""
    if value is None or value == "" or value == 0:
        return None
    text = str(value)
    if text.isdigit():
        return dt.datetime.fromtimestamp(int(text), tz=dt.UTC)
    if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


# -- entities (campaigns, ad sets, ads) -------------------------------------------------


class EntitySpec:
    """How one entity kind is asked for and parsed; its columns are its dataset's.

    ``untracked`` columns are stored but do not make a new version when they change
    (derived columns, per-request signed URLs).  ``status_column`` is what a pull
    counts by; ``filter_statuses`` says whether the edge takes ``effective_status``
    (``adcreatives`` does not: it lists every creative).
    """

    def __init__(
        self,
        dataset: Dataset,
        edge: Literal["campaigns", "adsets", "ads", "adcreatives"],
        renames: Mapping[str, str],
        *,
        untracked: Iterable[str] = (),
        status_column: str = "effective_status",
        filter_statuses: bool = True,
    ) -> None:
        self.dataset = dataset
        self.edge = edge
        self.id_column = dataset.grain[0]
        self.api_fields = dataset.api_fields
        self.arrow = dataset.arrow
        self.renames = dict(renames)
        skipped = {*VERSION_COLUMNS, *untracked}
        self.tracked = [n for n in self.arrow.names if n not in skipped]
        self.status_column = status_column
        self.filter_statuses = filter_statuses

    @property
    def name(self) -> str:
        return self.dataset.name

    @property
    def endpoint(self) -> str:
        return f"act/{self.edge}"

    def parse(self, row: Mapping[str, Any], account_id: str) -> dict[str, Any]:
        """One API object → one record; its id is required, the rest may be absent."""
        with from_endpoint(self.endpoint, account_id):
            return self._parse(row, account_id)

    def _parse(self, row: Mapping[str, Any], account_id: str) -> dict[str, Any]:
        id_api = self.renames.get(self.id_column, self.id_column)
        required(row, id_api, endpoint=self.endpoint, account_id=account_id)
        out: dict[str, Any] = {}
        for name in self.arrow.names:
            if name in VERSION_COLUMNS:
                continue
            api_name = self.renames.get(name, name)
            value = row.get(api_name)
            if name == "creative_id" and self.edge == "ads":
                creative = row.get("creative")
                value = creative.get("id") if isinstance(creative, Mapping) else None
            elif name == "link_url":
                value = creative_link(row)
            ftype = self.arrow.field(name).type
            if name == "account_id":
                out[name] = _act(value or account_id)
            elif pa.types.is_timestamp(ftype):
                try:
                    out[name] = parse_meta_time(value)
                except ValueError:
                    raise RowError(f"{api_name}: not a time: {value!r}") from None
            elif pa.types.is_integer(ftype):
                out[name] = parse_count(value, api_name)
            else:
                out[name] = _str_or_none(value)
        if LANDING_COLUMNS[0] in self.arrow.names:
            out.update(parse_landing_url(out["link_url"], out["url_tags"]).as_record())
        out["record_hash"] = record_hash(out, self.tracked)
        return out


def creative_link(row: Mapping[str, Any]) -> str | None:
    """A creative's destination: ``link_url`` when served, else the story spec's link.

    Link ads carry it in ``object_story_spec.link_data.link``, video ads in the video's
    call to action (``video_data.call_to_action.value.link``).
    """
    direct = _str_or_none(row.get("link_url"))
    if direct:
        return direct
    spec = row.get("object_story_spec")
    if not isinstance(spec, Mapping):
        return None
    link_data = spec.get("link_data")
    if isinstance(link_data, Mapping) and link_data.get("link"):
        return str(link_data["link"])
    for part in ("video_data", "link_data"):
        data = spec.get(part)
        cta = data.get("call_to_action") if isinstance(data, Mapping) else None
        value = cta.get("value") if isinstance(cta, Mapping) else None
        if isinstance(value, Mapping) and value.get("link"):
            return str(value["link"])
    return None


CAMPAIGNS = EntitySpec(CAMPAIGN_HISTORY, "campaigns", {"campaign_id": "id"})
AD_SETS = EntitySpec(AD_SET_HISTORY, "adsets", {"ad_set_id": "id"})
ADS = EntitySpec(AD_HISTORY, "ads", {"ad_id": "id", "ad_set_id": "adset_id"})
CREATIVES = EntitySpec(
    CREATIVE_HISTORY,
    "adcreatives",
    {"creative_id": "id"},
    untracked=UNTRACKED,
    status_column="status",
    filter_statuses=False,
)
ENTITY_SPECS = {spec.name: spec for spec in (CAMPAIGNS, AD_SETS, ADS, CREATIVES)}

#: Every status Meta knows for these objects: deleted and archived ones are hidden
#: unless asked for, and their past spend must keep a name.
ALL_EFFECTIVE_STATUSES = (
    "ACTIVE",
    "PAUSED",
    "DELETED",
    "ARCHIVED",
    "IN_PROCESS",
    "WITH_ISSUES",
    "CAMPAIGN_PAUSED",
    "ADSET_PAUSED",
    "PENDING_REVIEW",
    "DISAPPROVED",
    "PREAPPROVED",
    "PENDING_BILLING_INFO",
)


def normalize_timestamps(frame: pd.DataFrame, schema: pa.Schema) -> pd.DataFrame:
    """Timestamps as ``datetime64[ns, UTC]`` whether they came from Parquet (µs) or Python."""
    frame = frame.copy()
    for field in schema:
        if pa.types.is_timestamp(field.type) and field.name in frame.columns:
            frame[field.name] = pd.to_datetime(frame[field.name], utc=True).astype(
                "datetime64[ns, UTC]"
            )
    return frame


def merge_versions(
    previous: pd.DataFrame | None,
    current: Sequence[Mapping[str, Any]],
    spec: EntitySpec,
    pulled_at: dt.datetime,
) -> tuple[pd.DataFrame, int]:
    """Append a version for every entity whose tracked fields changed.

    Returns the full history and how many versions were added.  Entities that the API
    stopped returning keep their history untouched.
    """
    latest: dict[str, str] = {}
    if previous is not None:
        previous = normalize_timestamps(previous, spec.arrow)
    if previous is not None and len(previous):
        ordered = previous.sort_values("valid_from")
        for entity_id, digest in zip(ordered[spec.id_column], ordered["record_hash"], strict=True):
            latest[str(entity_id)] = str(digest)
    added = []
    for record in current:
        entity_id = record[spec.id_column]
        if latest.get(entity_id) == record["record_hash"]:
            continue
        added.append({**record, "valid_from": pulled_at, "pulled_at": pulled_at})
        latest[entity_id] = record["record_hash"]
    new = spec.dataset.frame(added)
    if previous is None or not len(previous):
        return new, len(added)
    if not added:
        return previous, 0
    combined = pd.concat([previous, new[previous.columns]], ignore_index=True)
    return combined, len(added)
