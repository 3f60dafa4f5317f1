"""What the platform records about itself: ingestion attempts and alerts."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pandera
import pyarrow as pa
from pandera.typing import Series

from ads_platform.datasets.base import TIMESTAMP, Dataset, Layout, Partitioning
from ads_platform.schemas import Model

INGESTION_ATTEMPTS = "ingestion_attempts"
ALERTS = "alerts"

_UTC_NS = {"unit": "ns", "tz": "UTC"}


class IngestionAttempts(Model):
    account_id: Series[str] = pandera.Field(nullable=False)
    dataset: Series[str] = pandera.Field(nullable=False)
    attempted_at: Series[pd.DatetimeTZDtype] = pandera.Field(dtype_kwargs=_UTC_NS)
    status: Series[str] = pandera.Field(isin=["success", "failed", "blocked", "skipped"])
    rows: Series[pd.Int64Dtype] = pandera.Field(ge=0, nullable=True)

    class Config:
        strict = False


class Alerts(Model):
    alert_key: Series[str] = pandera.Field(nullable=False)
    kind: Series[str] = pandera.Field(nullable=False)
    account_id: Series[str] = pandera.Field(nullable=True)
    last_sent_at: Series[pd.DatetimeTZDtype] = pandera.Field(dtype_kwargs=_UTC_NS)
    status: Series[str] = pandera.Field(isin=["open", "resolved"])

    class Config:
        strict = False


ATTEMPTS = Dataset(
    name=INGESTION_ATTEMPTS,
    description="Append-only log of every ingestion attempt (success | failed | blocked | "
    "skipped) per account, dataset and day, written by every ingestion asset.",
    grain=("account_id", "dataset", "date_day", "attempted_at"),
    partitioning=Partitioning.ACCOUNT,
    layout=Layout.APPEND,
    arrow=pa.schema(
        [
            ("account_id", pa.string()),
            ("dataset", pa.string()),
            ("date_day", pa.date32()),  # null for per-account datasets
            ("attempted_at", TIMESTAMP),
            ("run_id", pa.string()),
            ("status", pa.string()),  # "success" | "failed" | "blocked" | "skipped"
            ("error_kind", pa.string()),  # token_invalid | permission | throttled | zero_guard | …
            ("message", pa.string()),  # redacted, user-facing
            ("rows", pa.int64()),
        ]
    ),
    model=IngestionAttempts,
    loaded_at="attempted_at",
    asset=INGESTION_ATTEMPTS,
)

ALERT_LOG = Dataset(
    name=ALERTS,
    description="Alerts raised by the automation (may be absent).",
    grain=("alert_key", "last_sent_at"),
    partitioning=Partitioning.ACCOUNT,
    layout=Layout.APPEND,
    arrow=pa.schema(
        [
            ("alert_key", pa.string()),
            ("kind", pa.string()),
            ("account_id", pa.string()),
            ("severity", pa.string()),  # "error" | "warning"
            ("message", pa.string()),
            ("first_seen_at", TIMESTAMP),
            ("last_sent_at", TIMESTAMP),
            ("title", pa.string()),
            ("cause", pa.string()),  # ingestion.causes.Cause value; NULL without a cause
            ("status", pa.string()),  # "open" | "resolved"
            ("resolved_at", TIMESTAMP),
        ]
    ),
    model=Alerts,
    loaded_at="last_sent_at",
    freshness=False,
    asset=ALERTS,
)
