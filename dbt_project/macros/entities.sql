{#
  Versions of an entity (campaign, ad set, ad, creative) with validity ranges: a
  version is valid from its valid_from until the next version's (exclusive); the
  current version has valid_to = NULL.

  Why the first version starts at created_time: the lake's valid_from is the pull that
  first saw a version, and Meta keeps no history from before it.  A backfill pulls
  days long before that first pull, so an as-of join ("spend by the name the campaign
  had that day") matched no version for any backfilled day.  What the entity looked
  like before the first pull is unknown; its first-seen version is the best evidence,
  and it existed from created_time on.  Later versions keep the pull time they were
  first seen at (a change between two pulls is dated by the later pull).  pulled_at
  keeps the real first-seen time.
#}

{% macro entity_history(relation, id_column, created_column='created_time') %}
with versions as (
    select
        *,
        lead(valid_from) over (partition by {{ id_column }} order by valid_from) as valid_to,
        row_number() over (partition by {{ id_column }} order by valid_from) as version_number
    from {{ relation }}
)

select
    {%- if created_column %}
    * replace (
        case
            when version_number = 1 then least(coalesce({{ created_column }}, valid_from), valid_from)
            else valid_from
        end as valid_from
    )
    {%- else %}
    *
    {%- endif %}
from versions
{% endmacro %}
