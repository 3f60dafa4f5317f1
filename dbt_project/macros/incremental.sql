{#
  File-wise incremental rebuild of fct_ad_daily.

  The lake replaces one file per (account_id, date_day) slice on every (re-)pull over
  the attribution lookback.  Every fct_ad_daily row remembers the lake file it came
  from (lake_file), that file's modification time (lake_file_modified_at) and when the
  build that read it started (built_at).  On an incremental run, `ad_daily_plan()`
  lists the lake files with their modification times (DuckDB read_blob: metadata
  only, no Parquet is opened) and compares them with what the target holds.  A file
  is re-read when
    - the target does not hold it (a new day or account);
    - its modification time differs from the one stored (re-pulled);
    - it was modified less than 2 s before the build that read it started or at any
      time after (read_blob reports whole seconds: a re-pull racing the previous build
      is read again rather than missed);
    - its rows were built under another conversion configuration (vars changed);
    - its account's timezone_name changed (or arrived after the facts);
    - it falls in the forced range (vars rebuild_start_date / rebuild_end_date /
      rebuild_account_ids).
  A held file that no longer exists is dropped.  The pre-hook deletes every target row
  of the re-read and dropped files, and delete+insert keyed on (account_id, date_day)
  replaces every row of the slices read, so an ad that vanished from a re-pulled day
  and a day re-pulled as empty (Meta returns no rows without delivery) leave nothing
  behind.  Files modified after the invocation started wait for the next run, so the
  model and its pre-hook, which compute the plan separately, see the same plan.
  Only the listed files are opened: a one-day re-pull reads one file per
  account instead of the whole lake.  The singular test assert_fct_ad_daily_matches_lake
  re-checks the result against the whole lake on every build.
#}

{% macro ad_daily_plan(target_relation, accounts_relation, config_hash) %}
  {% set start = var('rebuild_start_date', none) %}
  {% set end = var('rebuild_end_date', none) %}
  {% set forced_accounts = var('rebuild_account_ids', []) %}
  {% set sql %}
    with lake as (
        -- metadata only: read_blob opens no file when `content` is not selected, and
        -- returns no rows (not an error) when nothing matches
        select filename as file, last_modified from read_blob('{{ lake_glob('ad_insights_daily') }}')
    ),
    cutoff as (
        select cast('{{ run_started_at.isoformat() }}' as timestamptz) as started
    ),
    accounts as (select account_id, timezone_name from {{ accounts_relation }}),
    held as (
        select
            t.lake_file as file,
            max(t.lake_file_modified_at) as modified_at,
            max(t.built_at) as built_at,
            bool_or(t.conversion_config_hash is distinct from '{{ config_hash }}') as config_changed,
            bool_or(t.timezone_name is distinct from accounts.timezone_name) as timezone_changed,
            {% if start or end %}
            bool_or(
                t.date_day between cast('{{ start or "0001-01-01" }}' as date)
                               and cast('{{ end or "9999-12-31" }}' as date)
                {% if forced_accounts %}and t.account_id in ({{ sql_string_list(forced_accounts) }}){% endif %}
            ) as forced
            {% else %}
            false as forced
            {% endif %}
        from {{ target_relation }} as t
        left join accounts on accounts.account_id = t.account_id
        group by t.lake_file
    )
    select
        coalesce(lake.file, held.file) as file,
        lake.file is null as dropped
    from lake
    full outer join held on held.file = lake.file
    cross join cutoff
    -- A file written after this invocation started is left for the next run, so the
    -- model and its pre-hook (which both compute this plan) always agree.
    where coalesce(lake.last_modified <= cutoff.started, true)
      and (held.file is null
       or lake.file is null
       or lake.last_modified is distinct from held.modified_at
       or lake.last_modified >= held.built_at - interval 2 second
       or held.config_changed
       or held.timezone_changed
       or held.forced)
    order by 1
  {% endset %}
  {% set plan = {'read': [], 'drop': []} %}
  {% for row in run_query(sql).rows %}
    {% do plan['drop' if row[1] else 'read'].append(row[0]) %}
  {% endfor %}
  {{ return(plan) }}
{% endmacro %}

{% macro delete_replaced_lake_files(plan) %}
  {#- Pre-hook: remove the target rows of every file that is re-read or gone. -#}
  {% set files = plan['read'] + plan['drop'] %}
  {% if files | length == 0 %}{{ return('select 1') }}{% endif %}
  {{ return('delete from ' ~ this ~ ' where lake_file in (' ~ sql_string_list(files) ~ ')') }}
{% endmacro %}

{% macro target_can_plan(relation) %}
  {#- A target built by an older version of the model lacks the lineage columns the
      plan needs: then the run re-reads the whole lake (and the pre-hook empties the
      target first), which also adds the columns (on_schema_change). -#}
  {% set names = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list %}
  {% for needed in ['lake_file', 'lake_file_modified_at', 'built_at', 'conversion_config_hash', 'timezone_name'] %}
    {% if needed not in names %}{{ return(false) }}{% endif %}
  {% endfor %}
  {{ return(true) }}
{% endmacro %}

{% macro fct_ad_daily_pre_hook() %}
  {% if not execute or not is_incremental() %}{{ return('select 1') }}{% endif %}
  {% if not target_can_plan(this) %}{{ return('delete from ' ~ this) }}{% endif %}
  {% set plan = ad_daily_plan(this, ref('stg_ad_accounts'), conversion_config_hash()) %}
  {{ return(delete_replaced_lake_files(plan)) }}
{% endmacro %}
