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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import pandas as pd
import pyarrow as pa

from ads_platform.meta.errors import MalformedResponseError, required_field

#: Action-stat list fields kept from insight rows (all elements, all windows).
ACTION_STATS = ("actions", "action_values", "conversions", "conversion_values")

INSIGHT_FIELDS = (
    "account_id",
    "account_currency",
    "campaign_id",
    "adset_id",
    "ad_id",
    "date_start",
    "date_stop",
    "impressions",
    "reach",
    "clicks",
    "inline_link_clicks",
    "spend",
    *ACTION_STATS,
)
ACCOUNT_INSIGHT_FIELDS = (
    "account_id",
    "account_currency",
    "date_start",
    "date_stop",
    "impressions",
    "reach",
    "clicks",
    "inline_link_clicks",
    "spend",
)

ACTION_TYPE = pa.list_(
    pa.struct(
        [
            ("stat", pa.string()),
            ("action_type", pa.string()),
            ("window", pa.string()),
            ("value", pa.string()),
        ]
    )
)
MONEY = pa.decimal128(18, 2)

INSIGHTS_ARROW = pa.schema(
    [
        ("date_day", pa.date32()),
        ("account_id", pa.string()),
        ("campaign_id", pa.string()),
        ("ad_set_id", pa.string()),
        ("ad_id", pa.string()),
        ("currency", pa.string()),
        ("impressions", pa.int64()),
        ("reach", pa.int64()),
        ("clicks_all", pa.int64()),
        ("link_clicks", pa.int64()),
        ("spend", MONEY),
        ("actions", ACTION_TYPE),
        ("fetched_at", pa.timestamp("us", tz="UTC")),
        ("run_id", pa.string()),
    ]
)
ACCOUNT_INSIGHTS_ARROW = pa.schema(
    [
        ("date_day", pa.date32()),
        ("account_id", pa.string()),
        ("currency", pa.string()),
        ("impressions", pa.int64()),
        ("reach", pa.int64()),
        ("clicks_all", pa.int64()),
        ("link_clicks", pa.int64()),
        ("spend", MONEY),
        ("fetched_at", pa.timestamp("us", tz="UTC")),
        ("run_id", pa.string()),
    ]
)


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


def flatten_actions(row: Mapping[str, Any]) -> list[dict[str, str | None]]:
    """Every element and every window of every action list, as strings."""
    out: list[dict[str, str | None]] = []
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
            for key, value in item.items():
                if key == "action_type":
                    continue
                out.append(
                    {
                        "stat": stat,
                        "action_type": None if action_type is None else str(action_type),
                        "window": str(key),
                        "value": None if value is None else str(value),
                    }
                )
            if len(item) == 1:
                # An action with no value and no window: keep that it was reported.
                out.append(
                    {
                        "stat": stat,
                        "action_type": None if action_type is None else str(action_type),
                        "window": None,
                        "value": None,
                    }
                )
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
) -> pd.DataFrame:
    """Ad-level daily insight rows → the ``ad_insights_daily`` frame.

    An ad-level row without its ad, ad set or campaign id cannot be stored (nor joined
    to a name): it is a :class:`RowError` naming the field, not a null key.
    """
    records = []
    with from_endpoint(INSIGHTS_ENDPOINT, account_id):
        for row in rows:
            ids = {
                column: str(required(row, api, endpoint=INSIGHTS_ENDPOINT, account_id=account_id))
                for column, api in (
                    ("campaign_id", "campaign_id"),
                    ("ad_set_id", "adset_id"),
                    ("ad_id", "ad_id"),
                )
            }
            spend = parse_money(row.get("spend"), "spend")
            impressions = parse_count(row.get("impressions"), "impressions")
            records.append(
                {
                    "date_day": _day(row, account_id),
                    "account_id": _act(row.get("account_id") or account_id),
                    **ids,
                    "currency": str(row.get("account_currency") or currency),
                    "impressions": 0 if impressions is None else impressions,
                    "reach": parse_count(row.get("reach"), "reach"),
                    "clicks_all": parse_count(row.get("clicks"), "clicks"),
                    "link_clicks": parse_count(row.get("inline_link_clicks"), "inline_link_clicks"),
                    "spend": Decimal(0) if spend is None else spend,
                    "actions": flatten_actions(row),
                    "fetched_at": fetched_at,
                    "run_id": run_id,
                }
            )
    return _typed(records, INSIGHTS_ARROW)


def account_insights_frame(
    rows: Iterable[Mapping[str, Any]],
    *,
    account_id: str,
    currency: str,
    fetched_at: dt.datetime,
    run_id: str,
) -> pd.DataFrame:
    records = []
    with from_endpoint(INSIGHTS_ENDPOINT, account_id):
        for row in rows:
            spend = parse_money(row.get("spend"), "spend")
            impressions = parse_count(row.get("impressions"), "impressions")
            records.append(
                {
                    "date_day": _day(row, account_id),
                    "account_id": _act(row.get("account_id") or account_id),
                    "currency": str(row.get("account_currency") or currency),
                    "impressions": 0 if impressions is None else impressions,
                    "reach": parse_count(row.get("reach"), "reach"),
                    "clicks_all": parse_count(row.get("clicks"), "clicks"),
                    "link_clicks": parse_count(row.get("inline_link_clicks"), "inline_link_clicks"),
                    "spend": Decimal(0) if spend is None else spend,
                    "fetched_at": fetched_at,
                    "run_id": run_id,
                }
            )
    return _typed(records, ACCOUNT_INSIGHTS_ARROW)


