-- One row per ad account: currency and timezone decide how every fact of the account
-- is read (money is never summed across currencies; days are the account's local days).
select
    account_id,
    account_name,
    currency,
    timezone_name,
    account_status,
    account_status_label,
    source,
    is_active,
    first_seen_at,
    last_seen_at
from {{ ref('stg_ad_accounts') }}
