"""Meta Graph / Marketing API access: client, report runs, error classes, pacing, stats, tokens.

Import from here; the submodules are split by job (one reason to change each).
"""

from ads_platform.meta.client import (
    DEFAULT_ACCOUNT_FIELDS,
    DEFAULT_ENTITY_FIELDS,
    DEFAULT_INSIGHT_FIELDS,
    EntityKind,
    GraphClient,
    InsightsMode,
    normalize_account_id,
    normalize_endpoint,
)
from ads_platform.meta.errors import (
    AsyncJobError,
    ErrorKind,
    InvalidParameterError,
    MalformedResponseError,
    MetaApiError,
    NetworkError,
    PermissionDeniedError,
    ThrottledError,
    TokenInvalidError,
    TooMuchDataError,
    TransientError,
    classify,
    required_field,
)
from ads_platform.meta.pacing import (
    Pacer,
    PacingPolicy,
    UsageReport,
    decide_wait,
    parse_usage_headers,
)
from ads_platform.meta.redaction import (
    RedactingFilter,
    install_log_redaction,
    redact,
    redact_url,
    register_secret,
)
from ads_platform.meta.reports import ReportPolling, ReportRuns
from ads_platform.meta.stats import CallStats, diff
from ads_platform.meta.tokens import TokenInfo, TokenStore, TokenStoreError, appsecret_proof

__all__ = [
    "DEFAULT_ACCOUNT_FIELDS",
    "DEFAULT_ENTITY_FIELDS",
    "DEFAULT_INSIGHT_FIELDS",
    "AsyncJobError",
    "CallStats",
    "EntityKind",
    "ErrorKind",
    "GraphClient",
    "InsightsMode",
    "InvalidParameterError",
    "MalformedResponseError",
    "MetaApiError",
    "NetworkError",
    "Pacer",
    "PacingPolicy",
    "PermissionDeniedError",
    "RedactingFilter",
    "ReportPolling",
    "ReportRuns",
    "ThrottledError",
    "TokenInfo",
    "TokenInvalidError",
    "TokenStore",
    "TokenStoreError",
    "TooMuchDataError",
    "TransientError",
    "UsageReport",
    "appsecret_proof",
    "classify",
    "decide_wait",
    "diff",
    "install_log_redaction",
    "normalize_account_id",
    "normalize_endpoint",
    "parse_usage_headers",
    "redact",
    "redact_url",
    "register_secret",
    "required_field",
]
