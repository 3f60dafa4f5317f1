{{ config(tags=['definition_only']) }}
-- Tag definition_only: a view without tests of its own (testing it would read the whole
-- lake); building it only (re)defines it, so incremental builds skip it and full builds,
-- which run after any change of the dbt project, re-create it.
-- Conversions per (account_id, date_day, ad_id, action_type) for the configured action
-- types, with one column per configured attribution window.  Counts and values are
-- combined with UNION ALL (never the reference package's LEFT JOIN, which dropped
-- values that had no count row).  Logic in macros/ad_insights.sql (shared with the
-- incremental path of fct_ad_daily).
{{ ad_conversions_select(ref('stg_ad_insights_daily')) }}
