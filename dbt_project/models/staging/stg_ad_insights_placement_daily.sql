-- Ad × day × placement insights as pulled (see macros/breakdowns.sql).
{{ stg_breakdown_select('ad_insights_placement_daily', ['publisher_platform', 'platform_position']) }}
