{#
  Reading the Parquet lake.

  Why views created by a hook: DuckDB's read_parquet() raises "No files found" on a
  glob that matches nothing, and every dataset starts with zero files (reach_monthly
  and alerts may stay absent for a long time).  At the start of each invocation
  `create_lake_views()` asks DuckDB's glob() which datasets have files and creates
  `lake.<dataset>` as either the files unioned BY NAME onto a typed empty relation,
  or the typed empty relation alone.  The union BY NAME also fills a column that
  older files lack with NULL instead of failing, and the typed side fixes the column
  types, so a model never depends on which files happen to exist.  The sources in
  models/sources.yml point at these views.

  Files carry their own account_id / date_day columns: hive_partitioning is off (the
  directory names are only organisation).  `_lake_file` names the file a row came
  from, for debugging.
#}

{% macro lake_root() -%}
  {{- return(env_var('ADS_PLATFORM_LAKE_DIR', env_var('ADS_PLATFORM_HOME', '.ads_platform') ~ '/lake')) -}}
{%- endmacro %}

{% macro lake_columns() %}
  {% set ts = 'timestamptz' %}
  {% set entity_common = [
      ('account_id', 'varchar'), ('name', 'varchar'), ('status', 'varchar'),
      ('effective_status', 'varchar'), ('created_time', ts), ('updated_time', ts)] %}
  {% set versions = [('record_hash', 'varchar'), ('valid_from', ts), ('pulled_at', ts)] %}
  {% set budgets = [('daily_budget', 'bigint'), ('lifetime_budget', 'bigint')] %}
  {{ return({
    'ad_insights_daily': [
      ('date_day', 'date'), ('account_id', 'varchar'), ('campaign_id', 'varchar'),
      ('ad_set_id', 'varchar'), ('ad_id', 'varchar'), ('currency', 'varchar'),
      ('impressions', 'bigint'), ('reach', 'bigint'), ('clicks_all', 'bigint'),
      ('link_clicks', 'bigint'), ('spend', 'decimal(18,2)'),
      ('actions', 'struct(stat varchar, action_type varchar, "window" varchar, value varchar)[]'),
      ('fetched_at', ts), ('run_id', 'varchar')],
    'account_insights_daily': [
      ('date_day', 'date'), ('account_id', 'varchar'), ('currency', 'varchar'),
      ('impressions', 'bigint'), ('reach', 'bigint'), ('clicks_all', 'bigint'),
      ('link_clicks', 'bigint'), ('spend', 'decimal(18,2)'), ('fetched_at', ts),
      ('run_id', 'varchar')],
    'campaigns': [('campaign_id', 'varchar')] + entity_common + [
      ('objective', 'varchar')] + budgets + [('start_time', ts), ('stop_time', ts)] + versions,
    'ad_sets': [('ad_set_id', 'varchar'), ('campaign_id', 'varchar')] + entity_common + [
      ('optimization_goal', 'varchar'), ('billing_event', 'varchar')] + budgets + [
      ('start_time', ts), ('end_time', ts)] + versions,
    'ads': [('ad_id', 'varchar'), ('campaign_id', 'varchar'), ('ad_set_id', 'varchar')]
      + entity_common + [('creative_id', 'varchar')] + versions,
    'ad_accounts': [
      ('account_id', 'varchar'), ('name', 'varchar'), ('currency', 'varchar'),
      ('timezone_name', 'varchar'), ('account_status', 'bigint'), ('source', 'varchar'),
      ('is_active', 'boolean'), ('first_seen_at', ts), ('last_seen_at', ts)],
    'token_health': [
      ('account_id', 'varchar'), ('checked_at', ts), ('token_env', 'varchar'),
      ('token_fingerprint', 'varchar'), ('token_type', 'varchar'), ('is_valid', 'boolean'),
      ('expires_at', ts), ('data_access_expires_at', ts), ('days_left', 'double'),
      ('scopes', 'varchar'), ('missing_scopes', 'varchar'), ('last_error_code', 'bigint'),
      ('last_error_subcode', 'bigint'), ('last_error_message', 'varchar'),
      ('last_error_at', ts), ('refreshed', 'boolean')],
    'reach_monthly': [
      ('level', 'varchar'), ('period', 'varchar'), ('period_start', 'date'),
      ('period_end', 'date'), ('account_id', 'varchar'), ('campaign_id', 'varchar'),
      ('currency', 'varchar'), ('reach', 'bigint'), ('impressions', 'bigint'),
      ('spend', 'decimal(18,2)'), ('is_complete', 'boolean'), ('fetched_at', ts)],
    'ingestion_attempts': [
      ('account_id', 'varchar'), ('dataset', 'varchar'), ('date_day', 'date'),
      ('attempted_at', ts), ('run_id', 'varchar'), ('status', 'varchar'),
      ('error_kind', 'varchar'), ('message', 'varchar'), ('rows', 'bigint')],
    'alerts': [
      ('alert_key', 'varchar'), ('kind', 'varchar'), ('account_id', 'varchar'),
      ('severity', 'varchar'), ('message', 'varchar'), ('first_seen_at', ts),
      ('last_sent_at', ts)],
  }) }}
{% endmacro %}

{% macro lake_glob(dataset) -%}
  {{- return(lake_root() ~ '/' ~ dataset ~ '/**/*.parquet') -}}
{%- endmacro %}

{% macro lake_relation_sql(dataset, has_files, files=none) %}
  {#- files: an explicit list of lake files to read instead of the whole dataset glob. -#}
  {%- set columns = lake_columns()[dataset] -%}
  {%- set empty -%}
    select {% for name, type in columns -%}
      cast(null as {{ type }}) as {{ adapter.quote(name) }},
    {%- endfor %} cast(null as varchar) as _lake_file
    where false
  {%- endset -%}
  {%- if not has_files or (files is not none and files | length == 0) -%}
    {{ return(empty) }}
  {%- endif -%}
  {%- if files is none -%}
    {%- set paths = "'" ~ lake_glob(dataset) ~ "'" -%}
  {%- else -%}
    {%- set paths = '[' ~ sql_string_list(files) ~ ']' -%}
  {%- endif -%}
  {%- set sql -%}
    select {% for name, type in columns -%}
      cast({{ adapter.quote(name) }} as {{ type }}) as {{ adapter.quote(name) }},
    {%- endfor %} _lake_file
    from (
      {{ empty }}
      union all by name
      select * from read_parquet(
        {{ paths }},
        hive_partitioning = false,
        union_by_name = true,
        filename = '_lake_file'
      )
    )
  {%- endset -%}
  {{ return(sql) }}
{% endmacro %}

{% macro lake_has_files(dataset) %}
  {% if not execute %}{{ return(false) }}{% endif %}
  {% set result = run_query("select count(*) from glob('" ~ lake_glob(dataset) ~ "')") %}
  {{ return(result.columns[0].values()[0] > 0) }}
{% endmacro %}

{% macro create_lake_views() %}
  {#- Runs as on-run-start: one glob() per dataset, then (re)creates a view only when
      its definition changed.  Creating a view binds it, and binding read_parquet with
      union_by_name reads the footer of every file of the dataset (seconds on a lake
      of thousands of files), so an unchanged view, recognised by the hash stored in
      its comment, is left alone. -#}
  {% if not execute %}{{ return('') }}{% endif %}
  {% do run_query('create schema if not exists lake') %}
  {% set existing = {} %}
  {% for row in run_query("select view_name, comment from duckdb_views() where schema_name = 'lake' and database_name = current_database()").rows %}
    {% do existing.update({row[0]: row[1]}) %}
  {% endfor %}
  {% for dataset in lake_columns().keys() %}
    {% set body = lake_relation_sql(dataset, lake_has_files(dataset)) %}
    {% set digest = local_md5(body) %}
    {% if existing.get(dataset) != digest %}
      {% set name = 'lake.' ~ adapter.quote(dataset) %}
      {% do run_query('create or replace view ' ~ name ~ ' as ' ~ body) %}
      {% do run_query('comment on view ' ~ name ~ " is '" ~ digest ~ "'") %}
    {% endif %}
  {% endfor %}
  {{ return('select 1') }}
{% endmacro %}

{% macro generate_schema_name(custom_schema_name, node) -%}
  {#- Marts live in `main` so analysts write `from rpt_account_daily`; staging and
      intermediate keep their own schema names instead of dbt's main_staging. -#}
  {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
