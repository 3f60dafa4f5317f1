{{ config(meta={'dagster': {'ref': {'name': 'rpt_url_daily'}}}) }}
-- rpt_url_daily holds every ad-day of the ads that have a creative, once: per account
-- and day, its spend and impressions equal fct_ad_daily's over the ads whose current
-- version points at a creative (an ad-day whose day ranges overlap counts twice, a gap
-- loses it: either fails).
with expected as (
    select f.account_id, f.date_day, sum(f.spend) as spend, sum(f.impressions) as impressions
    from {{ ref('fct_ad_daily') }} as f
    where f.ad_id in (select ad_id from {{ ref('dim_ads') }} where creative_id is not null)
    group by all
),

got as (
    select account_id, date_day, sum(spend) as spend, sum(impressions) as impressions
    from {{ ref('rpt_url_daily') }}
    group by all
)

select coalesce(e.account_id, g.account_id) as account_id,
       coalesce(e.date_day, g.date_day) as date_day,
       e.spend as fct_spend, g.spend as url_spend,
       e.impressions as fct_impressions, g.impressions as url_impressions
from expected as e
full outer join got as g on g.account_id = e.account_id and g.date_day = e.date_day
where e.spend is distinct from g.spend or e.impressions is distinct from g.impressions
