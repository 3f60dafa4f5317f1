{#
  File-wise incremental rebuild of the models read from per-(account, day) lake files:
  fct_ad_daily (ad_insights_daily) and stg_account_insights_daily
  (account_insights_daily).

  The lake replaces one file per (account_id, date_day) slice on every (re-)pull over
  the attribution lookback.  Every row of these models remembers the lake file it came
  from (lake_file), that file's modification time (lake_file_modified_at) and when the
  build that read it started (built_at).  On an incremental run, `lake_file_plan()`
  compares the listing of the lake taken at the start of the invocation
  (lake.lake_files, see macros/lake.sql: metadata only, no Parquet is opened) with
  what the target holds.  A file is re-read when
    - the target does not hold it (a new day or account);
    - its modification time differs from the one stored (re-pulled);
    - it was modified less than 2 s before the build that read it started or at any
      time after (read_blob reports whole seconds: a re-pull racing the previous build
      is read again rather than missed);
    - fct_ad_daily only: its rows were built under another conversion configuration
      (vars changed), or its account's timezone_name changed (or arrived after the
      facts);
    - it falls in the forced range (vars rebuild_start_date / rebuild_end_date /
      rebuild_account_ids).
  A held file that no longer exists is dropped.  The pre-hook deletes every target row
  of the re-read and dropped files, and delete+insert keyed on (account_id, date_day)
  replaces every row of the slices read, so an ad that vanished from a re-pulled day
  and a day re-pulled as empty (Meta returns no rows without delivery) leave nothing
  behind.  The model and its pre-hook compute the plan separately, from the same
  listing, so they always agree; a file written after the listing waits for the next
  run (if it was read anyway, by a full read through the glob, its modification time
  is unknown or older than the file and the next run reads it again).
  Only the listed files are opened: a one-day re-pull reads one file per account
  instead of the whole lake.

  What checks the result (see dbt_project/README.md, "When each test runs"):
    - every build of the model: the generic test matches_lake_listing
      (macros/tests/unique_combination.sql): no row comes from a file that is gone or
      that changed since it was read - metadata only, cheap on any lake size;
    - every build too: assert_fct_ad_daily_matches_lake compares the values per
      account-day with the lake - every file on full builds (the first build, the
      daily verification of the Dagster asset, a plain `dbt build`), the files changed
      since the last recorded build on incremental ones (macros/reconciliation.sql).
#}

{% macro lake_file_plan(dataset, target_relation, accounts_relation=none, config_hash=none) %}
  {% set start = var('rebuild_start_date', none) %}
  {% set end = var('rebuild_end_date', none) %}
  {% set forced_accounts = var('rebuild_account_ids', []) %}
  {% set sql %}
    with lake as (
        select file, last_modified
        from {{ lake_files_relation() }}
        where dataset = '{{ dataset }}'
    ),
    {%- if accounts_relation is not none %}
    accounts as (select account_id, timezone_name from {{ accounts_relation }}),
    {%- endif %}
    held as (
        select
            t.lake_file as file,
            max(t.lake_file_modified_at) as modified_at,
            max(t.built_at) as built_at,
            {% if config_hash is not none -%}
            bool_or(t.conversion_config_hash is distinct from '{{ config_hash }}') as config_changed,
            {%- else -%}
            false as config_changed,
            {%- endif %}
            {% if accounts_relation is not none -%}
            bool_or(t.timezone_name is distinct from accounts.timezone_name) as timezone_changed,
            {%- else -%}
            false as timezone_changed,
            {%- endif %}
            {% if start or end -%}
            bool_or(
                t.date_day between cast('{{ start or "0001-01-01" }}' as date)
                               and cast('{{ end or "9999-12-31" }}' as date)
                {% if forced_accounts %}and t.account_id in ({{ sql_string_list(forced_accounts) }}){% endif %}
            ) as forced
            {%- else -%}
            false as forced
            {%- endif %}
        from {{ target_relation }} as t
        {%- if accounts_relation is not none %}
        left join accounts on accounts.account_id = t.account_id
        {%- endif %}
        group by t.lake_file
    )
    select
        coalesce(lake.file, held.file) as file,
        lake.file is null as dropped
    from lake
    full outer join held on held.file = lake.file
    where held.file is null
       or lake.file is null
       or lake.last_modified is distinct from held.modified_at
       or lake.last_modified >= held.built_at - interval 2 second
       or held.config_changed
       or held.timezone_changed
       or held.forced
    order by 1
  {% endset %}
  {% set plan = {'read': [], 'drop': []} %}
  {% for row in run_query(sql).rows %}
    {% do plan['drop' if row[1] else 'read'].append(row[0]) %}
  {% endfor %}
  {{ return(plan) }}
{% endmacro %}

{% macro ad_daily_plan(target_relation, accounts_relation, config_hash) %}
  {{ return(lake_file_plan('ad_insights_daily', target_relation, accounts_relation, config_hash)) }}
{% endmacro %}

{% macro delete_replaced_lake_files(plan) %}
  {#- Pre-hook: remove the target rows of every file that is re-read or gone. -#}
  {% set files = plan['read'] + plan['drop'] %}
  {% if files | length == 0 %}{{ return('select 1') }}{% endif %}
  {{ return('delete from ' ~ this ~ ' where lake_file in (' ~ sql_string_list(files) ~ ')') }}
{% endmacro %}

{% macro target_can_plan(relation, needed=['lake_file', 'lake_file_modified_at', 'built_at', 'conversion_config_hash', 'timezone_name']) %}
  {#- A target built by an older version of the model lacks the lineage columns the
      plan needs: then the run re-reads the whole lake (and the pre-hook empties the
      target first), which also adds the columns (on_schema_change). -#}
  {% set names = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list %}
  {% for column in needed %}
    {% if column not in names %}{{ return(false) }}{% endif %}
  {% endfor %}
  {{ return(true) }}
{% endmacro %}

{% macro lake_lineage_columns() %}
  {{ return(['lake_file', 'lake_file_modified_at', 'built_at']) }}
{% endmacro %}

{% macro fct_ad_daily_pre_hook() %}
  {% if not execute or not is_incremental() %}{{ return('select 1') }}{% endif %}
  {% if not target_can_plan(this) %}{{ return('delete from ' ~ this) }}{% endif %}
  {% set plan = ad_daily_plan(this, ref('stg_ad_accounts'), conversion_config_hash()) %}
  {{ return(delete_replaced_lake_files(plan)) }}
{% endmacro %}

{% macro lake_file_pre_hook(dataset) %}
  {#- The pre-hook of a model planned by lake_file_plan() without extra checks. -#}
  {% if not execute or not is_incremental() %}{{ return('select 1') }}{% endif %}
  {% if not target_can_plan(this, lake_lineage_columns()) %}{{ return('delete from ' ~ this) }}{% endif %}
  {{ return(delete_replaced_lake_files(lake_file_plan(dataset, this))) }}
{% endmacro %}
