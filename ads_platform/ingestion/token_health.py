"""Token health per ad account: debug_token ahead of time, 190s at run time, refresh.

Meta does not announce that a token will stop working, so the platform asks
``debug_token`` on a schedule and warns days before expiry; a 190 seen by any pull is
recorded immediately too (Meta can revoke early).  When an app id and secret are
configured and a user token is close to expiry, it is exchanged for a new long-lived
one and kept encrypted, never in plain text.

Rows say what recorded them (``checked_by``): ``debug_token`` for a check, ``api_error``
for a 190 seen by a pull, ``api_success`` for a pull that succeeded after one.  A 190 seen
at run time is not the last word: a later pull that succeeds records that the token
works again (:func:`record_runtime_success`), so the newest row - what the marts, the
alerts and the recovery sensor read - stops saying "invalid" after a successful pull.
A real debug_token check that says invalid (a missing scope, say) still counts: the
success row carries that verdict forward.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ads_platform.automation.lakeview import latest_token_row, read_rows, recent_files
from ads_platform.datasets import TOKEN_CHECKS
from ads_platform.ingestion.outcomes import CheckOutcome, PartitionOutcome
from ads_platform.lake import Lake
from ads_platform.meta.client import GraphClient
from ads_platform.meta.errors import MetaApiError, TokenInvalidError
from ads_platform.meta.redaction import redact
from ads_platform.meta.tokens import TokenInfo, TokenStore

DATASET = TOKEN_CHECKS.name
#: ``checked_by`` values.
DEBUG_TOKEN = "debug_token"  # noqa: S105 - the name of a Graph API endpoint
API_ERROR = "api_error"
API_SUCCESS = "api_success"
#: What a success row carries forward from the last debug_token check of the same token.
_CHECK_FIELDS = (
    "token_type",
    "is_valid",
    "expires_at",
    "data_access_expires_at",
    "days_left",
    "scopes",
    "missing_scopes",
    "last_error_code",
    "last_error_subcode",
    "last_error_message",
    "last_error_at",
)


def fingerprint(token: str) -> str:
    """Tells tokens apart in reports without revealing them (12 hex of sha256)."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


@dataclass
class TokenCheck:
    account_id: str
    token_env: str
    row: dict[str, Any]
    info: TokenInfo | None
    refreshed: bool = False
    refresh_note: str = ""

    @property
    def is_valid(self) -> bool:
        return bool(self.row.get("is_valid"))


def _base_row(
    account_id: str, token_env: str, token: str, now: dt.datetime, checked_by: str = DEBUG_TOKEN
) -> dict[str, Any]:
    return TOKEN_CHECKS.empty_row() | {
        "account_id": account_id,
        "checked_at": now,
        "token_env": token_env,
        "token_fingerprint": fingerprint(token),
        "refreshed": False,
        "checked_by": checked_by,
    }


def check_token(
    client: GraphClient,
    *,
    account_id: str,
    token_env: str,
    token: str,
    required_scopes: Sequence[str],
    app_id: str | None,
    app_secret: str | None,
    refresh_within_days: int,
    store: TokenStore | None,
    now: dt.datetime | None = None,
) -> TokenCheck:
    now = now or dt.datetime.now(dt.UTC)
    row = _base_row(account_id, token_env, token, now)
    app_token = f"{app_id}|{app_secret}" if app_id and app_secret else None
    try:
        data = client.debug_token(input_token=token, app_token=app_token)
    except TokenInvalidError as exc:
        row.update(is_valid=False, **error_fields(exc, now))
        return TokenCheck(account_id, token_env, row, None)
    info = TokenInfo.from_debug_token(data, required_scopes=tuple(required_scopes), now=now)
    row.update(
        token_type=str(data.get("type") or "") or None,
        is_valid=info.is_valid,
        expires_at=info.expires_at,
        data_access_expires_at=info.data_access_expires_at,
        days_left=None if info.days_left is None else round(info.days_left, 2),
        scopes=",".join(info.scopes),
        missing_scopes=",".join(info.missing_scopes),
    )
    problem = data.get("error")
    if isinstance(problem, Mapping):
        # debug_token explains an invalid token in data.error (code 190, subcode 460/463…).
        row.update(
            last_error_code=_int_or_none(problem.get("code")),
            last_error_subcode=_int_or_none(problem.get("subcode")),
            last_error_message=redact(str(problem.get("message") or ""))[:1000] or None,
            last_error_at=now,
        )
    check = TokenCheck(account_id, token_env, row, info)
    days_left = info.days_left
    if (
        info.is_valid
        and days_left is not None
        and days_left < refresh_within_days
        and row["token_type"] in (None, "USER")
    ):
        if not (app_id and app_secret):
            check.refresh_note = "expiring soon; no app id/secret configured, cannot refresh"
        elif store is None:
            check.refresh_note = "expiring soon; no token store key set, cannot refresh"
        else:
            try:
                fresh = client.exchange_token(app_id, app_secret, token)
            except MetaApiError as exc:
                check.refresh_note = f"refresh failed: {exc}"
            else:
                new_token = str(fresh.get("access_token") or "")
                if new_token:
                    # Remembers which token it replaced, so a new token the operator
                    # puts in the variable later wins over this one.
                    store.put_refreshed(token_env, new_token, refreshed_from=token)
                    expires_in = fresh.get("expires_in")
                    check.refreshed = True
                    row["refreshed"] = True
                    if expires_in:
                        row["expires_at"] = now + dt.timedelta(seconds=float(expires_in))
                        row["days_left"] = round(float(expires_in) / 86400, 2)
                    row["token_fingerprint"] = fingerprint(new_token)
                    check.refresh_note = "exchanged for a new long-lived token (stored encrypted)"
    return check


