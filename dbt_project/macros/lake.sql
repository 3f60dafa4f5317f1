{#
  Reading the Parquet lake.

  Why views created by a hook: DuckDB's read_parquet() raises "No files found" on a
  glob that matches nothing, and every dataset starts with zero files (reach_monthly
  and alerts may stay absent for a long time).  At the start of each invocation
  `create_lake_views()` lists the lake once into the table `lake.lake_files` and
  creates `lake.<dataset>` as either the files unioned BY NAME onto a typed empty
  relation, or the typed empty relation alone.  The union BY NAME also fills a column
  that older files lack with NULL instead of failing, and the typed side fixes the
  column types, so a model never depends on which files happen to exist.  The
  sources in models/sources.yml point at these views.

  Why one listing: listing a dataset of thousands of account-day directories takes a
  noticeable fraction of a second, and the incremental models (fct_ad_daily,
  stg_account_insights_daily), their pre-hooks and their lineage tests all need it.
  `lake.lake_files` (dataset, file, last_modified; no file is opened) is that listing
  as of the start of the invocation - taken by the caller just before dbt started
  when it hands one over, see snapshot_lake_files() - and every model plans from that
  one snapshot; a file written later is picked up by the next run.

  Why deferred binding: creating a view binds it, and binding read_parquet with
  union_by_name reads the footer of every file of the dataset (seconds on a lake of
  thousands of files) - for the lake view and again for every view stacked on it
  (stg_ad_insights_daily, int_ad_conversions_daily).  On DuckDB >= 2.0 every view of
  the project is created WITH (DEFER_BINDING) (see `duckdb__create_view_as` below): it
  binds when a query uses it, which a full build does once and an incremental build
  not at all.  The lake views are also left alone when their definition is unchanged
  (hash in the view comment).

  lake_columns() (each dataset's columns and types) is generated from the dataset
  registry into macros/lake_columns.sql: see ads_platform/datasets/dbt_sql.py.  The
  settings' passthrough fields add typed columns to ad_insights_daily
  (passthrough_lake_columns(), macros/passthrough.sql): NULL for files pulled before.

  Files carry their own account_id / date_day columns: hive_partitioning is off (the
  directory names are only organisation).  `_lake_file` names the file a row came
  from (lineage for the incremental models).
#}

{% macro lake_root() -%}
  {{- return(env_var('ADS_PLATFORM_LAKE_DIR', env_var('ADS_PLATFORM_HOME', '.ads_platform') ~ '/lake')) -}}
{%- endmacro %}


{% macro lake_glob(dataset) -%}
  {{- return(lake_root() ~ '/' ~ dataset ~ '/**/*.parquet') -}}
{%- endmacro %}

{% macro lake_relation_sql(dataset, has_files, files=none) %}
  {#- files: an explicit list of lake files to read instead of the whole dataset glob. -#}
  {%- set columns = lake_columns()[dataset] + passthrough_lake_columns(dataset) -%}
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

{% macro lake_files_relation() -%}
  {#- The listing of the lake taken by create_lake_views() at the start of the run
      (source lake.lake_files in models/sources.yml; models and tests that read it
      call source('lake', 'lake_files') themselves, so dbt and Dagster see the
      dependency). -#}
  {{- return('lake.lake_files') -}}
{%- endmacro %}

{% macro snapshot_lake_files() %}
  {#- The listing of the lake as of the start of the run: (dataset, file,
      last_modified), `file` spelled exactly as read_parquet's `filename` spells it.
      When the caller has just listed the lake (the Dagster asset and the benchmark,
      ads_platform.warehouse.write_lake_listing), env var ADS_PLATFORM_LAKE_LISTING
      names that listing as CSV (dataset, path below the dataset directory, whole
      seconds) and it is loaded; otherwise one read_blob over the whole lake lists it:
      metadata only (no `content`), no rows (not an error) when the lake is empty or
      absent.  `dataset` is the first directory below the lake root. -#}
  {% set root = lake_root() %}
  {% set listing = env_var('ADS_PLATFORM_LAKE_LISTING', '') %}
  {% if listing %}
    {% set select = lake_listing_csv_select(listing) %}
  {% else %}
    {% set select %}
      select split_part(substr(filename, {{ root | length + 2 }}), '/', 1) as dataset,
             filename as file, last_modified
      from read_blob('{{ root }}/**/*.parquet')
    {% endset %}
  {% endif %}
  {% do run_query("create or replace table " ~ lake_files_relation() ~ " as " ~ select) %}
{% endmacro %}

{% macro lake_listing_csv_select(listing) -%}
  {#- A listing written by ads_platform.warehouse.write_lake_listing() as (dataset, file,
      last_modified), `file` spelled as read_parquet's `filename` spells it: the caller's
      listing of this run (snapshot_lake_files) or the one the last recorded build saw
      (macros/reconciliation.sql). -#}
  select dataset, '{{ lake_root() }}/' || dataset || '/' || path as file,
         to_timestamp(modified_epoch) as last_modified
  from read_csv('{{ listing }}', header = true, auto_detect = false,
                columns = {'dataset': 'varchar', 'path': 'varchar', 'modified_epoch': 'bigint'})
{%- endmacro %}

{% macro lake_datasets_with_files() %}
  {% if not execute %}{{ return([]) }}{% endif %}
  {% set result = run_query("select distinct dataset from " ~ lake_files_relation()) %}
  {{ return(result.columns[0].values() | list) }}
{% endmacro %}

{% macro lake_has_files(dataset) %}
  {% if not execute %}{{ return(false) }}{% endif %}
  {{ return(dataset in lake_datasets_with_files()) }}
{% endmacro %}

{% macro view_binding_clause() %}
  {#- WITH (DEFER_BINDING) where DuckDB supports it (2.0 and later): the view is bound
      at first use instead of at creation.  Older DuckDB: plain CREATE VIEW (correct,
      only slower on a big lake). -#}
  {% if not execute %}{{ return('') }}{% endif %}
  {% set version = run_query("select library_version from pragma_version()").columns[0].values()[0] %}
  {% set major = version.lstrip('v').split('.')[0] | int %}
  {{ return('with (defer_binding)' if major >= 2 else '') }}
{% endmacro %}

{% macro duckdb__create_view_as(relation, sql) -%}
  {#- dbt-duckdb's version plus view_binding_clause(): see the header of this file. -#}
  {% set contract_config = config.get('contract') %}
  {% if contract_config.enforced %}
    {{ get_assert_columns_equivalent(sql) }}
  {%- endif %}
  {%- set sql_header = config.get('sql_header', none) -%}

  {{ sql_header if sql_header is not none }}
  create view {{ relation }} {{ view_binding_clause() }} as (
    {{ sql }}
  );
{% endmacro %}

{% macro create_lake_views() %}
  {#- Runs as on-run-start: one listing of the lake (lake.lake_files), then (re)creates
      a view only when its definition changed, recognised by the hash stored in its
      comment. -#}
  {% if not execute %}{{ return('') }}{% endif %}
  {% do run_query('create schema if not exists lake') %}
  {% do snapshot_lake_files() %}
  {% set with_files = lake_datasets_with_files() %}
  {% set binding = view_binding_clause() %}
  {% set existing = {} %}
  {% for row in run_query("select view_name, comment from duckdb_views() where schema_name = 'lake' and database_name = current_database()").rows %}
    {% do existing.update({row[0]: row[1]}) %}
  {% endfor %}
  {% for dataset in lake_columns().keys() %}
    {% set body = lake_relation_sql(dataset, dataset in with_files) %}
    {% set digest = local_md5(body) %}
    {% if existing.get(dataset) != digest %}
      {% set name = 'lake.' ~ adapter.quote(dataset) %}
      {% do run_query('create or replace view ' ~ name ~ ' ' ~ binding ~ ' as ' ~ body) %}
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
