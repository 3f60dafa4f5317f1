{{ config(severity='error', tags=['full_lake'], meta={'dagster': {'ref': {'name': 'fct_ad_daily'}}}) }}
-- The marts equal the lake: per account-day, spend, impressions, link clicks and the
-- number of ad rows in fct_ad_daily equal what the lake's ad_insights_daily files
-- hold, and neither side has an account-day the other lacks.  Catches a lost or
-- duplicated slice, a stale incremental slice and a fan-out join.
-- Tag full_lake: it reads every file of the dataset (seconds on a big lake), so it runs
-- in full builds only - `dbt build` without exclusions, the first build of a build
-- database and the Dagster asset's daily verification - while incremental builds
-- (`--exclude tag:full_lake`) rely on the metadata-only lineage test
-- matches_lake_listing.  See dbt_project/README.md, "When each test runs".
with lake as (
    select
        account_id,
        date_day,
        count(*) as n_rows,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(coalesce(link_clicks, 0)) as link_clicks
    from {{ source('lake', 'ad_insights_daily') }}
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
    from {{ ref('fct_ad_daily') }}
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
