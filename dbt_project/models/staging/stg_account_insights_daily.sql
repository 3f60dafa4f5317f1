{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['account_id', 'date_day'],
    on_schema_change='sync_all_columns',
    pre_hook="{{ lake_file_pre_hook('account_insights_daily') }}",
) }}
-- depends_on: {{ source('lake', 'account_insights_daily') }}
-- Account × day totals, one row per (account_id, date_day), latest fetch.
-- A table, not a view: two marts read it and each read of the lake opens every file.
-- Incremental by lake file like fct_ad_daily (macros/incremental.sql): a re-pulled
-- day re-reads its one file instead of the whole dataset.
{%- set plan = none %}
{%- if execute and is_incremental() and target_can_plan(this, lake_lineage_columns()) %}
    {%- set plan = lake_file_plan('account_insights_daily', this) %}
    {%- do log('stg_account_insights_daily: re-reading ' ~ (plan.read | length)
               ~ ' lake file(s), dropping ' ~ (plan.drop | length), info=true) %}
{%- endif %}

with lake_rows as (
    {%- if plan is none %}
    select * from {{ source('lake', 'account_insights_daily') }}
    {%- else %}
    {{ lake_relation_sql('account_insights_daily', true, files=plan.read) }}
    {%- endif %}
),

lake_files as (
    -- the listing taken at the start of the run (macros/lake.sql)
    select file, last_modified
    from {{ source('lake', 'lake_files') }}
    where dataset = 'account_insights_daily'
)

select
    lake_rows.date_day,
    lake_rows.account_id,
    upper(lake_rows.currency) as currency,
    lake_rows.impressions,
    lake_rows.reach,
    lake_rows.clicks_all,
    lake_rows.link_clicks,
    lake_rows.spend,
    lake_rows.fetched_at,
    lake_rows.run_id,
    lake_rows._lake_file as lake_file,
    lake_files.last_modified as lake_file_modified_at,
    cast('{{ run_started_at.isoformat() }}' as timestamptz) as built_at
from lake_rows
left join lake_files on lake_files.file = lake_rows._lake_file
qualify row_number() over (
    partition by lake_rows.account_id, lake_rows.date_day
    order by lake_rows.fetched_at desc, lake_rows.run_id desc
) = 1
