{{ config(materialized='view') }}
-- rpt_account_daily in dbt_ad_reporting's account_report contract (macros/ad_reporting.sql).
select
    {{ ad_reporting_platform_columns() }},
    {{ ad_reporting_metric_columns() }}
from {{ ref('rpt_account_daily') }} as r
