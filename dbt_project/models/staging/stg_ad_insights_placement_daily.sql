-- Ad × day × placement insights as pulled (see macros/breakdowns.sql).
{{ stg_ad_insights_select(source('lake', 'ad_insights_placement_daily'), ['publisher_platform', 'platform_position']) }}
