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

{#
  Lineage of a file-wise incremental model (macros/incremental.sql) against the listing
  of the lake taken at the start of this run (lake.lake_files): every file the model
  holds rows of still exists, with the modification time it had when it was read, and
  all rows of a file were read from the same version of it.  A row left over from a
  replaced or deleted file fails it.  Metadata only (no Parquet file is opened), so it
  runs on every build; the full comparison of values with the lake is
  assert_fct_ad_daily_matches_lake (macros/reconciliation.sql).  Rows read from a file written
  after the listing (modification time unknown) are not judged: the next run re-reads
  that file.
#}
{% test matches_lake_listing(model, dataset) %}
with held as (
    select
        lake_file,
        count(*) as n_rows,
        count(lake_file_modified_at) as n_rows_with_time,
        min(lake_file_modified_at) as first_modified_at,
        max(lake_file_modified_at) as last_modified_at
    from {{ model }}
    group by lake_file
),

listed as (
    select file, last_modified
    from {{ source('lake', 'lake_files') }}
    where dataset = '{{ dataset }}'
)

select
    held.*,
    listed.last_modified as listed_modified_at,
    case
        when held.lake_file is null then 'row without a lake file'
        when listed.file is null then 'file no longer in the lake'
        when held.first_modified_at is distinct from held.last_modified_at
            or held.n_rows_with_time <> held.n_rows then 'rows from two versions of the file'
        else 'file changed since it was read'
    end as problem
from held
left join listed on listed.file = held.lake_file
where held.lake_file is null
   or (held.n_rows_with_time > 0 and (
        listed.file is null
        or held.first_modified_at is distinct from held.last_modified_at
        or held.n_rows_with_time <> held.n_rows
        or listed.last_modified is distinct from held.last_modified_at))
{% endtest %}
