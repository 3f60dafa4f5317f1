-- Every ad creative version: one row per (creative_id, valid_from), as stg_ads does
-- for ads (a version written twice keeps its latest pull).
select *
from {{ source('lake', 'creatives') }}
qualify row_number() over (
    partition by creative_id, valid_from order by pulled_at desc, record_hash
) = 1
