{{ config(materialized='view') }}
-- Ad × day by landing URL (Fivetran's url_report): the ad-day facts of ads with a known
-- creative that day, with the creative valid on that day (dim_ad_creatives_history), its
-- landing URL's base, host and path and the UTM values parsed from link and url_tags
-- (ads_platform/landing_urls.py).  Group by base_url or a utm_* column for URL totals;
-- ratios here are per ad-day, compute grouped ones from the sums.  A view: same grain
-- as fct_ad_daily.  utm_*_filled: the same values with Meta's dynamic parameters filled
-- (macros/url_parameters.sql).
with facts as (
    select
        *,
        {{ report_ratios() }},
        -- The end of the account's day: the names valid then are the day's names.
        timezone(timezone_name, (date_day + 1)::timestamp) as day_end
    from {{ ref('fct_ad_daily') }}
)

select
    facts.date_day,
    facts.account_id,
    facts.campaign_id,
    facts.ad_set_id,
    facts.ad_id,
    days.creative_id,
    creatives.creative_name,
    creatives.link_url,
    creatives.url_tags,
    creatives.base_url,
    creatives.url_host,
    creatives.url_path,
    creatives.utm_source,
    creatives.utm_medium,
    creatives.utm_campaign,
    creatives.utm_content,
    creatives.utm_term,
{%- for utm in ['utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term'] %}
    {{ fill_url_parameters('creatives.' ~ utm, 'facts.ad_id', 'ad.ad_name', 'facts.ad_set_id',
        'ad_set.ad_set_name', 'facts.campaign_id', 'campaign.campaign_name') }} as {{ utm }}_filled,
{%- endfor %}
    facts.currency,
    facts.timezone_name,
    facts.impressions,
    facts.clicks_all,
    facts.link_clicks,
    facts.spend,
    facts.conversions,
    facts.conversion_value,
    facts.ctr,
    facts.cpc,
    facts.cpm,
    facts.cpa,
    facts.roas
from facts
inner join {{ ref('dim_ad_creatives_history') }} as days
    on days.ad_id = facts.ad_id
    and facts.date_day >= days.valid_from_day
    and (days.valid_to_day is null or facts.date_day < days.valid_to_day)
left join {{ ref('dim_creatives') }} as creatives on creatives.creative_id = days.creative_id
{%- for alias, model, id_column in [
    ('ad', 'dim_ads_history', 'ad_id'),
    ('ad_set', 'dim_ad_sets_history', 'ad_set_id'),
    ('campaign', 'dim_campaigns_history', 'campaign_id'),
] %}
left join {{ ref(model) }} as {{ alias }}
    on {{ alias }}.{{ id_column }} = facts.{{ id_column }}
    and {{ alias }}.valid_from < facts.day_end
    and ({{ alias }}.valid_to is null or {{ alias }}.valid_to >= facts.day_end)
{%- endfor %}
