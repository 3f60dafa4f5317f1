{{ config(materialized='table') }}
-- The latest token check per account (the token_health mart adds query-time days left).
select *
from {{ ref('stg_token_health') }}
qualify row_number() over (partition by account_id order by checked_at desc) = 1
