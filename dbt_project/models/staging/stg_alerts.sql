-- Alerts raised by the automation, one row per alert_key: its latest event, an alert
-- sent (status 'open') or its resolution (status 'resolved', resolved_at set).  Files
-- written before resolutions were recorded have no status: they were alerts sent.  The
-- dataset may not exist yet: the lake view is then an empty typed relation.
select
    alert_key,
    kind,
    account_id,
    cause,
    lower(severity) as severity,
    coalesce(status, 'open') as status,
    title,
    message,
    first_seen_at,
    last_sent_at,
    resolved_at
from {{ source('lake', 'alerts') }}
qualify row_number() over (
    partition by alert_key
    order by coalesce(resolved_at, last_sent_at) desc nulls last, first_seen_at desc
) = 1
