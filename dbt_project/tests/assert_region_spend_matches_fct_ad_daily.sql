{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'fct_ad_region_daily'}}}) }}
-- Warn only: Meta's breakdowns can differ slightly from the unbroken totals.
{{ breakdown_reconciliation(ref('fct_ad_region_daily')) }}
