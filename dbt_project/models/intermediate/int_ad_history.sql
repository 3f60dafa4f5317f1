-- ad versions with validity ranges: a version is valid from its valid_from
-- (the pull that first saw it) until the next version's valid_from (exclusive);
-- the current version has valid_to = NULL.  Reports join the current version so past
-- spend shows today's name; as-of reporting joins on the range instead.
select
    *,
    lead(valid_from) over (partition by ad_id order by valid_from) as valid_to,
    row_number() over (partition by ad_id order by valid_from) as version_number
from {{ ref('stg_ads') }}
