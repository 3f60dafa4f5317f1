{#
  GENERATED from ads_platform/ingestion/causes.py by
  `python -m ads_platform.ingestion.cause_sql`: do not edit by hand (a unit test
  compares this file with the generator).

  cause_of_kind(kind): the Cause of an attempt's error_kind; unknown kinds and NULL are
  API errors, as causes.cause_of() says.
  cause_reason(cause): "<label> — <action>", the words after "data as of Tue 24 Nov: ".
#}

{% macro cause_of_kind(kind) -%}
case {{ kind }}
    when 'token_invalid' then 'token'
    when 'token_expired' then 'token'
    when 'auth' then 'token'
    when 'permission' then 'permission'
    when 'throttled' then 'throttled'
    when 'network' then 'network'
    when 'transient' then 'api_errors'
    when 'malformed' then 'api_errors'
    when 'async_job' then 'api_errors'
    when 'async_job_failed' then 'api_errors'
    when 'too_much_data' then 'api_errors'
    when 'invalid_parameter' then 'api_errors'
    when 'unknown' then 'api_errors'
    when 'zero_guard' then 'zero_guard'
    when 'validation' then 'validation'
    when 'settings' then 'settings'
    when 'internal' then 'internal'
    else 'api_errors'
end
{%- endmacro %}

{% macro cause_reason(cause) -%}
case {{ cause }}
    when 'token' then 'token expired — re-authorize'
    when 'permission' then 'permission lost — re-grant ads_read on the ad account to the Meta user'
    when 'throttled' then 'throttled by Meta — retried automatically; no action needed'
    when 'network' then 'cannot reach the Graph API (DNS / network) — check the network and DNS'
    when 'api_errors' then 'Meta API errors — retried automatically; check Meta''s status'
    when 'zero_guard' then 'blocked by the zero guard (API returned zeros) — retried automatically; last good data kept'
    when 'validation' then 'blocked by validation (malformed data) — retried automatically; last good data kept'
    when 'settings' then 'settings problem — fix ads_platform.yaml (see the message)'
    when 'never_pulled' then 'never pulled — run a backfill for this account'
    when 'not_pulled_recently' then 'no pull of the recent days — check that the schedules and the Dagster daemon run'
    when 'internal' then 'internal error — see the run''s logs'
    else null
end
{%- endmacro %}
