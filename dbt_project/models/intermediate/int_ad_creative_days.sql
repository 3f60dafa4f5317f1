-- Which creative each ad carried, as ranges of account-local days, from the ads'
-- history (Meta keeps no history of an ad's creatives: an edit creates a new creative
-- and re-points the ad, so the platform sees it as a new ad version).
--   * The first creative seen for an ad is taken as its creative since the ad was
--     created (nothing older can be known).
--   * A later change is dated by the ad's updated_time in the version that shows it
--     (the edit moved it; a later edit of the same ad before the pull moves it later),
--     never after the pull that saw it.
--   * A day belongs to the creative the ad carried at the end of that account-local
--     day: on the day of an edit, the new one.
-- valid_from_day inclusive, valid_to_day exclusive (NULL: still the ad's creative).
with versions as (
    select
        ad_id,
        account_id,
        creative_id,
        valid_from,
        updated_time,
        created_time,
        lag(creative_id) over w as previous_creative_id,
        row_number() over w as version_number
    from {{ ref('stg_ads') }}
    window w as (partition by ad_id order by valid_from)
),

changes as (
    select
        ad_id,
        account_id,
        creative_id,
        version_number = 1 as is_first_seen,
        case
            when version_number = 1 then least(coalesce(created_time, valid_from), valid_from)
            else least(coalesce(updated_time, valid_from), valid_from)
        end as assigned_at
    from versions
    where creative_id is not null
      and (version_number = 1 or creative_id is distinct from previous_creative_id)
),

local_days as (
    select
        changes.*,
        cast(timezone(coalesce(accounts.timezone_name, 'UTC'), changes.assigned_at) as date) as valid_from_day
    from changes
    left join {{ ref('stg_ad_accounts') }} as accounts on accounts.account_id = changes.account_id
    -- two changes on one local day: the later one holds at the end of the day
    qualify row_number() over (
        partition by changes.ad_id, valid_from_day order by changes.assigned_at desc
    ) = 1
)

select
    ad_id,
    account_id,
    creative_id,
    assigned_at,
    is_first_seen,
    valid_from_day,
    lead(valid_from_day) over (partition by ad_id order by valid_from_day) as valid_to_day
from local_days
