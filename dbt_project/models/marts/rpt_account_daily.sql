{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['account_id', 'date_day'],
    on_schema_change='sync_all_columns',
    pre_hook="{{ delete_report_slices_without_facts(ref('fct_ad_daily'), ['account_level_built_at']) }}",
) }}
-- Account × day report: sums over every ad of the account (so account spend equals
-- the sum of ad spend, deleted ads included), ratios of those sums, and the account's
-- deduplicated daily reach from the account-level pull (account_insights_daily).
-- Incremental by (account_id, date_day) slice: see "Incremental reports" in
-- macros/reports.sql.
{%- set incremental = execute and is_incremental() and report_can_plan(this, ['account_level_built_at']) %}
with
{%- if incremental %}
changed_slices as (
    {{ changed_report_slices(
        this, ref('fct_ad_daily'),
        renamed_where="held.account_name is distinct from accounts.account_name",
        dimension_joins="left join " ~ ref('dim_ad_accounts') ~ " as accounts on accounts.account_id = held.account_id",
        extra_changed="select held.account_id, held.date_day
    from " ~ this ~ " as held
    left join " ~ ref('stg_account_insights_daily') ~ " as account_level
        on account_level.account_id = held.account_id and account_level.date_day = held.date_day
    where held.account_level_built_at is distinct from account_level.built_at") }}
),
{%- endif %}

{{ report_facts(incremental) }},

sums as (
    select
        date_day,
        account_id,
        currency,
        any_value(timezone_name) as timezone_name,
        {{ report_sums() }}
    from facts
    group by date_day, account_id, currency
),

metrics as (
    select *, {{ report_ratios() }}
    from sums
),

slices as (
    {{ report_slice_fingerprints('facts') }}
),

account_level as (
    select account_id, date_day, reach, impressions, spend, built_at
    from {{ ref('stg_account_insights_daily') }}
)

select
    sums.date_day,
    sums.account_id,
    accounts.account_name,
    sums.currency,
    sums.timezone_name,
    account_level.reach,
    cast(account_level.impressions as double) / nullif(account_level.reach, 0) as frequency,
    account_level.spend as account_level_spend,
    account_level.impressions as account_level_impressions,
    {{ report_metrics('sums') }},
    {{ reporting_money_columns('sums') }},
    slices.source_built_at,
    slices.source_rows,
    account_level.built_at as account_level_built_at
from metrics as sums
join slices on slices.account_id = sums.account_id and slices.date_day = sums.date_day
{{ fx_join('sums') }}
left join account_level
    on account_level.account_id = sums.account_id and account_level.date_day = sums.date_day
left join {{ ref('dim_ad_accounts') }} as accounts on accounts.account_id = sums.account_id
