"""Start-up configuration shared by the server, the CLI and the Python API."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

DEFAULT_SEED = 7
DEFAULT_ACCOUNTS = 3
MAX_ACCOUNTS = 999
MAX_ADS_PER_ACCOUNT = 20_000
MAX_DRIFT_PER_MILLE = 100


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """Everything that fixes the sandbox's data and behaviour at start-up.

    ``ads_per_account=None`` lets each account pick 20-40 ads from the seed; an int
    forces that many ads (all statuses) in every account, for benchmarks and scale
    tests. ``app_secret`` enables ``appsecret_proof`` verification (only checked
    when a client sends a proof). ``usage_pct_per_call`` is how many usage
    percentage points one call adds for 60 seconds. ``async_delay_scale`` multiplies
    how long async report runs take (1.0: realistic, seconds to minutes, as on Meta;
    0.01 for fast tests and the demo; 0: complete at creation), see ``reports.py``.
    ``quiet_accounts`` lists account indexes (0-based, in ``accounts`` order) whose
    campaigns are all paused since ``world.QUIET_SINCE``: accounts that really spend
    nothing any more, as opposed to the ``zeros`` fault, which answers zeros for an
    account that does deliver. ``breakdown_drift_per_mille`` (0 = off) makes breakdown
    rows add up to up to that many per mille more or less than the unbroken totals,
    as Meta's sometimes do (``breakdowns.py``); the truth reports both figures.
    """

    seed: int = DEFAULT_SEED
    accounts: int = DEFAULT_ACCOUNTS
    latency_ms: int = 0
    ads_per_account: int | None = None
    today: dt.date | None = None
    app_secret: str | None = None
    usage_pct_per_call: float = 0.1
    async_delay_scale: float = 1.0
    quiet_accounts: tuple[int, ...] = ()
    breakdown_drift_per_mille: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.accounts <= MAX_ACCOUNTS:
            raise ValueError(f"accounts must be in 1..{MAX_ACCOUNTS}")
        if any(not 0 <= i < self.accounts for i in self.quiet_accounts):
            raise ValueError(
                f"quiet_accounts are account indexes: each must be in 0..{self.accounts - 1}"
            )
        if self.ads_per_account is not None and not (
            1 <= self.ads_per_account <= MAX_ADS_PER_ACCOUNT
        ):
            raise ValueError(f"ads_per_account must be in 1..{MAX_ADS_PER_ACCOUNT}")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        if self.usage_pct_per_call < 0:
            raise ValueError("usage_pct_per_call must be >= 0")
        if not 0 <= self.breakdown_drift_per_mille <= MAX_DRIFT_PER_MILLE:
            raise ValueError(f"breakdown_drift_per_mille must be in 0..{MAX_DRIFT_PER_MILLE}")
        if not 0 <= self.async_delay_scale <= 100:
            raise ValueError("async_delay_scale must be in 0..100 (1 = realistic, 0 = instant)")
