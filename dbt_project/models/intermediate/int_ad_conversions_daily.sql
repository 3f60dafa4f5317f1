-- Conversions per (account_id, date_day, ad_id, action_type) for the configured action
-- types, every configured attribution window as its own column.
--
-- Counts (stat = conversion_count_stat, e.g. `actions`) and values (stat =
-- conversion_value_stat, e.g. `action_values`) are two separate lists in Meta's
-- response, and either can be missing for an action type on a given day.  They are
-- combined with UNION ALL and then aggregated, so a value without a count row keeps
-- its value and a count without a value keeps its count (the reference package's
-- LEFT JOIN from counts to values dropped most of the value on its own seed data).
{%- set types = conversion_types() %}
{%- set windows = attribution_windows() %}
{%- set count_stat = var('conversion_count_stat') %}
{%- set value_stat = var('conversion_value_stat') %}

with action_rows as (
    -- list_filter before unnest: only the configured types and stats are unnested.
    select
        account_id,
        date_day,
        ad_id,
        unnest(list_filter(
            actions,
            lambda a: a.action_type in ({{ sql_string_list(types | map(attribute='action_type')) }})
                and a.stat in ('{{ count_stat }}', '{{ value_stat }}')
        )) as action
    from {{ ref('stg_ad_insights_daily') }}
),

flat as (
    select
        account_id,
        date_day,
        ad_id,
        action.stat as stat,
        action.action_type as action_type,
        action."window" as attribution_window,
        cast(action.value as decimal(18, 6)) as amount
    from action_rows
),

counts as (
    select account_id, date_day, ad_id, action_type, attribution_window,
           amount as n_conversions, cast(null as decimal(18, 6)) as value_amount
    from flat
    where stat = '{{ count_stat }}'
),

conversion_values as (
    select account_id, date_day, ad_id, action_type, attribution_window,
           cast(null as decimal(18, 6)) as n_conversions, amount as value_amount
    from flat
    where stat = '{{ value_stat }}'
),

combined as (
    select * from counts
    union all
    select * from conversion_values
)

select
    account_id,
    date_day,
    ad_id,
    action_type,
    case action_type
        {%- for t in types %}
        when '{{ t.action_type }}' then '{{ t.name }}'
        {%- endfor %}
    end as conversion_name,
    cast(sum(n_conversions) filter (where attribution_window = 'value') as decimal(18, 6)) as conversions,
    cast(sum(value_amount) filter (where attribution_window = 'value') as decimal(18, 6)) as conversion_value
    {%- for w in windows %},
    cast(sum(n_conversions) filter (where attribution_window = '{{ w }}') as decimal(18, 6)) as conversions_{{ w }},
    cast(sum(value_amount) filter (where attribution_window = '{{ w }}') as decimal(18, 6)) as conversion_value_{{ w }}
    {%- endfor %}
from combined
group by account_id, date_day, ad_id, action_type
