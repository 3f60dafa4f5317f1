{#
  Conversion configuration, validated at compile time.

  The reference package counts every action when its action-type list is empty
  (link_click, post_engagement... become "conversions") and happily sums overlapping
  variants of one event.  Here an empty list, a duplicate, two variants of the same
  event (omni_purchase + offsite_conversion.fb_pixel_purchase) or a column-name
  clash is a compile error.
#}


{% macro conversion_event_name(action_type) %}
  {#- The event behind an action type: omni_purchase, onsite_web_purchase and
      offsite_conversion.fb_pixel_purchase all name "purchase". -#}
  {% set prefixes = [
      'offsite_conversion.fb_pixel_', 'offsite_conversion.', 'onsite_web_app_', 'onsite_web_',
      'onsite_app_', 'onsite_conversion.', 'omni_', 'app_custom_event.fb_mobile_',
      'web_in_store_', 'web_app_in_store_'] %}
  {% set ns = namespace(name=action_type | lower, done=false) %}
  {% for prefix in prefixes %}
    {% if not ns.done and ns.name.startswith(prefix) %}
      {% set ns.name = ns.name[prefix | length:] %}
      {% set ns.done = true %}
    {% endif %}
  {% endfor %}
  {% if ns.name in ('complete_registration', 'fb_mobile_complete_registration') %}
    {% set ns.name = 'complete_registration' %}
  {% endif %}
  {% if ns.name in ('lead', 'leadgen_grouped', 'lead_grouped') %}
    {% set ns.name = 'lead' %}
  {% endif %}
  {{ return(ns.name) }}
{% endmacro %}

{% macro conversion_types(raw=none) %}
  {#- [{action_type, name}] from var('conversion_action_types') (or `raw`); raises on a bad list. -#}
  {% if raw is none %}{% set raw = var('conversion_action_types', none) %}{% endif %}
  {% if raw is none or raw is string or raw | length == 0 %}
    {{ exceptions.raise_compiler_error(
        "var('conversion_action_types') is empty: list the action types that count as "
        ~ "conversions explicitly (e.g. offsite_conversion.fb_pixel_purchase). An empty list "
        ~ "would count every action (link clicks, engagement...) as a conversion.") }}
  {% endif %}
  {% set out = [] %}
  {% set seen_types = [] %}
  {% set seen_events = {} %}
  {% set seen_names = [] %}
  {% for item in raw %}
    {% if item is mapping %}
      {% set action_type = item.get('action_type') %}
      {% set name = item.get('name') %}
    {% else %}
      {% set action_type = item %}
      {% set name = none %}
    {% endif %}
    {% if not action_type %}
      {{ exceptions.raise_compiler_error("conversion_action_types[" ~ loop.index0 ~ "]: missing action_type") }}
    {% endif %}
    {% if not name %}
      {% set name = modules.re.sub('[^a-z0-9]+', '_', action_type | lower).strip('_') %}
    {% endif %}
    {% if not modules.re.fullmatch('[a-z][a-z0-9_]*', name) %}
      {{ exceptions.raise_compiler_error("conversion_action_types: name '" ~ name ~ "' must be lower_snake_case") }}
    {% endif %}
    {% set event = conversion_event_name(action_type) %}
    {% if action_type in seen_types %}
      {{ exceptions.raise_compiler_error("conversion_action_types lists " ~ action_type ~ " twice") }}
    {% endif %}
    {% if event in seen_events %}
      {{ exceptions.raise_compiler_error(
          "conversion_action_types: " ~ action_type ~ " and " ~ seen_events[event]
          ~ " are variants of the same event '" ~ event ~ "'; summing both double-counts it. Keep one.") }}
    {% endif %}
    {% if name in seen_names or name in var('attribution_windows', []) %}
      {{ exceptions.raise_compiler_error("conversion_action_types: column name '" ~ name ~ "' is used twice") }}
    {% endif %}
    {% do seen_types.append(action_type) %}
    {% do seen_events.update({event: action_type}) %}
    {% do seen_names.append(name) %}
    {% do out.append({'action_type': action_type, 'name': name}) %}
  {% endfor %}
  {{ return(out) }}
{% endmacro %}

{% macro attribution_windows() %}
  {% set windows = var('attribution_windows', []) %}
  {% if windows is string %}{% set windows = [windows] %}{% endif %}
  {% for w in windows %}
    {% if not modules.re.fullmatch('[a-z0-9_]+', w) or w == 'value' %}
      {{ exceptions.raise_compiler_error("attribution_windows: '" ~ w ~ "' is not a window name like 7d_click") }}
    {% endif %}
  {% endfor %}
  {{ return(windows) }}
{% endmacro %}

{% macro conversion_config_hash() %}
  {#- Stored on every fct_ad_daily row: when the configuration changes, every slice
      built under the old one is rebuilt on the next incremental run.  The passthrough
      columns (macros/passthrough.sql) count as configuration too, hashed only when some
      are listed so that a project without any keeps its hash. -#}
  {% set hashed = {
      'types': conversion_types(), 'windows': attribution_windows(),
      'count_stat': var('conversion_count_stat'), 'value_stat': var('conversion_value_stat')} %}
  {% if passthrough_fields() or passthrough_action_types() %}
    {% do hashed.update({'passthrough_fields': passthrough_fields(),
                         'passthrough_action_types': passthrough_action_types()}) %}
  {% endif %}
  {{ return(local_md5(tojson(hashed))) }}
{% endmacro %}

{% macro conversion_metric_columns() %}
  {#- Every conversion column of the facts and reports, in order. -#}
  {% set cols = ['conversions', 'conversion_value'] %}
  {% for w in attribution_windows() %}
    {% do cols.extend(['conversions_' ~ w, 'conversion_value_' ~ w]) %}
  {% endfor %}
  {% for t in conversion_types() %}
    {% do cols.extend(['conversions_' ~ t.name, 'conversion_value_' ~ t.name]) %}
  {% endfor %}
  {{ return(cols) }}
{% endmacro %}

{% macro sql_string_list(values) -%}
  {%- for v in values -%}'{{ v | replace("'", "''") }}'{{ ", " if not loop.last }}{%- endfor -%}
{%- endmacro %}

{% macro check_conversion_action_types(types) %}
  {#- Validate a list before putting it in the var:
      dbt run-operation check_conversion_action_types --args '{types: [omni_purchase, lead]}' -#}
  {% set checked = conversion_types(types) %}
  {% do log('conversion_action_types OK: ' ~ tojson(checked), info=true) %}
{% endmacro %}
