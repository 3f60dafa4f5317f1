{{ config(materialized='view') }}
-- Is what the dashboards show stale, and why?  A view: "today" is evaluated when the
-- dashboard asks, in each account's own timezone, so a marts file that stopped being
-- rebuilt still reports itself stale.
--
-- is_stale rule: no successful day yet, OR the last good day is older than yesterday
-- in the account's timezone, OR the last ad-insights attempt did not succeed.
--
-- stale_cause is the real, latest cause, in the vocabulary of
-- ads_platform/ingestion/causes.py (macros/causes.sql is generated from it): the cause
-- of the last attempt when it failed or was blocked (a 503 after an expired token is
-- an API error, not the token); otherwise an invalid token, then "never pulled", then
-- "no pull of the recent days".  A later successful pull clears it.
with base as (
    select
        *,
        cast(timezone(coalesce(timezone_name, 'UTC'), now()) as date) as account_today,
        case when token_expires_at is not null
            then round(date_diff('second', now(), token_expires_at) / 86400.0, 2)
        end as token_days_left,
        coalesce(token_is_valid = false or token_expires_at <= now(), false) as token_expired,
        coalesce(last_attempt_status, 'success') <> 'success' as last_attempt_failed
    from {{ ref('int_account_freshness') }}
),

judged as (
    select
        *,
        (
            last_good_day is null
            or last_good_day < account_today - 1
            or last_attempt_failed
        ) as is_stale,
        -- "Tue 24 Nov", with the year when it is not the account's current year
        case when last_good_day is not null then
            strftime(last_good_day, '%a %-d %b')
            || case when year(last_good_day) <> year(account_today)
                then ' ' || year(last_good_day) else '' end
        end as as_of
    from base
),

caused as (
    select
        *,
        case
            when not is_stale then null
            when last_attempt_failed then {{ cause_of_kind('last_attempt_error_kind') }}
            when token_expired then 'token'
            when last_good_day is null then 'never_pulled'
            else 'not_pulled_recently'
        end as stale_cause
    from judged
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
    token_is_valid and not token_expired as token_is_valid,
    token_expires_at,
    token_days_left,
    token_missing_scopes,
    is_stale,
    stale_cause,
    {{ cause_reason('stale_cause') }} as stale_reason,
    case
        when is_stale then
            coalesce('data as of ' || as_of, 'no data yet') || ': ' || {{ cause_reason('stale_cause') }}
        when token_expired then
            'data as of ' || as_of || ': up to date, but ' || {{ cause_reason("'token'") }}
        when token_days_left is not null and token_days_left < 14 then
            'data as of ' || as_of || ': up to date; token expires in '
            || cast(floor(token_days_left) as integer) || ' day(s) — re-authorize soon'
        else 'data as of ' || as_of || ': up to date'
    end as status_message
from caused
