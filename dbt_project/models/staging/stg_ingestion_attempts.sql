-- Every ingestion attempt (append-only), one row per attempt.  cause: what a person acts
-- on for a failed or blocked attempt (vocabulary of ads_platform/ingestion/causes.py).
select
    account_id,
    dataset,
    date_day,
    attempted_at,
    run_id,
    lower(status) as status,
    error_kind,
    case when lower(status) in ('failed', 'blocked')
        then {{ cause_of_kind('error_kind') }}
    end as cause,
    message,
    rows
from {{ source('lake', 'ingestion_attempts') }}
qualify row_number() over (
    partition by account_id, dataset, date_day, attempted_at, run_id order by _lake_file desc
) = 1
