-- Every version of every ad: one row per (ad_id, valid_from).  The file holds
-- the whole history; a version written twice (same valid_from) keeps its latest pull.
select *
from {{ source('lake', 'ads') }}
qualify row_number() over (
    partition by ad_id, valid_from order by pulled_at desc, record_hash
) = 1
