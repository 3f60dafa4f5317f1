{{ config(materialized='view') }}
-- Campaign × week (weeks start on var week_start_day): sums of rpt_campaign_daily and
-- ratios of those sums.  No reach: it is not pulled per week and never summed.
{{ period_rollup(ref('rpt_campaign_daily'), 'week', ['account_id', 'campaign_id'], ['account_name', 'campaign_name', 'objective']) }}
