{#
  Weeks start on the day the settings name (dbt var week_start_day, passed by Dagster from
  reporting.week_start_day); a week is labelled by its first day.  DuckDB's isodow is
  1 (Monday) .. 7 (Sunday).
#}

{% macro week_start_index() -%}
  {%- set days = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] -%}
  {%- set wanted = (var('week_start_day', 'monday') | string | lower) -%}
  {%- if wanted not in days -%}
    {{ exceptions.raise_compiler_error(
        "var week_start_day must be one of " ~ days | join(', ') ~ ", not '" ~ wanted ~ "'") }}
  {%- endif -%}
  {{- return(days.index(wanted)) -}}
{%- endmacro %}

{% macro week_start(day_expr) -%}
    cast({{ day_expr }} - to_days(cast((isodow({{ day_expr }}) - 1 - {{ week_start_index() }} + 7) % 7 as integer)) as date)
{%- endmacro %}

{#- A rollup of a daily report to weeks or months: sums of the additive metrics, ratios of
    those sums (never averages of daily ratios), and how much of the period the marts cover,
    so a partial week or month is never read as a whole one. -#}
{% macro period_rollup(daily, period, keys, labels) -%}
with days as (
    select
        daily.*,
        {%- if period == 'week' %}
        {{ week_start('daily.date_day') }} as period_start
        {%- else %}
        cast(date_trunc('month', daily.date_day) as date) as period_start
        {%- endif %}
    from {{ daily }} as daily
),

sums as (
    select
        period_start,
        {%- for k in keys %}
        {{ k }},
        {%- endfor %}
        {%- for l in labels %}
        any_value({{ l }}) as {{ l }},
        {%- endfor %}
        currency,
        any_value(timezone_name) as timezone_name,
        cast(count(distinct date_day) as bigint) as days_with_rows,
        min(date_day) as first_day,
        max(date_day) as last_day,
        {{ report_sums() }}
    from days
    group by period_start, {% for k in keys %}{{ k }}, {% endfor %}currency
),

metrics as (
    select
        *,
        {%- if period == 'week' %}
        cast(period_start + to_days(6) as date) as period_end,
        {%- else %}
        cast(period_start + to_months(1) - to_days(1) as date) as period_end,
        {%- endif %}
        {{ report_ratios() }}
    from sums
)

select
    metrics.period_start,
    metrics.period_end,
    cast(date_diff('day', metrics.period_start, metrics.period_end) + 1 as bigint) as days_in_period,
    {%- for c in keys + labels %}
    metrics.{{ c }},
    {%- endfor %}
    metrics.currency,
    metrics.timezone_name,
    metrics.days_with_rows,
    metrics.first_day,
    metrics.last_day,
    -- complete: the period is over in the account's timezone and none of its days is
    -- after the account's last good day (data_freshness); otherwise a partial period
    coalesce(
        metrics.period_end < freshness.account_today
        and metrics.period_end <= freshness.last_good_day,
        false
    ) as is_complete,
    {{ report_metrics('metrics') }}
from metrics
left join {{ ref('data_freshness') }} as freshness on freshness.account_id = metrics.account_id
{%- endmacro %}
