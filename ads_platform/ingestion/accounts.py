"""The ad accounts the platform pulls: from settings, optionally from ``me/adaccounts``.

An account removed from the settings stops being pulled but keeps its row (with
``is_active = false``) and all its history, so old spend keeps its account name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ads_platform import frames
from ads_platform.datasets import ACCOUNTS
from ads_platform.lake import Lake
from ads_platform.meta.errors import required_field

DATASET = ACCOUNTS.name


@dataclass(frozen=True)
class AccountRow:
    account_id: str
    name: str | None
    currency: str
    timezone_name: str
    account_status: int | None
    source: str


#: Endpoint an account node came from, by ``source``.
ENDPOINTS = {"settings": "account", "discovered": "me/adaccounts"}


def row_from_node(node: Mapping[str, Any], source: str) -> AccountRow:
    """An account node (``act_…`` or ``me/adaccounts``) → its row.

    Id, currency and time zone are required: a missing time zone silently read as UTC
    would shift every day boundary of the account, and a missing currency fails the
    schema later without saying which answer lacked it.
    """
    endpoint = ENDPOINTS.get(source, source)
    with frames.from_endpoint(endpoint):
        if isinstance(node, Mapping) and not node.get("id") and node.get("account_id"):
            raw_id = str(node["account_id"])
        else:
            raw_id = str(required_field(node, "id", endpoint=endpoint))
        account_id = raw_id if raw_id.startswith("act_") else f"act_{raw_id}"
        currency = required_field(node, "currency", endpoint=endpoint, account_id=account_id)
        timezone_name = required_field(
            node, "timezone_name", endpoint=endpoint, account_id=account_id
        )
        status = frames.parse_count(node.get("account_status"), "account_status")
        name = node.get("name")
        return AccountRow(
            account_id=account_id,
            name=None if name is None else str(name),
            currency=str(currency),
            timezone_name=str(timezone_name),
            account_status=status,
            source=source,
        )


def merge_accounts(
    lake: Lake, seen: Sequence[AccountRow], active_ids: set[str], now: dt.datetime
) -> pd.DataFrame:
    """Previous table + what was seen now; accounts not active any more are kept."""
    path = lake.partition_path(DATASET)
    previous = lake.read(path)
    records: dict[str, dict[str, Any]] = {}
    if previous is not None:
        for raw in previous.to_dict("records"):
            record = {str(k): v for k, v in raw.items()}
            record["is_active"] = record["account_id"] in active_ids
            records[str(record["account_id"])] = record
    for row in seen:
        old = records.get(row.account_id)
        records[row.account_id] = {
            **row.__dict__,
            "is_active": row.account_id in active_ids,
            "first_seen_at": old["first_seen_at"] if old else now,
            "last_seen_at": now,
        }
    frame = pd.DataFrame(
        [records[k] for k in sorted(records)],
        columns=ACCOUNTS.arrow.names,
    )
    frame["account_status"] = frame["account_status"].astype("Int64")
    ACCOUNTS.validate(frame)
    lake.write(path, ACCOUNTS.to_arrow(frame))
    return frame


def known_account(lake: Lake, account_id: str) -> AccountRow | None:
    """The last stored row for an account (used when the API cannot be reached)."""
    frame = lake.read(lake.partition_path(DATASET))
    if frame is None:
        return None
    match = frame[frame["account_id"] == account_id]
    if not len(match):
        return None
    rec = match.iloc[0]
    status = rec["account_status"]
    return AccountRow(
        account_id=account_id,
        name=rec["name"],
        currency=rec["currency"],
        timezone_name=rec["timezone_name"],
        account_status=None if pd.isna(status) else int(status),
        source=rec["source"],
    )


def discovered_accounts(lake: Lake) -> set[str]:
    """Accounts ``me/adaccounts`` listed on the last pull (and still listed)."""
    frame = lake.read(lake.partition_path(DATASET))
    if frame is None:
        return set()
    mask = (frame["source"] == "discovered") & frame["is_active"].astype(bool)
    return {str(a) for a in frame.loc[mask, "account_id"]}
