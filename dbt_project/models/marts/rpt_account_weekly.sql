{{ config(materialized='view') }}
-- Account × week (weeks start on var week_start_day): sums of rpt_account_daily and ratios
-- of those sums.  No reach: Meta's reach is not pulled per week and is never summed from days.
{{ period_rollup(ref('rpt_account_daily'), 'week', ['account_id'], ['account_name']) }}
