-- Every version of every ad_set: one row per (ad_set_id, valid_from).  The file holds
-- the whole history; a version written twice (same valid_from) keeps its latest pull.
select *
from {{ source('lake', 'ad_sets') }}
qualify row_number() over (
    partition by ad_set_id, valid_from order by pulled_at desc, record_hash
) = 1
