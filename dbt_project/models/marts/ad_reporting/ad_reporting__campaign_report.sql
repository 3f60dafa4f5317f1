{{ config(materialized='view') }}
-- rpt_campaign_daily in dbt_ad_reporting's campaign_report contract (macros/ad_reporting.sql).
select
    {{ ad_reporting_platform_columns() }},
    cast(r.campaign_id as varchar) as campaign_id,
    cast(r.campaign_name as varchar) as campaign_name,
    {{ ad_reporting_metric_columns() }}
from {{ ref('rpt_campaign_daily') }} as r
