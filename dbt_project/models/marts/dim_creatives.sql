-- The current version of every ad creative (replaced ones included: past spend of the
-- ads that carried them keeps their landing URL and text).
select * exclude (is_current, valid_to)
from {{ ref('dim_creatives_history') }}
where is_current