def _str_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


_PANDAS_DTYPES: dict[str, str] = {
    "int64": "Int64",
    "string": "object",
}


def _typed(records: Sequence[Mapping[str, Any]], schema: pa.Schema) -> pd.DataFrame:
    """A frame with the dtypes the Pandera models expect, empty or not.

    Counts are nullable ``Int64`` (a missing reach stays <NA>), money is ``float64``
    for validation (the exact Decimal is kept in ``_exact`` columns for the write).
    """
    columns: dict[str, Any] = {}
    for field in schema:
        values = [r.get(field.name) for r in records]
        if pa.types.is_integer(field.type):
            columns[field.name] = pd.array(values, dtype="Int64")
        elif pa.types.is_decimal(field.type):
            columns[field.name] = pd.Series(
                [None if v is None else float(v) for v in values], dtype="float64"
            )
            columns[f"{field.name}__exact"] = pd.Series(values, dtype="object")
        elif pa.types.is_date(field.type):
            columns[field.name] = pd.Series(values, dtype="object")
        elif pa.types.is_timestamp(field.type):
            columns[field.name] = pd.to_datetime(pd.Series(values, dtype="object"), utc=True)
        elif pa.types.is_boolean(field.type):
            columns[field.name] = pd.array(values, dtype="boolean")
        elif pa.types.is_floating(field.type):
            columns[field.name] = pd.Series(values, dtype="float64")
        else:
            columns[field.name] = pd.Series(values, dtype="object")
    return pd.DataFrame(columns)


