-- Ad × day × age × gender insights as pulled (see macros/breakdowns.sql).
{{ stg_ad_insights_select(source('lake', 'ad_insights_age_gender_daily'), ['age', 'gender']) }}
