-- Alerts raised by the automation, one row per alert_key: an incident per (account,
-- cause) whatever raised it (a failed run, a failed check, the health sensor), a failed
-- run without per-account attempts, an expiring token or an account nobody pulls.
-- status says whether it is still open; resolved_at when a later pull cleared it.
-- Empty until the automation writes lake/alerts/.
select
    alert_key,
    kind,
    account_id,
    cause,
    severity,
    status,
    title,
    message,
    first_seen_at,
    last_sent_at,
    resolved_at
from {{ ref('stg_alerts') }}
