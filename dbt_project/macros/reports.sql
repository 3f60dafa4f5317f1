{#
  Shared column lists of the daily reports, so every grain sums and divides the same
  way.  Ratios are ratios of sums, never averages of per-row ratios, and every
  division goes through nullif(): DuckDB returns inf for x/0 and NaN for 0/0.
  sum(bigint) is HUGEINT in DuckDB, so counts are cast back to BIGINT.
#}

{% macro report_sums() -%}
    cast(sum(impressions) as bigint) as impressions,
    cast(sum(clicks_all) as bigint) as clicks_all,
    cast(sum(link_clicks) as bigint) as link_clicks,
    cast(sum(spend) as decimal(18, 2)) as spend
    {%- for c in conversion_metric_columns() %},
    cast(sum({{ c }}) as decimal(18, 6)) as {{ c }}
    {%- endfor %}
{%- endmacro %}

{% macro report_metric_names() -%}
  {{- return(['impressions', 'clicks_all', 'link_clicks', 'spend'] + conversion_metric_columns()
             + ['ctr', 'ctr_all', 'cpc', 'cpm', 'cpa', 'roas']) -}}
{%- endmacro %}

{% macro report_metrics(relation_alias) -%}
  {#- Every additive metric and ratio, qualified with the CTE that computed them. -#}
  {%- for c in report_metric_names() %}
    {{ relation_alias }}.{{ c }}{{ "," if not loop.last }}
  {%- endfor %}
{%- endmacro %}

{% macro report_ratios() -%}
    cast(link_clicks as double) / nullif(impressions, 0) as ctr,
    cast(clicks_all as double) / nullif(impressions, 0) as ctr_all,
    cast(spend as double) / nullif(link_clicks, 0) as cpc,
    cast(spend as double) * 1000 / nullif(impressions, 0) as cpm,
    cast(spend as double) / nullif(cast(conversions as double), 0) as cpa,
    cast(conversion_value as double) / nullif(cast(spend as double), 0) as roas
{%- endmacro %}
