-- FX rates into the reporting currency, one row per (date_day, currency): the latest
-- pull.  rate is NULL (with missing_reason) where no reference rate was close enough:
-- converted money is then NULL and flagged, never converted at 1.0.
select
    date_day,
    upper(currency) as currency,
    upper(reporting_currency) as reporting_currency,
    rate,
    rate_day,
    missing_reason,
    source,
    pulled_at
from {{ source('lake', 'fx_rates') }}
qualify row_number() over (partition by date_day, upper(currency) order by pulled_at desc) = 1
