-- Ad × day × country insights as pulled (see macros/breakdowns.sql).
{{ stg_ad_insights_select(source('lake', 'ad_insights_country_daily'), ['country']) }}
