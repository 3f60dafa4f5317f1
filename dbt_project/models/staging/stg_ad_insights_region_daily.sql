-- Ad × day × region insights as pulled (see macros/breakdowns.sql).
{{ stg_ad_insights_select(source('lake', 'ad_insights_region_daily'), ['region']) }}
