"""Data health: can the numbers be trusted, and if not, what to do.

Freshness per account and per dataset, token health (days left, missing permissions),
open alerts, the last pulls' outcomes and the pulls the zero guard blocked, each with
the action the causes vocabulary names for it (ads_platform/ingestion/causes.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from ads_platform.dashboard import common, data
from ads_platform.dashboard.model import MISSING, Freshness, hint_for

#: Tokens this close to expiry need a person (refresh runs automatically when it can).
TOKEN_WARN_DAYS = 14
ZERO_GUARD = "zero_guard"


def _text(value: object) -> str:
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M UTC") if value.tzinfo else value.strftime("%Y-%m-%d")
    return str(value)


def freshness_rows(frame: pd.DataFrame, accounts: dict[str, Freshness]) -> pd.DataFrame:
    rows = []
    for record in frame.to_dict("records"):
        f = accounts[str(record["account_id"])]
        kind = record.get("last_attempt_error_kind")
        rows.append(
            {
                "Account": f.display_name,
                "Account id": f.account_id,
                "Data": f.label,
                "Stale": "yes" if f.is_stale else "no",
                "Last good day": _text(record.get("last_good_day")),
                "Days behind": _text(record.get("days_behind")),
                "Last pull": " ".join(
                    p
                    for p in (
                        _text(record.get("last_attempt_dataset")),
                        _text(record.get("last_attempt_status")),
                        _text(record.get("last_attempt_at")),
                    )
                    if p
                ),
                "Failing datasets": _text(record.get("failing_datasets")),
                "What to do": hint_for(_text(kind) or None, f.cause.value if f.cause else None)
                if f.is_stale
                else "",
            }
        )
    return pd.DataFrame(rows)


def dataset_matrix(frame: pd.DataFrame, accounts: dict[str, Freshness]) -> pd.DataFrame:
    if not len(frame):
        return pd.DataFrame()
    wide = frame.pivot_table(
        index="account_id", columns="dataset", values="latest", aggfunc="first"
    ).reset_index()
    wide.insert(
        0, "Account", [accounts[a].display_name if a in accounts else a for a in wide["account_id"]]
    )
    wide.columns.name = None
    return wide.rename(columns={"account_id": "Account id"}).fillna(MISSING)


def token_hint(record: Mapping[Any, Any]) -> str:
    """What to do about one token: re-authorize, soon, or grant the missing permissions."""
    hints = []
    days_left = record.get("days_left")
    left = None if days_left is None or pd.isna(days_left) else float(days_left)
    if not record.get("is_valid") or (left is not None and left <= 0):
        hints.append("re-authorize: the token is invalid or expired")
    elif left is not None and left < TOKEN_WARN_DAYS:
        hints.append(f"re-authorize within {math.floor(left)} day(s)")
    missing = _text(record.get("missing_scopes"))
    if missing:
        hints.append(f"grant the missing permissions: {missing}")
    return "; ".join(hints)


def token_rows(frame: pd.DataFrame, accounts: dict[str, Freshness]) -> pd.DataFrame:
    rows = []
    checked = set()
    for record in frame.to_dict("records"):
        account_id = str(record["account_id"])
        checked.add(account_id)
        left = record.get("days_left")
        rows.append(
            {
                "Account": accounts[account_id].display_name
                if account_id in accounts
                else account_id,
                "Account id": account_id,
                "Valid": "yes" if record.get("is_valid") else "no",
                "Days left": MISSING if left is None or pd.isna(left) else f"{float(left):.1f}",
                "Expires": _text(record.get("expires_at"))
                or ("never" if record.get("is_valid") else MISSING),
                "Missing permissions": _text(record.get("missing_scopes")),
                "Last error": _text(record.get("last_error_message")),
                "Checked": _text(record.get("checked_at")),
                "What to do": token_hint(record),
            }
        )
    for account_id, f in accounts.items():
        if account_id not in checked:
            rows.append(
                {
                    "Account": f.display_name,
                    "Account id": account_id,
                    "Valid": MISSING,
                    "Days left": MISSING,
                    "Expires": MISSING,
                    "Missing permissions": "",
                    "Last error": "",
                    "Checked": "never",
                    "What to do": "no token check yet: materialize token_health",
                }
            )
    return pd.DataFrame(rows)


def zero_guard_blocks(frame: pd.DataFrame, alerts: pd.DataFrame) -> pd.DataFrame:
    """The latest pulls the zero guard refused (data_freshness), and zero-guard alerts."""
    rows = []
    for record in frame.to_dict("records"):
        for prefix in ("last_attempt", "last_failure"):
            if record.get(f"{prefix}_error_kind") == ZERO_GUARD:
                rows.append(
                    {
                        "Account id": record["account_id"],
                        "When": _text(record.get(f"{prefix}_at")),
                        "Dataset": _text(record.get(f"{prefix}_dataset")),
                        "Message": _text(record.get(f"{prefix}_message")),
                        "What to do": hint_for(ZERO_GUARD),
                    }
                )
                break
    if len(alerts):
        text = alerts.astype(str).agg(" ".join, axis=1)
        for record in alerts[text.str.contains(ZERO_GUARD)].to_dict("records"):
            rows.append(
                {
                    "Account id": _text(record.get("account_id")),
                    "When": _text(record.get("last_sent_at")),
                    "Dataset": "",
                    "Message": _text(record.get("message")),
                    "What to do": hint_for(ZERO_GUARD),
                }
            )
    return pd.DataFrame(rows).drop_duplicates() if rows else pd.DataFrame()


def render() -> None:
    st.title("Data health")
    marts = common.load_marts()
    health = data.health(marts)
    stale = [f for f in marts.accounts.values() if f.is_stale]
    if stale:
        st.error(
            f"{len(stale)} account(s) with stale data: " + ", ".join(f.display_name for f in stale)
        )
    elif marts.accounts:
        st.success("Every account is up to date.")
    st.subheader("Freshness per account")
    common.table(
        freshness_rows(health.freshness, marts.accounts),
        health.freshness,
        name="freshness",
        key="health_freshness",
    )
    st.subheader("Freshness per dataset")
    st.caption("Latest day (or pull) each dataset holds in the marts.")
    common.table(
        dataset_matrix(health.datasets, marts.accounts),
        health.datasets,
        name="dataset freshness",
        key="health_datasets",
    )
    st.subheader("Tokens")
    common.table(
        token_rows(health.tokens, marts.accounts), health.tokens, name="tokens", key="health_tokens"
    )
    st.subheader("Open alerts")
    if len(health.alerts):
        common.table(health.alerts, name="alerts", key="health_alerts")
    else:
        st.caption("No open alerts.")
    st.subheader("Pulls blocked by the zero guard")
    blocks = zero_guard_blocks(health.freshness, health.alerts)
    if len(blocks):
        common.table(blocks, name="zero-guard blocks", key="health_zero_guard")
    else:
        st.caption("No recent pull was blocked by the zero guard.")


if __name__ == "__main__":
    common.run_page(render)
