"""Token health: an append-only history of token checks per account."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pandera
import pyarrow as pa
from pandera.typing import Series

from ads_platform.datasets.base import TIMESTAMP, Dataset, Layout, Partitioning
from ads_platform.schemas import Model

TOKEN_HEALTH = "token_health"  # noqa: S105 - a dataset name


class TokenHealth(Model):
    account_id: Series[str] = pandera.Field(str_matches=r"^act_\d+$")
    checked_at: Series[pd.DatetimeTZDtype] = pandera.Field(dtype_kwargs={"unit": "ns", "tz": "UTC"})
    is_valid: Series[pd.BooleanDtype] = pandera.Field(nullable=True)
    days_left: Series[float] = pandera.Field(nullable=True)

    class Config:
        strict = False


TOKEN_CHECKS = Dataset(
    name=TOKEN_HEALTH,
    description="Append-only history of token checks per account.",
    grain=("account_id", "checked_at"),
    partitioning=Partitioning.ACCOUNT,
    layout=Layout.APPEND,
    arrow=pa.schema(
        [
            ("account_id", pa.string()),
            ("checked_at", TIMESTAMP),
            ("token_env", pa.string()),
            ("token_fingerprint", pa.string()),  # HMAC-free short sha256: tells tokens apart
            ("token_type", pa.string()),
            ("is_valid", pa.bool_()),
            ("expires_at", TIMESTAMP),
            ("data_access_expires_at", TIMESTAMP),
            ("days_left", pa.float64()),
            ("scopes", pa.string()),  # comma separated
            ("missing_scopes", pa.string()),
            ("last_error_code", pa.int64()),
            ("last_error_subcode", pa.int64()),
            ("last_error_message", pa.string()),
            ("last_error_at", TIMESTAMP),
            ("refreshed", pa.bool_()),
            # "debug_token" (a check) or "api_call" (what a pull saw: a 190, or a success
            # that supersedes it); NULL in files written before it was recorded
            ("checked_by", pa.string()),
        ]
    ),
    model=TokenHealth,
    loaded_at="checked_at",
    asset=TOKEN_HEALTH,
)
