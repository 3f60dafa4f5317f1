-- Conversions per (account_id, date_day, ad_id, action_type) for the configured action
-- types, with one column per configured attribution window.  Counts and values are
-- combined with UNION ALL (never the reference package's LEFT JOIN, which dropped
-- values that had no count row).  Logic in macros/ad_insights.sql (shared with the
-- incremental path of fct_ad_daily).
{{ ad_conversions_select(ref('stg_ad_insights_daily')) }}
