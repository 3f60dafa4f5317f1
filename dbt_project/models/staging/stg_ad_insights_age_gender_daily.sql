-- Ad × day × age × gender insights as pulled (see macros/breakdowns.sql).
{{ stg_breakdown_select('ad_insights_age_gender_daily', ['age', 'gender']) }}
