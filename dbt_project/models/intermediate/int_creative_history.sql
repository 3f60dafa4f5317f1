-- creative versions with validity ranges, as int_ad_history does for ads
select
    *,
    lead(valid_from) over (partition by creative_id order by valid_from) as valid_to,
    row_number() over (partition by creative_id order by valid_from) as version_number
from {{ ref('stg_creatives') }}
