-- The day's rate of every account currency into the reporting currency, as the reports
-- convert with it.  A table, not a view: the published marts must not read the lake
-- (readers open them with external access off), and rpt_ad_daily is a view over it.
select
    date_day,
    currency,
    reporting_currency,
    rate,
    rate_day,
    missing_reason,
    source,
    pulled_at
from {{ ref('stg_fx_rates') }}
