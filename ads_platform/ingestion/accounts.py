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

from ads_platform import frames, schemas
from ads_platform.lake import Lake

DATASET = "ad_accounts"


@dataclass(frozen=True)
class AccountRow:
    account_id: str
    name: str | None
    currency: str
    timezone_name: str
    account_status: int | None
    source: str


def row_from_node(node: Mapping[str, Any], source: str) -> AccountRow:
    raw_id = str(node.get("id") or node.get("account_id") or "")
    account_id = raw_id if raw_id.startswith("act_") else f"act_{raw_id}"
    status = node.get("account_status")
    return AccountRow(
        account_id=account_id,
        name=node.get("name"),
        currency=str(node.get("currency") or ""),
        timezone_name=str(node.get("timezone_name") or "UTC"),
        account_status=int(str(status)) if status not in (None, "") else None,
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
        columns=frames.AD_ACCOUNTS_ARROW.names,
    )
    frame["account_status"] = frame["account_status"].astype("Int64")
    schemas.validate(schemas.AdAccounts, frame, DATASET)
    lake.write(path, frames.to_arrow(frame, frames.AD_ACCOUNTS_ARROW))
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
