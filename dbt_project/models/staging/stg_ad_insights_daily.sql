-- Ad × day insights, one row per (account_id, date_day, ad_id).
-- The lake replaces a whole account-day file on every re-pull, so the latest fetch
-- of a slice is authoritative: rows from an older fetch of the same slice (a stray
-- duplicate file) are dropped as a whole, then one row per ad is kept.
with source as (
    select * from {{ source('lake', 'ad_insights_daily') }}
),

latest_fetch as (
    select *
    from source
    qualify fetched_at = max(fetched_at) over (partition by account_id, date_day)
)

select
    date_day,
    account_id,
    campaign_id,
    ad_set_id,
    ad_id,
    upper(currency) as currency,
    impressions,
    reach,
    clicks_all,
    link_clicks,
    spend,
    actions,
    fetched_at,
    run_id,
    _lake_file
from latest_fetch
qualify row_number() over (
    partition by account_id, date_day, ad_id order by fetched_at desc, run_id desc
) = 1
