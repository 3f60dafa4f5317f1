{{ config(severity='error', meta={'dagster': {'ref': {'name': 'fct_ad_daily'}}}) }}
-- depends_on: {{ source('lake', 'ad_insights_daily') }}
-- The marts equal the lake: per account-day, spend, impressions, link clicks and the
-- number of ad rows in fct_ad_daily equal what the lake's ad_insights_daily files
-- hold, and neither side has an account-day the other lacks.  Catches a lost or
-- duplicated slice, a stale incremental slice and a fan-out join.
-- Runs on every build (error: a blocking Dagster check, a failure stops the publish).
-- Full builds - `dbt build` by hand, the first build, the Dagster asset's daily
-- verification - compare every file of the dataset; incremental builds of the Dagster
-- asset compare the account-days of the files that changed since the last recorded
-- build (macros/reconciliation.sql), as cheap as the model's own re-read.  See
-- dbt_project/README.md, "When each test runs".
{%- set scope = reconciliation_scope('ad_insights_daily', ref('fct_ad_daily')) %}
{%- if scope is not none %}
    {%- do log('assert_fct_ad_daily_matches_lake: comparing ' ~ (scope.read | length)
               ~ ' changed lake file(s) and ' ~ (scope.gone | length) ~ ' deleted', info=true) %}
{%- endif %}
with lake as (
    select
        account_id,
        date_day,
        count(*) as n_rows,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(coalesce(link_clicks, 0)) as link_clicks
    {%- if scope is none %}
    from {{ source('lake', 'ad_insights_daily') }}
    {%- else %}
    from ({{ lake_relation_sql('ad_insights_daily', true, files=scope.read) }})
    {%- endif %}
    group by account_id, date_day
),

marts as (
    select
        account_id,
        date_day,
        count(*) as n_rows,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(coalesce(link_clicks, 0)) as link_clicks
    from {{ ref('fct_ad_daily') }} as f
    {%- if scope is not none %}
    -- the rows of the changed files, and any other row in their account-days
    where exists (
        select 1 from lake where lake.account_id = f.account_id and lake.date_day = f.date_day
    )
    {%- if scope.read or scope.gone %}
       or f.lake_file in ({{ sql_string_list(scope.read + scope.gone) }})
    {%- endif %}
    {%- endif %}
    group by account_id, date_day
)

select
    coalesce(lake.account_id, marts.account_id) as account_id,
    coalesce(lake.date_day, marts.date_day) as date_day,
    lake.n_rows as lake_rows,
    marts.n_rows as mart_rows,
    lake.spend as lake_spend,
    marts.spend as mart_spend,
    lake.impressions as lake_impressions,
    marts.impressions as mart_impressions
from lake
full outer join marts
    on lake.account_id = marts.account_id and lake.date_day = marts.date_day
where lake.n_rows is distinct from marts.n_rows
   or lake.spend is distinct from marts.spend
   or lake.impressions is distinct from marts.impressions
   or lake.link_clicks is distinct from marts.link_clicks
