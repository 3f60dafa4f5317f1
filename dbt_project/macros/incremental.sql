{#
  Slice-wise incremental rebuild of fct_ad_daily.

  A slice is one (account_id, date_day): the unit the lake replaces atomically (one
  file per account-day, re-pulled over the attribution lookback).  On an incremental
  run the model rebuilds exactly the slices that changed, and delete+insert keyed on
  (account_id, date_day) replaces every row of those slices, so an ad that vanished
  from a re-pulled day leaves nothing behind.

  A slice is rebuilt when
    - the lake holds it and the target does not (new day or account);
    - its fetched_at in the lake differs from the one the target holds (re-pulled);
    - the target row was built under another conversion configuration (vars changed);
    - the account's timezone_name changed (or arrived after the facts);
    - it falls inside the forced range (vars rebuild_start_date / rebuild_end_date /
      rebuild_account_ids).
  Slices the target holds but the lake no longer has (file deleted, or re-pulled as
  an empty day: Meta returns no rows for an ad without delivery) are deleted by the
  pre-hook `delete_vanished_slices`.

  The list is computed at execution time with run_query() so that the model's SQL
  carries literal filters: DuckDB pushes them through the staging views into the
  Parquet scan (row-group statistics skip the other days' files), which an IN
  (subquery) would not do.
#}

{% macro changed_slices(lake_relation, target_relation, accounts_relation, config_hash) %}
  {% set start = var('rebuild_start_date', none) %}
  {% set end = var('rebuild_end_date', none) %}
  {% set forced_accounts = var('rebuild_account_ids', []) %}
  {% set sql %}
    with lake as (
        select account_id, date_day, max(fetched_at) as fetched_at
        from {{ lake_relation }}
        group by account_id, date_day
    ),
    target as (
        select account_id, date_day, max(fetched_at) as fetched_at,
               bool_or(conversion_config_hash is distinct from '{{ config_hash }}') as config_changed,
               any_value(timezone_name) as timezone_name
        from {{ target_relation }}
        group by account_id, date_day
    ),
    accounts as (select account_id, timezone_name from {{ accounts_relation }})
    select lake.account_id, cast(lake.date_day as varchar) as date_day
    from lake
    left join target using (account_id, date_day)
    left join accounts using (account_id)
    where target.fetched_at is null
       or lake.fetched_at is distinct from target.fetched_at
       or target.config_changed
       or target.timezone_name is distinct from accounts.timezone_name
       {% if start or end %}
       or (
           lake.date_day between cast('{{ start or "0001-01-01" }}' as date)
                             and cast('{{ end or "9999-12-31" }}' as date)
           {% if forced_accounts %}and lake.account_id in ({{ sql_string_list(forced_accounts) }}){% endif %}
       )
       {% endif %}
    order by 1, 2
  {% endset %}
  {% set result = run_query(sql) %}
  {% set slices = [] %}
  {% for row in result.rows %}
    {% do slices.append((row[0], row[1])) %}
  {% endfor %}
  {{ return(slices) }}
{% endmacro %}

{% macro slice_predicate(slices, account_column='account_id', day_column='date_day') -%}
  {#- none: no filter (full build); []: nothing; else coarse pushable bounds + exact keys. -#}
  {%- if slices is none -%}
    true
  {%- elif slices | length == 0 -%}
    false
  {%- else -%}
    {%- set accounts = slices | map(attribute=0) | unique | list -%}
    {%- set days = slices | map(attribute=1) | list -%}
    ({{ account_column }} in ({{ sql_string_list(accounts) }})
     and {{ day_column }} between cast('{{ days | min }}' as date) and cast('{{ days | max }}' as date)
     and ({{ account_column }} || '|' || cast({{ day_column }} as varchar)) in (
        {%- for a, d in slices -%}'{{ a }}|{{ d }}'{{ ", " if not loop.last }}{%- endfor -%}))
  {%- endif -%}
{%- endmacro %}

{% macro delete_vanished_slices(lake_relation) %}
  {#- Pre-hook: slices the target holds that the lake no longer has. -#}
  {% if not is_incremental() %}{{ return('select 1') }}{% endif %}
  {% set sql %}
    delete from {{ this }} as t
    where not exists (
        select 1 from {{ lake_relation }} as l
        where l.account_id = t.account_id and l.date_day = t.date_day
    )
  {% endset %}
  {{ return(sql) }}
{% endmacro %}
