{#
  Passthrough fields and action types: extra ad-level insights chosen in the settings
  (ads_platform.yaml `insights:`), never typed in SQL.

  Dagster passes two vars (ads_platform.warehouse.dbt_vars):
    passthrough_fields:       [{name, type}]  Graph API insights fields stored as typed
                              columns of the lake's ad_insights_daily (type: the DuckDB
                              type of the field's declared kind, ads_platform/insights_fields.py)
    passthrough_action_types: [{action_type, name}]  action types whose count (stat
                              `actions`) and value (stat `action_values`) in the default
                              attribution window become columns actions_<name> and
                              action_values_<name>, read from the stored action lists
  The settings have validated both against Meta's names; the checks here only keep a
  hand-written --vars from injecting SQL.  A change of either var makes the next marts
  build a full one, and fct_ad_daily's config hash (conversion_config_hash) then
  rebuilds every slice with the new columns.  Files pulled before a field was listed
  have no such column: it reads as NULL for their days (lake views union by name).
#}

{% macro passthrough_fields() %}
  {% set raw = var('passthrough_fields', []) or [] %}
  {% for item in raw %}
    {% if item is not mapping or not modules.re.fullmatch('[a-z][a-z0-9_]*', item.get('name') or '')
          or item.get('type') not in ('bigint', 'double', 'varchar') %}
      {{ exceptions.raise_compiler_error(
          "passthrough_fields[" ~ loop.index0 ~ "] must be {name: <snake_case field>, type: "
          ~ "bigint|double|varchar}, got " ~ tojson(item)) }}
    {% endif %}
  {% endfor %}
  {{ return(raw) }}
{% endmacro %}

{% macro passthrough_action_types() %}
  {% set raw = var('passthrough_action_types', []) or [] %}
  {% for item in raw %}
    {% if item is not mapping or not modules.re.fullmatch('[a-z0-9][a-z0-9_.]*', item.get('action_type') or '')
          or not modules.re.fullmatch('[a-z][a-z0-9_]*', item.get('name') or '') %}
      {{ exceptions.raise_compiler_error(
          "passthrough_action_types[" ~ loop.index0 ~ "] must be {action_type, name: "
          ~ "<snake_case>}, got " ~ tojson(item)) }}
    {% endif %}
  {% endfor %}
  {{ return(raw) }}
{% endmacro %}

{% macro passthrough_lake_columns(dataset) %}
  {#- The passthrough (column, type) pairs a lake dataset adds to lake_columns(). -#}
  {% if dataset != 'ad_insights_daily' %}{{ return([]) }}{% endif %}
  {% set out = [] %}
  {% for f in passthrough_fields() %}
    {% do out.append((f.name, f.type)) %}
  {% endfor %}
  {{ return(out) }}
{% endmacro %}

{% macro passthrough_columns() %}
  {#- Every passthrough column of stg_ad_insights_daily and fct_ad_daily, in order. -#}
  {% set cols = [] %}
  {% for f in passthrough_fields() %}
    {% do cols.append(f.name) %}
  {% endfor %}
  {% for t in passthrough_action_types() %}
    {% do cols.extend(['actions_' ~ t.name, 'action_values_' ~ t.name]) %}
  {% endfor %}
  {{ return(cols) }}
{% endmacro %}

{% macro passthrough_select(actions='actions') %}
  {#- The passthrough columns of one staged ad-day row: the stored fields as they are,
      each action type's count and value summed from the row's action list (0 when Meta
      reported none that day, as for the conversion columns). -#}
  {%- set parts = [] %}
  {%- for f in passthrough_fields() %}
    {%- do parts.append(adapter.quote(f.name)) %}
  {%- endfor %}
  {%- for t in passthrough_action_types() %}
    {%- for stat, prefix in [('actions', 'actions_'), ('action_values', 'action_values_')] %}
      {%- do parts.append(
          "cast(coalesce(list_sum(list_transform(list_filter(" ~ actions ~ ", lambda a: a.stat = '"
          ~ stat ~ "' and a.action_type = '" ~ t.action_type ~ "' and a.\"window\" = 'value'), "
          ~ "lambda a: cast(a.value as decimal(18, 6)))), 0) as decimal(18, 6)) as "
          ~ prefix ~ t.name) %}
    {%- endfor %}
  {%- endfor %}
  {{- return(parts) -}}
{% endmacro %}
