{#
  What the reconciliation of fct_ad_daily with the lake (tests/assert_fct_ad_daily_matches_lake.sql)
  compares on an incremental build.

  Why not the whole lake on every build: re-aggregating every ad_insights_daily file costs
  seconds on a big lake, and most builds follow a re-pull of a few account-days.  Why not
  leave the test out of incremental builds (it used to carry tag full_lake): the blocking
  Dagster check then showed "Skipped" after every incremental build, and a wrong slice
  was published until the next daily full build.

  The scope is the lake files that changed since the last recorded build, taken from the
  lake listings and not from what the model did, so a file the model failed to re-read
  (or a new day it never read, or a slice it lost) is compared too:
    - every file whose path or modification time differs between the listing the last
      recorded build saw (env var ADS_PLATFORM_LAKE_LISTING_BEFORE, written by
      ads_platform.warehouse.record_marts_build) and this run's listing
      (lake.lake_files): new, re-pulled and deleted files;
    - plus every file this run re-read for another reason (rows with this run's
      built_at: a timezone change, the 2-second rule of macros/incremental.sql).
  Returns none - compare the whole lake - when the variable is not set: full builds, a
  plain `dbt build` by hand, the first build.  The Dagster asset and the marts benchmark
  set it on incremental builds only (ads_platform.warehouse.lake_listing_env).

  Builds between two recorded builds (automation's subset runs are not recorded) compare
  everything changed since the last recorded one: more than their own change, never less.
  A file rewritten with the same size and modification time is not seen by a listing:
  the daily full build's whole-lake comparison catches it.
#}

{% macro reconciliation_scope(dataset, target_relation) %}
  {% if not execute %}{{ return(none) }}{% endif %}
  {% set before = env_var('ADS_PLATFORM_LAKE_LISTING_BEFORE', '') %}
  {% if not before %}{{ return(none) }}{% endif %}
  {% set sql %}
    with listed as (
        select file, last_modified
        from {{ lake_files_relation() }}
        where dataset = '{{ dataset }}'
    ),
    before as (
        select file, last_modified
        from ({{ lake_listing_csv_select(before) }})
        where dataset = '{{ dataset }}'
    ),
    changed as (
        (select file, last_modified from listed except select file, last_modified from before)
        union all
        (select file, last_modified from before except select file, last_modified from listed)
    ),
    in_scope as (
        select file from changed
        union
        select lake_file from {{ target_relation }}
        where built_at = cast('{{ run_started_at.isoformat() }}' as timestamptz)
          and lake_file is not null
    )
    select in_scope.file, listed.file is null as gone
    from in_scope
    left join listed on listed.file = in_scope.file
    order by 1
  {% endset %}
  {% set scope = {'read': [], 'gone': []} %}
  {% for row in run_query(sql).rows %}
    {% do scope['gone' if row[1] else 'read'].append(row[0]) %}
  {% endfor %}
  {{ return(scope) }}
{% endmacro %}
