{{ config(materialized='view') }}
-- The latest token evidence per account (see int_token_health_latest: a successful pull
-- supersedes a 190 seen at run time).  A view so that days_left counts down at query
-- time from expires_at (days_left_at_check is what the check itself computed).
select
    account_id,
    checked_at,
    token_env,
    token_fingerprint,
    token_type,
    is_valid and (expires_at is null or expires_at > now()) as is_valid,
    expires_at,
    data_access_expires_at,
    case when expires_at is not null
        then round(date_diff('second', now(), expires_at) / 86400.0, 2)
    end as days_left,
    days_left as days_left_at_check,
    scopes,
    missing_scopes,
    coalesce(missing_scopes, '') <> '' as has_missing_scopes,
    last_error_code,
    last_error_subcode,
    last_error_message,
    last_error_at,
    refreshed,
    checked_by
from {{ ref('int_token_health_latest') }}
