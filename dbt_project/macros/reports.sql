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
    {%- endfor %},
    {{ video_sums() }}
{%- endmacro %}

{#
  Video: the counts add up; the average watch time does not, so the facts carry
  video_watch_seconds (the served ad-day average × plays) and every grain recomputes
  the average as seconds ÷ plays.  Because it is an aggregate of the sums, the same
  expression is right on the daily facts and on the weekly/monthly rollups of the
  daily reports.  NULL where no ad of the row had video (no video is not zero plays).
#}

{% macro video_count_columns() -%}
  {{- return(['video_plays', 'video_p25_watched', 'video_p50_watched', 'video_p75_watched',
              'video_p95_watched', 'video_p100_watched', 'video_thruplays']) -}}
{%- endmacro %}

{% macro video_fact_columns(alias) -%}
  {#- The video columns of a fact row (fct_ad_daily and the breakdown facts): the counts
      and the average as served (NULL where Meta sent no video), and the seconds watched
      that the reports sum instead of the average. -#}
    {%- for c in video_count_columns() %}
    {{ alias }}.{{ c }},
    {%- endfor %}
    {{ alias }}.video_avg_time_watched_seconds,
    -- the average is not additive: seconds watched (average × plays) add up instead
    cast({{ alias }}.video_avg_time_watched_seconds * {{ alias }}.video_plays as double) as video_watch_seconds
{%- endmacro %}

{% macro video_sums() -%}
    {%- for c in video_count_columns() %}
    cast(sum({{ c }}) as bigint) as {{ c }},
    {%- endfor %}
    cast(sum(video_watch_seconds) as double) as video_watch_seconds,
    cast(sum(video_watch_seconds) as double) / nullif(sum(video_plays), 0) as video_avg_time_watched_seconds
{%- endmacro %}

{% macro report_metric_names() -%}
  {{- return(['impressions', 'clicks_all', 'link_clicks', 'spend'] + conversion_metric_columns()
             + video_count_columns() + ['video_watch_seconds', 'video_avg_time_watched_seconds']
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

{#
  Incremental reports.

  rpt_account_daily, rpt_campaign_daily and rpt_ad_set_daily are incremental by
  (account_id, date_day) slice: a run re-aggregates only the slices whose inputs
  changed, instead of re-reading all of fct_ad_daily.  Every report row carries the
  fingerprint of the fct_ad_daily slice it was aggregated from - source_built_at (the
  latest built_at of the slice's fact rows: a slice re-read from the lake gets the new
  run's start) and source_rows (its number of fact rows) - and a slice is rebuilt when
    - its fingerprint differs from the slice in fct_ad_daily now (re-read, new, or
      rows removed), or
    - one of its rows shows a name (or objective) that differs from the dimension now
      (a renamed account, campaign or ad set: reports show current names), or
    - rpt_account_daily only: the account-level row it joined changed
      (account_level_built_at differs from stg_account_insights_daily.built_at).
  Slices that no longer exist in fct_ad_daily are deleted by the pre-hook; the others
  are replaced whole by delete+insert on (account_id, date_day).  Because the
  comparison is with the current state, not with "what this run changed", a run that
  failed half-way is caught up by the next one.  A target without the fingerprint
  columns (built by an older version) is rebuilt in full.
  assert_reports_reconcile_across_grains checks the result on every build.
#}

{% macro report_can_plan(relation, extra=[]) %}
  {% if relation is none %}{{ return(false) }}{% endif %}
  {{ return(target_can_plan(relation, ['source_built_at', 'source_rows', 'fx_rate', 'reporting_currency'] + extra)) }}
{% endmacro %}

{% macro report_slice_fingerprints(facts) -%}
    select account_id, date_day, max(built_at) as source_built_at, count(*) as source_rows
    from {{ facts }}
    group by account_id, date_day
{%- endmacro %}

{% macro changed_report_slices(target, facts, renamed_where, dimension_joins, extra_changed=none) -%}
    {#- (account_id, date_day) slices of `target` to rebuild; see above.
        dimension_joins: joins of `held` (the target's rows) to the dimensions;
        renamed_where: the condition that a held row shows an outdated name. -#}
    select coalesce(now_.account_id, held.account_id) as account_id,
           coalesce(now_.date_day, held.date_day) as date_day
    from ({{ report_slice_fingerprints(facts) }}) as now_
    full outer join (
        select account_id, date_day, max(source_built_at) as source_built_at,
               max(source_rows) as source_rows
        from {{ target }}
        group by account_id, date_day
    ) as held
        on held.account_id = now_.account_id and held.date_day = now_.date_day
    where now_.source_built_at is distinct from held.source_built_at
       or now_.source_rows is distinct from held.source_rows
    union
    select held.account_id, held.date_day
    from {{ target }} as held
    {{ dimension_joins }}
    where {{ renamed_where }}
    union
    -- the FX rate of the slice changed (a new rates file, a new reporting currency)
    select held.account_id, held.date_day
    from {{ target }} as held
    left join {{ ref('fx_rates') }} as fx
        on fx.currency = held.currency and fx.date_day = held.date_day
        and fx.reporting_currency = {{ reporting_currency_literal() }}
    where held.fx_rate is distinct from fx.rate
       or held.reporting_currency is distinct from {{ reporting_currency_literal() }}
    {%- if extra_changed %}
    union
    {{ extra_changed }}
    {%- endif %}
{%- endmacro %}

{% macro delete_report_slices_without_facts(facts, extra_columns=[]) %}
  {#- Pre-hook of an incremental report: a slice gone from fct_ad_daily (its lake file
      was deleted or re-pulled as empty) brings no new rows to replace it, so its old
      rows are deleted here.  An outdated target is emptied (full rebuild). -#}
  {% if not execute or not is_incremental() %}{{ return('select 1') }}{% endif %}
  {% if not report_can_plan(this, extra_columns) %}{{ return('delete from ' ~ this) }}{% endif %}
  {{ return('delete from ' ~ this ~ ' as t where not exists (select 1 from ' ~ facts
            ~ ' as f where f.account_id = t.account_id and f.date_day = t.date_day)') }}
{% endmacro %}


{#- The ad-day facts a report aggregates: every fact on a full build, only the
    (account, day) slices in the model's `changed_slices` CTE on an incremental one. -#}
{% macro report_facts(incremental) -%}
facts as (
    select f.*
    from {{ ref('fct_ad_daily') }} as f
    {%- if incremental %}
    semi join changed_slices as c on c.account_id = f.account_id and c.date_day = f.date_day
    {%- endif %}
)
{%- endmacro %}


{#
  Money in the reporting currency (var reporting_currency, from the settings'
  fx.reporting_currency): the account-currency amount times the day's rate from
  stg_fx_rates.  No rate (none configured, none pulled yet, none published close enough)
  means NULL money and a reason in fx_missing_reason: never a conversion at 1.0.
  Ratios are ratios of converted sums, so they equal the account-currency ratio times
  the rate.  ROAS and CTR have no currency and are not repeated.
#}

{% macro reporting_currency_literal() -%}
  {%- set code = var('reporting_currency', none) -%}
  {%- if code is none or code == '' -%}cast(null as varchar){%- else -%}'{{ code | upper | replace("'", "") }}'{%- endif -%}
{%- endmacro %}

{% macro fx_join(alias, fx='fx') -%}
left join {{ ref('fx_rates') }} as {{ fx }}
    on {{ fx }}.currency = {{ alias }}.currency and {{ fx }}.date_day = {{ alias }}.date_day
    and {{ fx }}.reporting_currency = {{ reporting_currency_literal() }}
{%- endmacro %}

{% macro reporting_money_columns(alias, fx='fx') -%}
    {{ reporting_currency_literal() }} as reporting_currency,
    {{ fx }}.rate as fx_rate,
    {{ fx }}.rate_day as fx_rate_day,
    case
        when {{ reporting_currency_literal() }} is null
            then 'no reporting currency set (settings fx.reporting_currency)'
        when {{ fx }}.rate is null
            then coalesce({{ fx }}.missing_reason, 'no FX rate pulled for this currency and day yet')
    end as fx_missing_reason,
    cast({{ alias }}.spend * {{ fx }}.rate as decimal(18, 2)) as spend_reporting,
    cast({{ alias }}.conversion_value * {{ fx }}.rate as decimal(18, 2)) as conversion_value_reporting,
    cast({{ alias }}.spend * {{ fx }}.rate as double) / nullif(cast({{ alias }}.conversions as double), 0) as cpa_reporting,
    cast({{ alias }}.spend * {{ fx }}.rate as double) / nullif({{ alias }}.link_clicks, 0) as cpc_reporting,
    cast({{ alias }}.spend * {{ fx }}.rate as double) * 1000 / nullif({{ alias }}.impressions, 0) as cpm_reporting
{%- endmacro %}
