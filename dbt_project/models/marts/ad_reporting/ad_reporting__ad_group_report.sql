{{ config(materialized='view') }}
-- rpt_ad_set_daily in dbt_ad_reporting's ad_group_report contract: Meta's ad sets are the
-- package's ad groups (macros/ad_reporting.sql).
select
    {{ ad_reporting_platform_columns() }},
    cast(r.campaign_id as varchar) as campaign_id,
    cast(r.campaign_name as varchar) as campaign_name,
    cast(r.ad_set_id as varchar) as ad_group_id,
    cast(r.ad_set_name as varchar) as ad_group_name,
    {{ ad_reporting_metric_columns() }}
from {{ ref('rpt_ad_set_daily') }} as r
