-- creative versions with validity ranges (macros/entities.sql); creatives carry no
-- created_time, so the first version starts when it was first seen.
{{ entity_history(ref('stg_creatives'), 'creative_id', created_column=none) }}
