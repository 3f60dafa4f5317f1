{{ config(materialized='view') }}
-- Campaign × calendar month: sums of rpt_campaign_daily, ratios of those sums, and the
-- campaign's reach for the month as Meta computed it at campaign level (fct_reach), never
-- summed from ads or days.
with rolled as (
    {{ period_rollup(ref('rpt_campaign_daily'), 'month', ['account_id', 'campaign_id'], ['account_name', 'campaign_name', 'objective']) }}
)

select
    rolled.*,
    reach.reach,
    cast(rolled.impressions as double) / nullif(reach.reach, 0) as frequency,
    reach.is_complete as reach_is_complete
from rolled
left join {{ ref('fct_reach') }} as reach
    on reach.level = 'campaign' and reach.period = 'month'
    and reach.account_id = rolled.account_id and reach.campaign_id = rolled.campaign_id
    and reach.period_start = rolled.period_start
