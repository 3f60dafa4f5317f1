-- Account × day × region value: additive metrics summed over the account's ads, ratios
-- of those sums; no reach (see macros/breakdowns.sql).
{{ rpt_breakdown_select(ref('fct_ad_region_daily'), ['region']) }}
