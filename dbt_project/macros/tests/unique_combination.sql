{#
  Grain test (dbt_utils is not reachable offline): no two rows share the same values
  of `combination_of_columns`.  GROUP BY treats NULLs as equal, so a NULL key part
  (campaign_id on account-level reach) is still checked.
#}
{% test unique_combination(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#
  Every row satisfies `expression` (NULL counts as false): used for invariants such
  as "reach never exceeds impressions" that no built-in test expresses.
#}
{% test expression_is_true(model, expression, where_clause=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% if where_clause %}and ({{ where_clause }}){% endif %}
{% endtest %}
