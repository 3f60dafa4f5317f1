"""A small deterministic lake written with the platform's own writers.

Rows look like the Graph API's (every scalar a string, ``actions`` / ``action_values``
lists with window keys) and go through ``ads_platform.frames`` and
``ads_platform.lake.Lake`` exactly like ingestion does, so the marts are tested
against the real file contract.  ``expected_totals`` recomputes the per account-day
truth from the same rows in plain Python, independently of any SQL.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from ads_platform import datasets as ds
from ads_platform import dbt_with_parent, frames
from ads_platform.assets.marts import seed_partial_parse
from ads_platform.lake import Lake

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
DBT_BIN = Path(sys.executable).with_name("dbt")

#: What the default dbt var counts as conversions (name -> action type).
CONVERSION_TYPES = {
    "purchase": "offsite_conversion.fb_pixel_purchase",
    "lead": "offsite_conversion.fb_pixel_lead",
    "complete_registration": "complete_registration",
}

TODAY = dt.datetime.now(dt.UTC).date()
DAYS = [TODAY - dt.timedelta(days=2), TODAY - dt.timedelta(days=1), TODAY]

ACCOUNTS = {
    # account_id: (currency, timezone, {campaign: {ad_set: [ads]}})
    "act_101": ("EUR", "Europe/Berlin", {"1001": {"2001": ["3001", "3002"], "2002": ["3003"]}}),
    "act_202": ("USD", "America/New_York", {"1002": {"2003": ["3004", "3005"]}}),
}


def _ad_row(
    account_id: str, campaign: str, ad_set: str, ad: str, day: dt.date, boost: int
) -> dict[str, Any]:
    """One Graph-API-like insight row; numbers derived from the ids, all strings."""
    n = int(ad) % 100 + boost
    row: dict[str, Any] = {
        "account_id": account_id.removeprefix("act_"),
        "campaign_id": campaign,
        "adset_id": ad_set,
        "ad_id": ad,
        "date_start": day.isoformat(),
        "date_stop": day.isoformat(),
        "impressions": str(1000 * n + day.day),
        "reach": str(700 * n),
        "clicks": str(40 * n),
        "inline_link_clicks": str(25 * n),
        "spend": f"{12 * n}.{day.day:02d}",
        "actions": [
            {"action_type": "link_click", "value": str(25 * n)},
            {"action_type": "post_engagement", "value": str(90 * n)},
            {
                "action_type": "offsite_conversion.fb_pixel_purchase",
                "value": str(n),
                "1d_click": str(max(n - 1, 0)),
                "7d_click": str(n),
            },
            # the same purchases again under omni_: never added to the pixel ones
            {"action_type": "omni_purchase", "value": str(n)},
            {"action_type": "offsite_conversion.fb_pixel_lead", "value": str(2 * n)},
            {"action_type": "complete_registration", "value": "1", "1d_view": "1"},
        ],
        "action_values": [
            {
                "action_type": "offsite_conversion.fb_pixel_purchase",
                "value": f"{25 * n}.50",
                "7d_click": f"{20 * n}.25",
            },
            {"action_type": "omni_purchase", "value": f"{25 * n}.50"},
        ],
    }
    if ad == "3002":
        # A purchase value on a day without any purchase count row: the reference
        # package's LEFT JOIN loses exactly this value.
        row["actions"] = [a for a in row["actions"] if "purchase" not in a["action_type"]]
    if ad == "3005":
        row.pop("reach")  # a missing reach stays NULL, not 0
    return row


@dataclass
class LakeState:
    """The rows written, per (account_id, day), for the expected totals."""

    rows: dict[tuple[str, dt.date], list[dict[str, Any]]] = field(default_factory=dict)


class LakeBuilder:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.lake = Lake(home / "lake")
        self.state = LakeState()
        self._clock = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def _tick(self) -> dt.datetime:
        self._clock += dt.timedelta(minutes=1)
        return self._clock

    # -- insights ------------------------------------------------------------------------
    def write_day(
        self,
        account_id: str,
        day: dt.date,
        rows: Sequence[Mapping[str, Any]],
        run_id: str = "run-1",
    ) -> None:
        currency = ACCOUNTS[account_id][0]
        frame = frames.insights_frame(
            rows, account_id=account_id, currency=currency, fetched_at=self._tick(), run_id=run_id
        )
        table = ds.AD_INSIGHTS.to_arrow(frame)
        self.lake.write(self.lake.partition_path("ad_insights_daily", account_id, day), table)
        self.state.rows[(account_id, day)] = [dict(r) for r in rows]
        totals = self._account_row(account_id, day, rows)
        account_frame = frames.account_insights_frame(
            [totals] if rows else [],
            account_id=account_id,
            currency=currency,
            fetched_at=self._clock,
            run_id=run_id,
        )
        self.lake.write(
            self.lake.partition_path("account_insights_daily", account_id, day),
            ds.ACCOUNT_INSIGHTS.to_arrow(account_frame),
        )

    @staticmethod
    def _account_row(
        account_id: str, day: dt.date, rows: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        return {
            "account_id": account_id.removeprefix("act_"),
            "date_start": day.isoformat(),
            "date_stop": day.isoformat(),
            "impressions": str(sum(int(r["impressions"]) for r in rows)),
            # account-level reach is deduplicated: less than the sum of ad reach
            "reach": str(sum(int(r.get("reach", 0)) for r in rows) // 2),
            "clicks": str(sum(int(r["clicks"]) for r in rows)),
            "inline_link_clicks": str(sum(int(r["inline_link_clicks"]) for r in rows)),
            "spend": str(sum(Decimal(r["spend"]) for r in rows)),
        }

    def ad_rows(self, account_id: str, day: dt.date, boost: int = 0) -> list[dict[str, Any]]:
        _, _, tree = ACCOUNTS[account_id]
        return [
            _ad_row(account_id, campaign, ad_set, ad, day, boost)
            for campaign, ad_sets in tree.items()
            for ad_set, ads in ad_sets.items()
            for ad in ads
        ]

    # -- dimensions ----------------------------------------------------------------------
    def write_accounts(self) -> None:
        now = self._tick()
        table = pa.Table.from_pylist(
            [
                {
                    "account_id": account_id,
                    "name": f"Account {account_id}",
                    "currency": currency,
                    "timezone_name": tz,
                    "account_status": 1,
                    "source": "settings",
                    "is_active": True,
                    "first_seen_at": now,
                    "last_seen_at": now,
                }
                for account_id, (currency, tz, _) in ACCOUNTS.items()
            ],
            schema=ds.ACCOUNTS.arrow,
        )
        self.lake.write(self.lake.partition_path("ad_accounts"), table)

    def write_entities(self, account_id: str, names: Mapping[str, str] | None = None) -> None:
        """Pull the account's entities; ``names`` renames some ids (a new version)."""
        names = dict(names or {})
        _, _, tree = ACCOUNTS[account_id]
        raw = {"campaigns": [], "ad_sets": [], "ads": []}  # type: dict[str, list[dict[str, Any]]]
        for campaign, ad_sets in tree.items():
            raw["campaigns"].append(
                {
                    "id": campaign,
                    "name": names.get(campaign, f"Campaign {campaign}"),
                    "status": "ACTIVE",
                    "effective_status": "ACTIVE",
                    "objective": "OUTCOME_SALES",
                    "daily_budget": "5000",
                    "created_time": "2025-12-01T10:00:00+0000",
                }
            )
            for ad_set, ads in ad_sets.items():
                raw["ad_sets"].append(
                    {
                        "id": ad_set,
                        "campaign_id": campaign,
                        "name": names.get(ad_set, f"Ad set {ad_set}"),
                        "status": "ACTIVE",
                        "effective_status": "ACTIVE",
                    }
                )
                for ad in ads:
                    raw["ads"].append(
                        {
                            "id": ad,
                            "campaign_id": campaign,
                            "adset_id": ad_set,
                            "name": names.get(ad, f"Ad {ad}"),
                            "status": "ACTIVE",
                            "effective_status": "ACTIVE",
                            "creative": {"id": f"9{ad}"},
                        }
                    )
        pulled_at = self._tick()
        for dataset, items in raw.items():
            spec = frames.ENTITY_SPECS[dataset]
            path = self.lake.partition_path(dataset, account_id)
            previous = self.lake.read(path)
            parsed = [spec.parse(item, account_id) for item in items]
            merged, _ = frames.merge_versions(previous, parsed, spec, pulled_at)
            self.lake.write(path, spec.dataset.to_arrow(merged))

    # -- logs ----------------------------------------------------------------------------
    def write_attempts(
        self, account_id: str, attempts: Iterable[tuple[str, dt.date | None, str, str | None, str]]
    ) -> None:
        when = self._tick()
        table = pa.Table.from_pylist(
            [
                {
                    "account_id": account_id,
                    "dataset": dataset,
                    "date_day": day,
                    "attempted_at": when,
                    "run_id": f"run-{when:%H%M}",
                    "status": status,
                    "error_kind": kind,
                    "message": message,
                    "rows": 0,
                }
                for dataset, day, status, kind, message in attempts
            ],
            schema=ds.ATTEMPTS.arrow,
        )
        self.lake.append_file("ingestion_attempts", account_id, table, tag="test")

    def write_token_check(self, account_id: str, *, valid: bool, days_left: float) -> None:
        now = dt.datetime.now(dt.UTC)
        table = pa.Table.from_pylist(
            [
                {
                    "account_id": account_id,
                    "checked_at": self._tick(),
                    "token_env": "TOKEN",
                    "token_fingerprint": "abc123",
                    "token_type": "USER",
                    "is_valid": valid,
                    "expires_at": now + dt.timedelta(days=days_left),
                    "days_left": days_left,
                    "scopes": "ads_read",
                    "missing_scopes": "" if valid else "ads_read",
                    "last_error_code": None if valid else 190,
                    "last_error_message": None if valid else "Error validating access token",
                }
            ],
            schema=ds.TOKEN_CHECKS.arrow,
        )
        self.lake.append_file("token_health", account_id, table, tag="test")

    def write_reach_month(self, account_id: str) -> None:
        month = TODAY.replace(day=1)
        currency = ACCOUNTS[account_id][0]
        rows = [
            {
                "level": "account",
                "period": "month",
                "period_start": month,
                "period_end": TODAY,
                "account_id": account_id,
                "campaign_id": None,
                "ad_set_id": None,
                "currency": currency,
                "reach": 5000,
                "impressions": 20000,
                "spend": Decimal("100.00"),
                "is_complete": False,
                "fetched_at": self._tick(),
            },
        ]
        for campaign, ad_sets in ACCOUNTS[account_id][2].items():
            rows.append({**rows[0], "level": "campaign", "campaign_id": campaign, "reach": 3000})
            for n, ad_set in enumerate(ad_sets):
                rows.append(
                    {
                        **rows[0],
                        "level": "ad_set",
                        "campaign_id": campaign,
                        "ad_set_id": ad_set,
                        "reach": 2000 - 500 * n,  # each its own, not a share of 3000
                    }
                )
        # A last-30-days window that starts on the month's first day: same level and
        # period_start as the month row, told apart by its period (part of the grain).
        rows.append(
            {
                **rows[0],
                "period": "last_30d",
                "period_end": month + dt.timedelta(days=29),
                "reach": 4000,
                "is_complete": True,
            }
        )
        table = pa.Table.from_pylist(rows, schema=ds.REACH.arrow)
        self.lake.write(self.lake.partition_path("reach_monthly", account_id), table)


