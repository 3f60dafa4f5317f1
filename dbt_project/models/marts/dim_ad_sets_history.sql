-- Every version of every ad set: valid_from (inclusive) to valid_to (exclusive,
-- NULL for the current version).  For as-of reporting join facts on
-- ad_set_id and valid_from <= a timestamp < coalesce(valid_to, 'infinity').
select
    ad_set_id,
    account_id,
    name as ad_set_name,
    campaign_id,
    optimization_goal,
    billing_event,
    daily_budget,
    lifetime_budget,
    start_time,
    end_time,
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
from {{ ref('int_ad_set_history') }}
