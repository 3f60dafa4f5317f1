{{ config(materialized='table') }}
-- The latest token evidence per account (the token_health mart adds query-time days
-- left): a debug_token check, a 190 seen by a pull, or a later successful pull that
-- supersedes that 190 (checked_by debug_token / api_error / api_success; a success row
-- carries the last debug_token check of the same token forward, verdict included, so a
-- real check that said invalid still counts: ads_platform/ingestion/token_health.py).
select *
from {{ ref('stg_token_health') }}
qualify row_number() over (partition by account_id order by checked_at desc) = 1
