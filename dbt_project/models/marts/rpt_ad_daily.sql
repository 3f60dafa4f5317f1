{{ config(materialized='view') }}
-- A view: same grain as fct_ad_daily, so it only adds names and ratios at read time
-- (rebuilding a million-row copy on every incremental run cost seconds).
-- Ad × day report: the fact grain with current names and ratios.  Reach and
-- frequency are per ad-day as pulled (valid at exactly this grain, never summed up).
with facts as (
    select *, {{ report_ratios() }}
    from {{ ref('fct_ad_daily') }}
)

select
    facts.date_day,
    facts.account_id,
    accounts.account_name,
    facts.campaign_id,
    campaigns.campaign_name,
    facts.ad_set_id,
    ad_sets.ad_set_name,
    facts.ad_id,
    ads.ad_name,
    facts.currency,
    facts.timezone_name,
    facts.reach,
    cast(facts.impressions as double) / nullif(facts.reach, 0) as frequency,
    {{ report_metrics('facts') }},
    {{ reporting_money_columns('facts') }}
from facts
{{ fx_join('facts') }}
left join {{ ref('dim_ad_accounts') }} as accounts on accounts.account_id = facts.account_id
left join {{ ref('dim_campaigns') }} as campaigns on campaigns.campaign_id = facts.campaign_id
left join {{ ref('dim_ad_sets') }} as ad_sets on ad_sets.ad_set_id = facts.ad_set_id
left join {{ ref('dim_ads') }} as ads on ads.ad_id = facts.ad_id
