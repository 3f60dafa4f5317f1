{{ config(tags=['clock']) }}
-- Tag clock: is_complete depends on the time of the build, so every build - also an
-- incremental one in which no reach input changed - rebuilds this model.
-- Reach and frequency at exactly the grain they were pulled: account × day (from the
-- account-level daily pull), account × month, campaign × month and ad set × month, and
-- account and campaign × last 7/14/30 days ending yesterday (reach_monthly).  Reach counts deduplicated people within that level and range: it
-- never adds across days, months, ads, ad sets or campaigns, so no report sums it.
with account_days as (
    select
        'account' as level,
        'day' as period,
        insights.date_day as period_start,
        insights.date_day as period_end,
        insights.account_id,
        cast(null as varchar) as campaign_id,
        cast(null as varchar) as ad_set_id,
        insights.currency,
        insights.reach,
        insights.impressions,
        insights.spend,
        -- a day is complete once it is over in the account's timezone (at build time)
        insights.date_day < cast(timezone(coalesce(accounts.timezone_name, 'UTC'), now()) as date)
            as is_complete,
        insights.fetched_at
    from {{ ref('stg_account_insights_daily') }} as insights
    left join {{ ref('stg_ad_accounts') }} as accounts on accounts.account_id = insights.account_id
),

pulled_periods as (
    select
        level,
        period,
        period_start,
        period_end,
        account_id,
        campaign_id,
        ad_set_id,
        currency,
        reach,
        impressions,
        spend,
        is_complete,
        fetched_at
    from {{ ref('stg_reach_monthly') }}
),

unioned as (
    select * from account_days
    union all
    select * from pulled_periods
)

select
    level,
    period,
    period_start,
    period_end,
    account_id,
    campaign_id,
    ad_set_id,
    currency,
    reach,
    impressions,
    spend,
    cast(impressions as double) / nullif(reach, 0) as frequency,
    is_complete,
    fetched_at
from unioned
