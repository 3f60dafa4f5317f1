{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['account_id', 'date_day'],
    on_schema_change='sync_all_columns',
    pre_hook="{{ delete_report_slices_without_facts(ref('fct_ad_daily')) }}",
) }}
-- Ad set × day report: sums over the ad set's ads, ratios of those sums, current
-- names.  No reach: people reached by different ads overlap, so ad reach never adds.
-- Incremental by (account_id, date_day) slice: see "Incremental reports" in
-- macros/reports.sql.
{%- set incremental = execute and is_incremental() and report_can_plan(this) %}
with
{%- if incremental %}
changed_slices as (
    {{ changed_report_slices(
        this, ref('fct_ad_daily'),
        renamed_where="held.account_name is distinct from accounts.account_name
            or held.campaign_name is distinct from campaigns.campaign_name
            or held.ad_set_name is distinct from ad_sets.ad_set_name",
        dimension_joins="left join " ~ ref('dim_ad_accounts') ~ " as accounts on accounts.account_id = held.account_id
    left join " ~ ref('dim_campaigns') ~ " as campaigns on campaigns.campaign_id = held.campaign_id
    left join " ~ ref('dim_ad_sets') ~ " as ad_sets on ad_sets.ad_set_id = held.ad_set_id") }}
),
{%- endif %}

{{ report_facts(incremental) }},

sums as (
    select
        date_day,
        account_id,
        campaign_id,
        ad_set_id,
        currency,
        any_value(timezone_name) as timezone_name,
        {{ report_sums() }}
    from facts
    group by date_day, account_id, campaign_id, ad_set_id, currency
),

metrics as (
    select *, {{ report_ratios() }}
    from sums
),

slices as (
    {{ report_slice_fingerprints('facts') }}
)

select
    sums.date_day,
    sums.account_id,
    accounts.account_name,
    sums.campaign_id,
    campaigns.campaign_name,
    sums.ad_set_id,
    ad_sets.ad_set_name,
    sums.currency,
    sums.timezone_name,
    {{ report_metrics('sums') }},
    {{ reporting_money_columns('sums') }},
    slices.source_built_at,
    slices.source_rows
from metrics as sums
join slices on slices.account_id = sums.account_id and slices.date_day = sums.date_day
{{ fx_join('sums') }}
left join {{ ref('dim_ad_accounts') }} as accounts on accounts.account_id = sums.account_id
left join {{ ref('dim_campaigns') }} as campaigns on campaigns.campaign_id = sums.campaign_id
left join {{ ref('dim_ad_sets') }} as ad_sets on ad_sets.ad_set_id = sums.ad_set_id
