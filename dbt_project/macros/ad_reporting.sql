{#
  The column contract of Fivetran's dbt_ad_reporting (v2), so a team that unions Google,
  LinkedIn, TikTok... through that package adds Meta by selecting these views:
  source_relation, date_day, platform, the ids and names of the levels the report has
  (ad sets are `ad_group`), clicks, impressions, spend, conversions, conversions_value.
  Types as that package casts them: ids and names are strings, clicks and impressions
  integers, money and conversions floating point (DOUBLE here: DuckDB's FLOAT is single
  precision and would lose cents).  Account ids are the digits without `act_`, as
  Fivetran's Facebook connector delivers them.  `clicks` is link clicks (Meta's
  inline_link_clicks), as the package defines it for Facebook.  Our own `currency` comes
  last: the package has none, so union by name (or select the contract columns) and never
  add spend across currencies without converting.
#}

{% macro ad_reporting_platform_columns() -%}
    cast('{{ var("ad_reporting_source_relation", "ads_platform") | replace("'", "''") }}' as varchar) as source_relation,
    r.date_day,
    cast('facebook_ads' as varchar) as platform,
    cast(regexp_replace(r.account_id, '^act_', '') as varchar) as account_id,
    cast(r.account_name as varchar) as account_name
{%- endmacro %}

{% macro ad_reporting_metric_columns() -%}
    cast(r.link_clicks as bigint) as clicks,
    cast(r.impressions as bigint) as impressions,
    cast(r.spend as double) as spend,
    cast(r.conversions as double) as conversions,
    cast(r.conversion_value as double) as conversions_value,
    r.currency
{%- endmacro %}
