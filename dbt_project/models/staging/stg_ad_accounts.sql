-- One row per ad account (latest sighting).  account_status is Meta's numeric code;
-- the label is what dashboards show.
select
    account_id,
    name as account_name,
    upper(currency) as currency,
    timezone_name,
    account_status,
    case account_status
        when 1 then 'ACTIVE'
        when 2 then 'DISABLED'
        when 3 then 'UNSETTLED'
        when 7 then 'PENDING_RISK_REVIEW'
        when 8 then 'PENDING_SETTLEMENT'
        when 9 then 'IN_GRACE_PERIOD'
        when 100 then 'PENDING_CLOSURE'
        when 101 then 'CLOSED'
        when 201 then 'ANY_ACTIVE'
        when 202 then 'ANY_CLOSED'
        else 'UNKNOWN'
    end as account_status_label,
    source,
    is_active,
    first_seen_at,
    last_seen_at
from {{ source('lake', 'ad_accounts') }}
qualify row_number() over (partition by account_id order by last_seen_at desc nulls last) = 1
