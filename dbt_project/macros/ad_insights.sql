{#
  The staging and conversion logic of ad insights as macros over a relation, so the
  staging view, the conversions view and the incremental path of fct_ad_daily (which
  reads only the changed lake files) share one definition.
#}

{% macro stg_ad_insights_select(relation, dims=[], passthrough=false) %}
-- The lake replaces a whole account-day file on every re-pull, so the latest fetch of
-- a slice is authoritative: rows from an older fetch of the same slice (a stray
-- duplicate file) are dropped as a whole, then one row per ad (and breakdown value:
-- `dims`, for the breakdown datasets) is kept.  `passthrough`: ad_insights_daily's
-- relation, with the settings' passthrough columns (macros/passthrough.sql).
with latest_fetch as (
    select *
    from {{ relation }}
    qualify fetched_at = max(fetched_at) over (partition by account_id, date_day)
)

select
    date_day,
    account_id,
    campaign_id,
    ad_set_id,
    ad_id,
    {%- for d in dims %}
    {{ d }},
    {%- endfor %}
    upper(currency) as currency,
    impressions,
    reach,
    clicks_all,
    link_clicks,
    spend,
    {{ video_count_columns() | join(',\n    ') }},
    video_avg_time_watched_seconds,
    {%- if passthrough %}
    {%- for expression in passthrough_select() %}
    {{ expression }},
    {%- endfor %}
    {%- endif %}
    actions,
    fetched_at,
    run_id,
    _lake_file
from latest_fetch
qualify row_number() over (
    partition by account_id, date_day, ad_id{% for d in dims %}, {{ d }}{% endfor %}
    order by fetched_at desc, run_id desc
) = 1
{% endmacro %}

{% macro ad_conversions_select(relation) %}
{%- set types = conversion_types() %}
{%- set windows = attribution_windows() %}
{%- set count_stat = var('conversion_count_stat') %}
{%- set value_stat = var('conversion_value_stat') %}
-- Counts (stat = {{ count_stat }}) and values (stat = {{ value_stat }}) are separate
-- lists in Meta's response and either can be missing for an action type on a day.
-- They are combined with UNION ALL, then aggregated: a value without a count row
-- keeps its value, a count without a value keeps its count.
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
    from {{ relation }}
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
{% endmacro %}
