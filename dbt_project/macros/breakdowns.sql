{#
  Breakdown facts (placement, age × gender, country, region): one macro per layer, shared by
  the breakdown datasets so their facts and reports cannot drift apart (their staging is
  the ad insights' own, stg_ad_insights_select with the breakdown's dimensions).

  Why no reach in the account reports: reach per breakdown value is only known per ad
  (the pull is level=ad); people reached by two ads are counted once by Meta, so the
  account's reach per value is not the sum over its ads, and reach is never summed
  across values either.  The facts keep the ad's reach per value as Meta sent it
  (null where Meta omits it: breakdown queries starting more than 13 months back).

  Video as on fct_ad_daily (macros/reports.sql): the same columns per fact row, NULL
  where Meta sent no video for the cell; the reports sum the counts and the seconds
  watched and recompute the average from those sums (video_sums()).
#}

{% macro breakdown_action_sum(stat) -%}
  {#- Sum of the default-window values of the configured conversion types in `actions`. -#}
  {%- set types = conversion_types() -%}
    cast(coalesce(list_sum(list_transform(
        list_filter(actions, lambda a: a.stat = '{{ stat }}' and a."window" = 'value'
            and a.action_type in ({{ sql_string_list(types | map(attribute='action_type')) }})),
        lambda a: cast(a.value as decimal(18, 6))
    )), 0) as decimal(18, 6))
{%- endmacro %}

{% macro fct_breakdown_select(staging, dims) %}
select
    insights.date_day,
    insights.account_id,
    insights.campaign_id,
    insights.ad_set_id,
    insights.ad_id,
    {%- for d in dims %}
    insights.{{ d }},
    {%- endfor %}
    insights.currency,
    accounts.timezone_name,
    insights.impressions,
    insights.reach,
    insights.clicks_all,
    insights.link_clicks,
    insights.spend,
    {{ video_fact_columns('insights') }},
    {{ breakdown_action_sum(var('conversion_count_stat')) }} as conversions,
    {{ breakdown_action_sum(var('conversion_value_stat')) }} as conversion_value,
    insights.fetched_at
from {{ staging }} as insights
left join {{ ref('stg_ad_accounts') }} as accounts
    on accounts.account_id = insights.account_id
{% endmacro %}

{% macro rpt_breakdown_select(fact, dims) %}
with sums as (
    select
        date_day,
        account_id,
        {%- for d in dims %}
        {{ d }},
        {%- endfor %}
        currency,
        any_value(timezone_name) as timezone_name,
        cast(sum(impressions) as bigint) as impressions,
        cast(sum(clicks_all) as bigint) as clicks_all,
        cast(sum(link_clicks) as bigint) as link_clicks,
        cast(sum(spend) as decimal(18, 2)) as spend,
        cast(sum(conversions) as decimal(18, 6)) as conversions,
        cast(sum(conversion_value) as decimal(18, 6)) as conversion_value,
        {{ video_sums() }},
        count(*) as source_rows
    from {{ fact }}
    group by date_day, account_id, {{ dims | join(', ') }}, currency
)

select
    sums.*,
    accounts.account_name,
    {{ report_ratios() }}
from sums
left join {{ ref('dim_ad_accounts') }} as accounts
    on accounts.account_id = sums.account_id
{% endmacro %}

{% macro breakdown_reconciliation(fact) %}
{#- Account-days whose breakdown spend differs from fct_ad_daily's by more than
    var('breakdown_reconciliation_tolerance') (relative; at least one cent), with both
    figures. Only account-days present on both sides are compared. -#}
{%- set tolerance = var('breakdown_reconciliation_tolerance') %}
with breakdown as (
    select account_id, date_day, sum(spend) as breakdown_spend
    from {{ fact }}
    group by account_id, date_day
),

unbroken as (
    select account_id, date_day, sum(spend) as unbroken_spend
    from {{ ref('fct_ad_daily') }}
    group by account_id, date_day
)

select breakdown.account_id, breakdown.date_day, breakdown_spend, unbroken_spend
from breakdown
join unbroken using (account_id, date_day)
where abs(breakdown_spend - unbroken_spend)
    > greatest(0.01, {{ tolerance }} * greatest(abs(breakdown_spend), abs(unbroken_spend)))
{% endmacro %}