def expected_totals(state: LakeState) -> dict[tuple[str, dt.date], dict[str, Any]]:
    """Per (account_id, day): spend, impressions, link clicks, conversions per type."""
    out: dict[tuple[str, dt.date], dict[str, Any]] = {}
    for key, rows in state.rows.items():
        if not rows:
            continue
        totals: dict[str, Any] = defaultdict(Decimal)
        totals["impressions"] = 0
        totals["link_clicks"] = 0
        for row in rows:
            totals["spend"] += Decimal(row["spend"])
            totals["impressions"] += int(row["impressions"])
            totals["link_clicks"] += int(row["inline_link_clicks"])
            for name, action_type in CONVERSION_TYPES.items():
                for item in row.get("actions", []):
                    if item["action_type"] == action_type and "value" in item:
                        totals[f"conversions_{name}"] += Decimal(item["value"])
                for item in row.get("action_values", []):
                    if item["action_type"] == action_type and "value" in item:
                        totals[f"conversion_value_{name}"] += Decimal(item["value"])
        totals["conversions"] = sum(totals[f"conversions_{n}"] for n in CONVERSION_TYPES)
        totals["conversion_value"] = sum(totals[f"conversion_value_{n}"] for n in CONVERSION_TYPES)
        out[key] = dict(totals)
    return out


def run_dbt(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """dbt in a subprocess, like Dagster runs it (its DuckDB lock ends with it)."""
    env = {
        **os.environ,
        "ADS_PLATFORM_HOME": str(home),
        "ADS_PLATFORM_DBT_DB": str(home / "warehouse" / "marts.duckdb"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_TARGET_PATH": str(home / "dbt_target"),
        "DBT_LOG_PATH": str(home / "dbt_logs"),
    }
    (home / "warehouse").mkdir(parents=True, exist_ok=True)
    # As Dagster runs dbt: through the wrapper (in the build database's directory, so
    # the profile and dbt's partial parse are the same in every home), parse seeded.
    seed_partial_parse(home / "dbt_target")
    env[dbt_with_parent.DBT_EXECUTABLE_ENV] = str(DBT_BIN)
    return subprocess.run(
        [
            sys.executable,
            dbt_with_parent.__file__,
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
