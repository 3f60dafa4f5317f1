{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['account_id', 'date_day'],
    on_schema_change='sync_all_columns',
    pre_hook="{{ fct_ad_daily_pre_hook() }}",
) }}
-- depends_on: {{ source('lake', 'ad_insights_daily') }}
-- The additive base: one row per ad × account-local day, as Meta reported it.
-- Incremental by lake file: see macros/incremental.sql.  The settings' passthrough
-- fields and action types (macros/passthrough.sql) follow the conversion columns.
{%- set config_hash = conversion_config_hash() %}
{%- set types = conversion_types() %}
{%- set windows = attribution_windows() %}
{%- set plan = none %}
{%- if execute and is_incremental() and target_can_plan(this) %}
    {%- set plan = ad_daily_plan(this, ref('stg_ad_accounts'), config_hash) %}
    {%- do log('fct_ad_daily: re-reading ' ~ (plan.read | length) ~ ' lake file(s), dropping '
               ~ (plan.drop | length), info=true) %}
{%- endif %}

with
{%- if plan is none %}
insights as (
    select * from {{ ref('stg_ad_insights_daily') }}
),

conversion_rows as (
    select * from {{ ref('int_ad_conversions_daily') }}
),

{%- else %}
changed_lake_rows as (
    {{ lake_relation_sql('ad_insights_daily', true, files=plan.read) }}
),

insights as (
    {{ stg_ad_insights_select('changed_lake_rows', passthrough=true) }}
),

conversion_rows as (
    {{ ad_conversions_select('insights') }}
),

{%- endif %}

lake_files as (
    -- the listing taken at the start of the run (macros/lake.sql)
    select file as lake_file, last_modified
    from {{ source('lake', 'lake_files') }}
    where dataset = 'ad_insights_daily'
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
    from conversion_rows
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
    insights.spend,
    {{ video_fact_columns('insights') }}
    {%- for c in conversion_metric_columns() %},
    cast(coalesce(conversions.{{ c }}, 0) as decimal(18, 6)) as {{ c }}
    {%- endfor %}
    {%- for c in passthrough_columns() %},
    insights.{{ adapter.quote(c) }}
    {%- endfor %},
    insights.fetched_at,
    insights._lake_file as lake_file,
    lake_files.last_modified as lake_file_modified_at,
    cast('{{ run_started_at.isoformat() }}' as timestamptz) as built_at,
    '{{ config_hash }}' as conversion_config_hash
from insights
left join conversions
    on conversions.account_id = insights.account_id
    and conversions.date_day = insights.date_day
    and conversions.ad_id = insights.ad_id
left join accounts
    on accounts.account_id = insights.account_id
left join lake_files
    on lake_files.lake_file = insights._lake_file
