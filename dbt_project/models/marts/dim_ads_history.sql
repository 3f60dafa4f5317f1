-- Every version of every ad: valid_from (inclusive) to valid_to (exclusive,
-- NULL for the current version).  For as-of reporting join facts on
-- ad_id and valid_from <= a timestamp < coalesce(valid_to, 'infinity').
select
    ad_id,
    account_id,
    name as ad_name,
    campaign_id,
    ad_set_id,
    creative_id,
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
from {{ ref('int_ad_history') }}
