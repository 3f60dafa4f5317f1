-- Every version of every campaign: valid_from (inclusive) to valid_to (exclusive,
-- NULL for the current version).  For as-of reporting join facts on
-- campaign_id and valid_from <= a timestamp < coalesce(valid_to, 'infinity').
select
    campaign_id,
    account_id,
    name as campaign_name,
    objective,
    daily_budget,
    lifetime_budget,
    start_time,
    stop_time,
    status,
    effective_status,
    created_time,
    updated_time,
    record_hash,
    version_number,
    valid_from,
    valid_to,
    valid_to is null as is_current,
    pulled_at
from {{ ref('int_campaign_history') }}
