-- Ad × day × country insights as pulled (see macros/breakdowns.sql).
{{ stg_breakdown_select('ad_insights_country_daily', ['country']) }}