#: The asset check of ``token_health`` (a warning: the pulls still try).
TOKEN_VALID_CHECK = "token_valid"  # noqa: S105 - the name of a check


def verdict(check: TokenCheck, warn_within_days: float) -> PartitionOutcome:
    """The account's ``token_health`` outcome: checked (one row), and whether the token
    is fit to pull with — valid, every required scope, not expiring within
    ``warn_within_days`` — as a WARN check naming each problem.
    """
    days_left = check.row.get("days_left")
    problems = []
    if not check.is_valid:
        problems.append(str(check.row.get("last_error_message") or "debug_token: is_valid=false"))
    if check.row.get("missing_scopes"):
        problems.append(f"missing scopes: {check.row['missing_scopes']}")
    if isinstance(days_left, float) and days_left < warn_within_days:
        problems.append(f"expires in {days_left:.1f} day(s)")
    return PartitionOutcome(
        DATASET,
        check.account_id,
        None,
        "success",
        rows=1,
        message=check.refresh_note,
        checks=[
            CheckOutcome(
                TOKEN_VALID_CHECK,
                not problems,
                "; ".join(problems) or "valid",
                {"days_left": days_left if days_left is not None else "never"},
                severity="WARN",
            )
        ],
    )


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def error_fields(error: MetaApiError, now: dt.datetime) -> dict[str, Any]:
    return {
        "last_error_code": error.code,
        "last_error_subcode": error.subcode,
        "last_error_message": str(error)[:1000],
        "last_error_at": now,
    }


def record(lake: Lake, rows: Sequence[Mapping[str, Any]], tag: str) -> None:
    lake.append_per_account(TOKEN_CHECKS, rows, tag=tag)


def record_runtime_error(
    lake: Lake, account_id: str, token_env: str, token: str, error: MetaApiError, tag: str
) -> None:
    """A 190 seen by a pull: recorded at once, Meta may revoke before expiry."""
    now = dt.datetime.now(dt.UTC)
    row = _base_row(account_id, token_env, token, now, API_ERROR) | {"is_valid": False}
    row.update(error_fields(error, now))
    record(lake, [row], tag)


def is_runtime_failure(row: Mapping[str, Any]) -> bool:
    """A 190 recorded by a pull (rows written before ``checked_by`` existed: an invalid
    row without any debug_token detail, which is what :func:`record_runtime_error` wrote)."""
    if row.get("is_valid") is not False:
        return False
    by = row.get("checked_by")
    return by == API_ERROR or (by is None and row.get("token_type") is None)


def record_runtime_success(
    lake: Lake, account_id: str, token_env: str, token: str, tag: str
) -> bool:
    """A pull succeeded: supersede a 190 that a pull recorded earlier, if that is the news.

    Writes only when the account's newest row is such a runtime failure (a file per
    successful run would grow the dataset for nothing).  The new row carries the last
    debug_token check of the same token forward (expiry, scopes, and its verdict: a
    check that said invalid still counts); without one, the call itself is the evidence
    that the token is valid.  Returns whether a row was written.
    """
    newest = latest_token_row(lake, account_id)
    if newest is None or not is_runtime_failure(newest):
        return False
    now = dt.datetime.now(dt.UTC)
    row = _base_row(account_id, token_env, token, now, API_SUCCESS) | {"is_valid": True}
    check = _last_check(lake, account_id, row["token_fingerprint"])
    if check is not None:
        row.update({name: check.get(name) for name in _CHECK_FIELDS})
    record(lake, [row], tag)
    return True


def _last_check(lake: Lake, account_id: str, token_fingerprint: str) -> dict[str, Any] | None:
    """The newest debug_token row of this token for the account, if any (newest files
    first: usually the first file or two)."""
    for path in recent_files(lake, DATASET, account_id):
        rows = [
            r
            for r in read_rows([path])
            if r.get("checked_at") is not None
            and r.get("token_fingerprint") == token_fingerprint
            and r.get("checked_by") in (DEBUG_TOKEN, None)
            and not is_runtime_failure(r)
        ]
        if rows:
            return max(rows, key=lambda r: r["checked_at"])
    return None
