-- Ad × day insights, one row per (account_id, date_day, ad_id); the logic lives in
-- macros/ad_insights.sql because fct_ad_daily's incremental path reuses it on the
-- changed lake files only.
{{ stg_ad_insights_select(source('lake', 'ad_insights_daily')) }}
