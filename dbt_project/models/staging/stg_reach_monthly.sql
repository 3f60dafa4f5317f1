-- Reach as pulled for a whole period, one row per (level, period, period_start,
-- account_id, campaign_id, ad_set_id), latest fetch.  Reach is deduplicated people over
-- exactly that level and range: it is never summed.
select
    level,
    period,
    period_start,
    period_end,
    account_id,
    campaign_id,
    ad_set_id,
    upper(currency) as currency,
    reach,
    impressions,
    spend,
    is_complete,
    fetched_at
from {{ source('lake', 'reach_monthly') }}
qualify row_number() over (
    partition by level, period, period_start, account_id, campaign_id, ad_set_id
    order by fetched_at desc
) = 1
