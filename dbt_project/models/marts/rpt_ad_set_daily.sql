-- Ad set × day report: sums over the ad set's ads, ratios of those sums, current
-- names.  No reach: people reached by different ads overlap, so ad reach never adds.
with sums as (
    select
        date_day,
        account_id,
        campaign_id,
        ad_set_id,
        currency,
        any_value(timezone_name) as timezone_name,
        {{ report_sums() }}
    from {{ ref('fct_ad_daily') }}
    group by date_day, account_id, campaign_id, ad_set_id, currency
),

metrics as (
    select *, {{ report_ratios() }}
    from sums
)

select
    sums.date_day,
    sums.account_id,
    accounts.account_name,
    sums.campaign_id,
    campaigns.campaign_name,
    sums.ad_set_id,
    ad_sets.ad_set_name,
    sums.currency,
    sums.timezone_name,
    {{ report_metrics('sums') }}
from metrics as sums
left join {{ ref('dim_ad_accounts') }} as accounts on accounts.account_id = sums.account_id
left join {{ ref('dim_campaigns') }} as campaigns on campaigns.campaign_id = sums.campaign_id
left join {{ ref('dim_ad_sets') }} as ad_sets on ad_sets.ad_set_id = sums.ad_set_id
