{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['account_id', 'date_day'],
    on_schema_change='sync_all_columns',
    pre_hook="{{ delete_vanished_slices(source('lake', 'ad_insights_daily')) }}",
) }}
-- depends_on: {{ source('lake', 'ad_insights_daily') }}
-- The additive base: one row per ad × account-local day, as Meta reported it.
-- Incremental by slice (account_id, date_day): see macros/incremental.sql.
{%- set config_hash = conversion_config_hash() %}
{%- set slices = none %}
{%- if is_incremental() %}
    {%- set slices = changed_slices(
        source('lake', 'ad_insights_daily'), this, ref('stg_ad_accounts'), config_hash) %}
    {%- do log('fct_ad_daily: rebuilding ' ~ (slices | length) ~ ' (account, day) slice(s)', info=true) %}
{%- endif %}
{%- set types = conversion_types() %}
{%- set windows = attribution_windows() %}

with insights as (
    select *
    from {{ ref('stg_ad_insights_daily') }}
    where {{ slice_predicate(slices) }}
),

conversions as (
    select
        account_id,
        date_day,
        ad_id,
        sum(conversions) as conversions,
        sum(conversion_value) as conversion_value
        {%- for w in windows %},
        sum(conversions_{{ w }}) as conversions_{{ w }},
        sum(conversion_value_{{ w }}) as conversion_value_{{ w }}
        {%- endfor %}
        {%- for t in types %},
        sum(conversions) filter (where conversion_name = '{{ t.name }}') as conversions_{{ t.name }},
        sum(conversion_value) filter (where conversion_name = '{{ t.name }}') as conversion_value_{{ t.name }}
        {%- endfor %}
    from {{ ref('int_ad_conversions_daily') }}
    where {{ slice_predicate(slices) }}
    group by account_id, date_day, ad_id
),

accounts as (
    select account_id, timezone_name from {{ ref('stg_ad_accounts') }}
)

select
    insights.date_day,
    insights.account_id,
    insights.campaign_id,
    insights.ad_set_id,
    insights.ad_id,
    insights.currency,
    accounts.timezone_name,
    insights.impressions,
    insights.reach,
    insights.clicks_all,
    insights.link_clicks,
    insights.spend
    {%- for c in conversion_metric_columns() %},
    cast(coalesce(conversions.{{ c }}, 0) as decimal(18, 6)) as {{ c }}
    {%- endfor %},
    insights.fetched_at,
    '{{ config_hash }}' as conversion_config_hash
from insights
left join conversions
    on conversions.account_id = insights.account_id
    and conversions.date_day = insights.date_day
    and conversions.ad_id = insights.ad_id
left join accounts
    on accounts.account_id = insights.account_id
