{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'rpt_account_daily'}}}) }}
-- Ad-level totals agree with the account-level pull within var('reconciliation_tolerance')
-- (relative; at least one cent).  Warn only: Meta's ad-level breakdown can differ
-- slightly from the account total (rounding, late restatements), so a difference is
-- worth a look but must not block the marts.
{%- set tolerance = var('reconciliation_tolerance') %}
select
    account_id,
    date_day,
    spend as ad_level_spend,
    account_level_spend,
    impressions as ad_level_impressions,
    account_level_impressions
from {{ ref('rpt_account_daily') }}
where account_level_spend is not null
  and (
      abs(spend - account_level_spend) > greatest(0.01, {{ tolerance }} * account_level_spend)
      or abs(impressions - account_level_impressions)
          > greatest(1, {{ tolerance }} * account_level_impressions)
  )
