-- ad versions with validity ranges (macros/entities.sql: the first version is valid
-- from created_time).  Reports join the current version so past spend shows today's
-- name; as-of reporting joins on the range instead.
{{ entity_history(ref('stg_ads'), 'ad_id') }}
