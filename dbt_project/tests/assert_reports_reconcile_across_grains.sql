{{ config(severity='error', meta={'dagster': {'ref': {'name': 'rpt_account_daily'}}}) }}
-- Totals match across grains: per account-day, the account report equals the sum of
-- the campaign, ad set and ad reports, which equal the sum of fct_ad_daily (spend,
-- impressions, conversions, conversion value).  Deleted or renamed entities keep
-- their spend because every report LEFT JOINs the dimensions.
{%- set measures = ['spend', 'impressions', 'conversions', 'conversion_value'] %}
{%- set grains = ['fct_ad_daily', 'rpt_ad_daily', 'rpt_ad_set_daily', 'rpt_campaign_daily', 'rpt_account_daily'] %}
with
{%- for g in grains %}
{{ g }} as (
    select account_id, date_day
        {%- for m in measures %}, sum({{ m }}) as {{ m }}{% endfor %}
    from {{ ref(g) }}
    group by account_id, date_day
){{ "," if not loop.last }}
{%- endfor %}

select
    fct_ad_daily.account_id,
    fct_ad_daily.date_day
    {%- for g in grains[1:] %}, '{{ g }}' as grain_{{ loop.index }}{% endfor %}
from fct_ad_daily
{%- for g in grains[1:] %}
full outer join {{ g }}
    on {{ g }}.account_id = fct_ad_daily.account_id and {{ g }}.date_day = fct_ad_daily.date_day
{%- endfor %}
where false
{%- for g in grains[1:] %}
    {%- for m in measures %}
    or {{ g }}.{{ m }} is distinct from fct_ad_daily.{{ m }}
    {%- endfor %}
{%- endfor %}
