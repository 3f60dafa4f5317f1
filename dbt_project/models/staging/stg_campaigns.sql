-- Every version of every campaign: one row per (campaign_id, valid_from).  The file holds
-- the whole history; a version written twice (same valid_from) keeps its latest pull.
select *
from {{ source('lake', 'campaigns') }}
qualify row_number() over (
    partition by campaign_id, valid_from order by pulled_at desc, record_hash
) = 1