def to_arrow(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """The validated frame → an Arrow table with exact money and the declared types."""
    arrays = []
    for field in schema:
        if pa.types.is_decimal(field.type):
            exact_col = f"{field.name}__exact"
            if exact_col in frame.columns:
                values = [
                    None if v is None else Decimal(v).quantize(Decimal("0.01"))
                    for v in frame[exact_col]
                ]
            else:
                values = [
                    None if pd.isna(v) else Decimal(str(v)).quantize(Decimal("0.01"))
                    for v in frame[field.name]
                ]
            arrays.append(pa.array(values, type=field.type))
        elif pa.types.is_integer(field.type) or pa.types.is_boolean(field.type):
            arrays.append(
                pa.array([None if pd.isna(v) else v for v in frame[field.name]], type=field.type)
            )
        elif pa.types.is_timestamp(field.type):
            arrays.append(pa.array(frame[field.name], type=field.type, from_pandas=True))
        else:
            arrays.append(pa.array(list(frame[field.name]), type=field.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=schema)


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

_ENTITY_COMMON = [
    ("account_id", pa.string()),
    ("name", pa.string()),
    ("status", pa.string()),
    ("effective_status", pa.string()),
    ("created_time", pa.timestamp("us", tz="UTC")),
    ("updated_time", pa.timestamp("us", tz="UTC")),
]
_VERSION_COLUMNS = [
    ("record_hash", pa.string()),
    ("valid_from", pa.timestamp("us", tz="UTC")),
    ("pulled_at", pa.timestamp("us", tz="UTC")),
]


class EntitySpec:
    """How one entity kind is asked for, parsed and versioned."""

    def __init__(
        self,
        dataset: str,
        edge: Literal["campaigns", "adsets", "ads"],
        id_column: str,
        api_fields: Sequence[str],
        columns: Sequence[tuple[str, pa.DataType]],
        renames: Mapping[str, str],
    ) -> None:
        self.dataset = dataset
        self.edge = edge
        self.id_column = id_column
        self.api_fields = tuple(api_fields)
        self.arrow = pa.schema([(id_column, pa.string()), *columns, *_VERSION_COLUMNS])
        self.renames = dict(renames)
        self.tracked = [n for n in self.arrow.names if n not in {"valid_from", "pulled_at"}]
        self.tracked.remove("record_hash")

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
            if name in {"record_hash", "valid_from", "pulled_at"}:
                continue
            api_name = self.renames.get(name, name)
            value = row.get(api_name)
            if name == "creative_id":
                creative = row.get("creative")
                value = creative.get("id") if isinstance(creative, Mapping) else None
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
        out["record_hash"] = record_hash(out, self.tracked)
        return out


_BUDGETS = [("daily_budget", pa.int64()), ("lifetime_budget", pa.int64())]

CAMPAIGNS = EntitySpec(
    dataset="campaigns",
    edge="campaigns",
    id_column="campaign_id",
    api_fields=(
        "id",
        "account_id",
        "name",
        "status",
        "effective_status",
        "objective",
        "daily_budget",
        "lifetime_budget",
        "start_time",
        "stop_time",
        "created_time",
        "updated_time",
    ),
    columns=[
        *_ENTITY_COMMON,
        ("objective", pa.string()),
        *_BUDGETS,
        ("start_time", pa.timestamp("us", tz="UTC")),
        ("stop_time", pa.timestamp("us", tz="UTC")),
    ],
    renames={"campaign_id": "id"},
)
AD_SETS = EntitySpec(
    dataset="ad_sets",
    edge="adsets",
    id_column="ad_set_id",
    api_fields=(
        "id",
        "account_id",
        "campaign_id",
        "name",
        "status",
        "effective_status",
        "optimization_goal",
        "billing_event",
        "daily_budget",
        "lifetime_budget",
        "start_time",
        "end_time",
        "created_time",
        "updated_time",
    ),
    columns=[
        ("campaign_id", pa.string()),
        *_ENTITY_COMMON,
        ("optimization_goal", pa.string()),
        ("billing_event", pa.string()),
        *_BUDGETS,
        ("start_time", pa.timestamp("us", tz="UTC")),
        ("end_time", pa.timestamp("us", tz="UTC")),
    ],
    renames={"ad_set_id": "id"},
)
ADS = EntitySpec(
    dataset="ads",
    edge="ads",
    id_column="ad_id",
    api_fields=(
        "id",
        "account_id",
        "campaign_id",
        "adset_id",
        "name",
        "status",
        "effective_status",
        "created_time",
        "updated_time",
        "creative",
    ),
    columns=[
        ("campaign_id", pa.string()),
        ("ad_set_id", pa.string()),
        *_ENTITY_COMMON,
        ("creative_id", pa.string()),
    ],
    renames={"ad_id": "id", "ad_set_id": "adset_id"},
)
ENTITY_SPECS = {spec.dataset: spec for spec in (CAMPAIGNS, AD_SETS, ADS)}

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
    new = _typed(added, spec.arrow)
    if previous is None or not len(previous):
        return new, len(added)
    if not added:
        return previous, 0
    combined = pd.concat([previous, new[previous.columns]], ignore_index=True)
    return combined, len(added)


# -- accounts, token health, reach, ingestion attempts ----------------------------------

AD_ACCOUNTS_ARROW = pa.schema(
    [
        ("account_id", pa.string()),
        ("name", pa.string()),
        ("currency", pa.string()),
        ("timezone_name", pa.string()),
        ("account_status", pa.int64()),
        ("source", pa.string()),  # "settings" | "discovered"
        ("is_active", pa.bool_()),  # False once removed from settings: history kept
        ("first_seen_at", pa.timestamp("us", tz="UTC")),
        ("last_seen_at", pa.timestamp("us", tz="UTC")),
    ]
)

TOKEN_HEALTH_ARROW = pa.schema(
    [
        ("account_id", pa.string()),
        ("checked_at", pa.timestamp("us", tz="UTC")),
        ("token_env", pa.string()),
        ("token_fingerprint", pa.string()),  # HMAC-free short sha256: tells tokens apart
        ("token_type", pa.string()),
        ("is_valid", pa.bool_()),
        ("expires_at", pa.timestamp("us", tz="UTC")),
        ("data_access_expires_at", pa.timestamp("us", tz="UTC")),
        ("days_left", pa.float64()),
        ("scopes", pa.string()),  # comma separated
        ("missing_scopes", pa.string()),
        ("last_error_code", pa.int64()),
        ("last_error_subcode", pa.int64()),
        ("last_error_message", pa.string()),
        ("last_error_at", pa.timestamp("us", tz="UTC")),
        ("refreshed", pa.bool_()),
        # "debug_token" (a check) or "api_call" (what a pull saw: a 190, or a success
        # that supersedes it); NULL in files written before it was recorded
        ("checked_by", pa.string()),
    ]
)

REACH_ARROW = pa.schema(
    [
        ("level", pa.string()),  # "account" | "campaign"
        ("period", pa.string()),  # "month"
        ("period_start", pa.date32()),
        ("period_end", pa.date32()),
        ("account_id", pa.string()),
        ("campaign_id", pa.string()),  # null at account level
        ("currency", pa.string()),
        ("reach", pa.int64()),
        ("impressions", pa.int64()),
        ("spend", MONEY),
        ("is_complete", pa.bool_()),  # False while the period is still running
        ("fetched_at", pa.timestamp("us", tz="UTC")),
    ]
)

ATTEMPTS_ARROW = pa.schema(
    [
        ("account_id", pa.string()),
        ("dataset", pa.string()),
        ("date_day", pa.date32()),  # null for per-account datasets
        ("attempted_at", pa.timestamp("us", tz="UTC")),
        ("run_id", pa.string()),
        ("status", pa.string()),  # "success" | "failed" | "blocked" | "skipped"
        ("error_kind", pa.string()),  # token_invalid | permission | throttled | zero_guard | …
        ("message", pa.string()),  # redacted, user-facing
        ("rows", pa.int64()),
    ]
)
