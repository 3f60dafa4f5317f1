-- One row per ad × account-local day × region value, as Meta reported it; never joined
-- onto fct_ad_daily (its own grain). Reach is the ad's per value, never summed.
{{ fct_breakdown_select(ref('stg_ad_insights_region_daily'), ['region']) }}
