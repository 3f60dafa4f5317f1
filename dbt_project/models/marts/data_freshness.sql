{{ config(materialized='view') }}
-- Is what the dashboards show stale, and why?  A view: "today" is evaluated when the
-- dashboard asks, in each account's own timezone, so a marts file that stopped being
-- rebuilt still reports itself stale.
--
-- is_stale rule: no successful day yet, OR the last good day is older than yesterday
-- in the account's timezone, OR the last ad-insights attempt did not succeed.
with base as (
    select
        *,
        cast(timezone(coalesce(timezone_name, 'UTC'), now()) as date) as account_today,
        case when token_expires_at is not null
            then round(date_diff('second', now(), token_expires_at) / 86400.0, 2)
        end as token_days_left,
        (token_is_valid = false or token_expires_at <= now()) as token_expired
    from {{ ref('int_account_freshness') }}
),

judged as (
    select
        *,
        (
            last_good_day is null
            or last_good_day < account_today - 1
            or coalesce(last_attempt_status, 'success') <> 'success'
        ) as is_stale,
        case
            when coalesce(last_attempt_status, 'success') <> 'success'
                and last_attempt_error_kind in ('token_invalid', 'token_expired', 'auth')
                then 'token expired — re-authorize'
            when coalesce(last_attempt_status, 'success') <> 'success'
                and last_attempt_error_kind = 'permission'
                then 'permission lost — re-grant access to the ad account'
            when coalesce(last_attempt_status, 'success') <> 'success' and token_expired
                then 'token expired — re-authorize'
            when last_attempt_status = 'blocked'
                then 'last pull blocked by a check (' || coalesce(last_attempt_error_kind, 'unknown')
                    || '): ' || coalesce(last_attempt_message, 'no message')
            when coalesce(last_attempt_status, 'success') <> 'success'
                then 'last pull failed (' || coalesce(last_attempt_error_kind, 'unknown')
                    || '): ' || coalesce(last_attempt_message, 'no message')
            when last_good_day is null then 'no data ingested yet'
            when last_good_day < account_today - 1 then 'no successful pull since '
                || strftime(last_good_day, '%Y-%m-%d')
        end as stale_reason
    from base
)

select
    account_id,
    account_name,
    currency,
    timezone_name,
    account_today,
    last_good_day,
    case when last_good_day is not null then account_today - last_good_day end as days_behind,
    last_attempt_at,
    last_attempt_dataset,
    last_attempt_status,
    last_attempt_error_kind,
    last_attempt_message,
    last_failure_at,
    last_failure_dataset,
    last_failure_error_kind,
    last_failure_message,
    failing_datasets,
    token_is_valid and not coalesce(token_expired, false) as token_is_valid,
    token_expires_at,
    token_days_left,
    token_missing_scopes,
    is_stale,
    case when is_stale then stale_reason end as stale_reason,
    case
        when is_stale then
            'data as of ' || coalesce(strftime(last_good_day, '%Y-%m-%d'), 'never') || ': ' || stale_reason
        when token_expired then
            'data as of ' || strftime(last_good_day, '%Y-%m-%d') || ': up to date, but the token has expired — re-authorize'
        when token_days_left is not null and token_days_left < 14 then
            'data as of ' || strftime(last_good_day, '%Y-%m-%d') || ': up to date; token expires in '
            || cast(floor(token_days_left) as integer) || ' day(s) — re-authorize soon'
        else 'data as of ' || strftime(last_good_day, '%Y-%m-%d') || ': up to date'
    end as status_message
from judged
