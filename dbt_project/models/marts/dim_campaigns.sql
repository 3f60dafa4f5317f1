-- The current version of every campaign (deleted and archived ones included, so
-- their past spend keeps a name).  Reports group by ids and take names from here.
select * exclude (is_current, valid_to)
from {{ ref('dim_campaigns_history') }}
where is_current
