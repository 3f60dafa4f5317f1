-- Alerts raised by the automation (failed checks, failed runs, expiring tokens), one
-- row per alert_key.  Empty until the automation writes lake/alerts/.
select
    alert_key,
    kind,
    account_id,
    severity,
    message,
    first_seen_at,
    last_sent_at
from {{ ref('stg_alerts') }}
