-- Account × day report: sums over every ad of the account (so account spend equals
-- the sum of ad spend, deleted ads included), ratios of those sums, and the account's
-- deduplicated daily reach from the account-level pull (account_insights_daily).
with sums as (
    select
        date_day,
        account_id,
        currency,
        any_value(timezone_name) as timezone_name,
        {{ report_sums() }}
    from {{ ref('fct_ad_daily') }}
    group by date_day, account_id, currency
),

metrics as (
    select *, {{ report_ratios() }}
    from sums
),

account_level as (
    select account_id, date_day, reach, impressions, spend
    from {{ ref('stg_account_insights_daily') }}
)

select
    sums.date_day,
    sums.account_id,
    accounts.account_name,
    sums.currency,
    sums.timezone_name,
    account_level.reach,
    cast(account_level.impressions as double) / nullif(account_level.reach, 0) as frequency,
    account_level.spend as account_level_spend,
    account_level.impressions as account_level_impressions,
    {{ report_metrics('sums') }}
from metrics as sums
left join account_level
    on account_level.account_id = sums.account_id and account_level.date_day = sums.date_day
left join {{ ref('dim_ad_accounts') }} as accounts on accounts.account_id = sums.account_id
