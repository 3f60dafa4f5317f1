{{ config(tags=['definition_only']) }}
-- Tag definition_only: a view without tests of its own (testing it would read the whole
-- lake); building it only (re)defines it, so incremental builds skip it and full builds,
-- which run after any change of the dbt project, re-create it.
-- Ad × day insights, one row per (account_id, date_day, ad_id); the logic lives in
-- macros/ad_insights.sql because fct_ad_daily's incremental path reuses it on the
-- changed lake files only.  With the settings' passthrough fields and action types
-- (macros/passthrough.sql) as extra columns.
{{ stg_ad_insights_select(source('lake', 'ad_insights_daily'), passthrough=true) }}
