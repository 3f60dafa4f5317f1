-- Alerts raised by the automation, one row per alert_key (latest send).  The dataset
-- may not exist yet: the lake view is then an empty typed relation.
select
    alert_key,
    kind,
    account_id,
    lower(severity) as severity,
    message,
    first_seen_at,
    last_sent_at
from {{ source('lake', 'alerts') }}
qualify row_number() over (
    partition by alert_key order by last_sent_at desc nulls last, first_seen_at desc
) = 1
