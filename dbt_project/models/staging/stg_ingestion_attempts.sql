-- Every ingestion attempt (append-only), one row per attempt.
select
    account_id,
    dataset,
    date_day,
    attempted_at,
    run_id,
    lower(status) as status,
    error_kind,
    message,
    rows
from {{ source('lake', 'ingestion_attempts') }}
qualify row_number() over (
    partition by account_id, dataset, date_day, attempted_at, run_id order by _lake_file desc
) = 1
