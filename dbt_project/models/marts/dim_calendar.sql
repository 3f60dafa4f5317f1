{{ config(tags=['clock']) }}
-- One row per day from the first reported day to tomorrow (UTC+14 accounts are a day
-- ahead), with the week (starting on var week_start_day) and month it belongs to, so
-- analysts group by the same periods the weekly and monthly reports use.  Tag clock:
-- the range ends at the build's today, so every build rebuilds it.
with bounds as (
    select
        coalesce(min(date_day), current_date) as first_day,
        greatest(coalesce(max(date_day), current_date), current_date + 1) as last_day
    from {{ ref('rpt_account_daily') }}
),

days as (
    select cast(generate_series as date) as date_day
    from bounds, generate_series(bounds.first_day, bounds.last_day, interval 1 day)
)

select
    date_day,
    {{ week_start('date_day') }} as week_start,
    cast({{ week_start('date_day') }} + to_days(6) as date) as week_end,
    cast(date_trunc('month', date_day) as date) as month_start,
    cast(last_day(date_day) as date) as month_end,
    cast(date_trunc('quarter', date_day) as date) as quarter_start,
    cast(year(date_day) as integer) as year,
    cast(isoyear(date_day) as integer) as iso_year,
    cast(week(date_day) as integer) as iso_week,
    cast(isodow(date_day) as integer) as iso_day_of_week,
    dayname(date_day) as day_name,
    isodow(date_day) in (6, 7) as is_weekend
from days
