{{ config(materialized='table') }}
-- Per account, what the last ingestion attempts say (built with the marts; the
-- data_freshness view turns it into "stale or not" at query time).
--
-- Skipped attempts (a day that had not started in the account's time zone) are neither
-- a success nor a failure: they never count as the last attempt.  A good day is never
-- after the account's local today at build time, even when old data says so (empty
-- "future" partitions written before that rule): the view is queried later than this
-- table is built, so last_good_day <= account_today holds when it is read too.
with attempts as (
    select * from {{ ref('stg_ingestion_attempts') }}
    where status <> 'skipped'
),

accounts as (
    select account_id from {{ ref('stg_ad_accounts') }}
    union
    select account_id from attempts
    union
    select distinct account_id from {{ ref('fct_ad_daily') }}
),

zones as (
    select
        accounts.account_id,
        cast(timezone(coalesce(dims.timezone_name, 'UTC'), now()) as date) as account_today
    from accounts
    left join {{ ref('stg_ad_accounts') }} as dims on dims.account_id = accounts.account_id
),

good_days_from_attempts as (
    select attempts.account_id, max(attempts.date_day) as last_good_day
    from attempts
    inner join zones on zones.account_id = attempts.account_id
    where attempts.dataset = 'ad_insights_daily'
        and attempts.status = 'success'
        and attempts.date_day <= zones.account_today
    group by attempts.account_id
),

good_days_from_facts as (
    -- data may predate the attempts log: a day that has facts was ingested
    select facts.account_id, max(facts.date_day) as last_day
    from {{ ref('fct_ad_daily') }} as facts
    inner join zones on zones.account_id = facts.account_id
    where facts.date_day <= zones.account_today
    group by facts.account_id
),

last_insights_attempt as (
    select *
    from attempts
    where dataset = 'ad_insights_daily'
    qualify row_number() over (partition by account_id order by attempted_at desc, run_id desc) = 1
),

last_any_attempt as (
    select *
    from attempts
    qualify row_number() over (partition by account_id order by attempted_at desc, run_id desc) = 1
),

last_failure as (
    select *
    from attempts
    where status in ('failed', 'blocked')
    qualify row_number() over (partition by account_id order by attempted_at desc, run_id desc) = 1
),

latest_per_dataset as (
    select *
    from attempts
    qualify row_number() over (
        partition by account_id, dataset order by attempted_at desc, run_id desc
    ) = 1
),

failing as (
    select account_id, string_agg(dataset, ', ' order by dataset) as failing_datasets
    from latest_per_dataset
    where status in ('failed', 'blocked')
    group by account_id
)

select
    accounts.account_id,
    dims.account_name,
    dims.currency,
    dims.timezone_name,
    case
        when a.last_good_day is null then f.last_day
        when f.last_day is null then a.last_good_day
        else greatest(a.last_good_day, f.last_day)
    end as last_good_day,
    coalesce(li.attempted_at, la.attempted_at) as last_attempt_at,
    coalesce(li.dataset, la.dataset) as last_attempt_dataset,
    coalesce(li.status, la.status) as last_attempt_status,
    coalesce(li.error_kind, la.error_kind) as last_attempt_error_kind,
    coalesce(li.message, la.message) as last_attempt_message,
    lf.attempted_at as last_failure_at,
    lf.dataset as last_failure_dataset,
    lf.error_kind as last_failure_error_kind,
    lf.message as last_failure_message,
    failing.failing_datasets,
    token.is_valid as token_is_valid,
    token.expires_at as token_expires_at,
    token.missing_scopes as token_missing_scopes,
    token.checked_at as token_checked_at
from accounts
left join {{ ref('stg_ad_accounts') }} as dims on dims.account_id = accounts.account_id
left join good_days_from_attempts as a on a.account_id = accounts.account_id
left join good_days_from_facts as f on f.account_id = accounts.account_id
left join last_insights_attempt as li on li.account_id = accounts.account_id
left join last_any_attempt as la on la.account_id = accounts.account_id
left join last_failure as lf on lf.account_id = accounts.account_id
left join failing on failing.account_id = accounts.account_id
left join {{ ref('int_token_health_latest') }} as token on token.account_id = accounts.account_id
