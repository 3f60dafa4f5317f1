{{ config(materialized='table') }}
-- A table, not a view: two marts read it and each read of the lake opens every file.
-- Account × day totals, one row per (account_id, date_day), latest fetch.
select
    date_day,
    account_id,
    upper(currency) as currency,
    impressions,
    reach,
    clicks_all,
    link_clicks,
    spend,
    fetched_at,
    run_id
from {{ source('lake', 'account_insights_daily') }}
qualify row_number() over (
    partition by account_id, date_day order by fetched_at desc, run_id desc
) = 1
