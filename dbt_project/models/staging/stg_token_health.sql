-- Every token check, one row per (account_id, checked_at): debug_token checks and what
-- pulls saw at run time (checked_by; NULL in files written before it was recorded).
select
    account_id,
    checked_at,
    token_env,
    token_fingerprint,
    token_type,
    is_valid,
    expires_at,
    data_access_expires_at,
    days_left,
    scopes,
    missing_scopes,
    last_error_code,
    last_error_subcode,
    last_error_message,
    last_error_at,
    refreshed,
    checked_by
from {{ source('lake', 'token_health') }}
qualify row_number() over (
    partition by account_id, checked_at order by token_fingerprint, _lake_file desc
) = 1
