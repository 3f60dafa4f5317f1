{{ config(materialized='view') }}
-- Account × calendar month: sums of rpt_account_daily, ratios of those sums, and the
-- account's reach for the month exactly as Meta computed it (fct_reach, level account,
-- period month): deduplicated people, never a sum of daily reach.
with rolled as (
    {{ period_rollup(ref('rpt_account_daily'), 'month', ['account_id'], ['account_name']) }}
)

select
    rolled.*,
    reach.reach,
    cast(rolled.impressions as double) / nullif(reach.reach, 0) as frequency,
    reach.is_complete as reach_is_complete
from rolled
left join {{ ref('fct_reach') }} as reach
    on reach.level = 'account' and reach.period = 'month'
    and reach.account_id = rolled.account_id and reach.period_start = rolled.period_start
