-- Ads joined to their creatives over time: which creative each ad carried on which
-- account-local days (see int_ad_creative_days for how the days are dated), with the
-- creative's current name and landing URL.
select
    days.ad_id,
    days.account_id,
    ads.ad_name,
    days.creative_id,
    creatives.creative_name,
    creatives.base_url,
    days.valid_from_day,
    days.valid_to_day,
    days.valid_to_day is null as is_current,
    days.is_first_seen,
    days.assigned_at
from {{ ref('int_ad_creative_days') }} as days
left join {{ ref('dim_ads') }} as ads on ads.ad_id = days.ad_id
left join {{ ref('dim_creatives') }} as creatives on creatives.creative_id = days.creative_id
