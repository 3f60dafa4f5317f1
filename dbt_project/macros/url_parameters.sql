{#
  Meta's dynamic URL parameters, filled with what Meta fills them with at click time.

  Why: an advertiser writes url_tags such as utm_campaign={{campaign.name}}; Meta sends
  the creative with the parameter as written and fills it only on the click.  Grouped as
  written, every campaign's spend lands under one literal "{{campaign.name}}" row.  The
  ad, ad set and campaign parameters are known at the ad-day grain: the ids from the
  facts, the names of the version valid at the end of that day in the account's time
  zone (a rename during the day counts from the next day).  {{placement}} and
  {{site_source_name}} depend on each click and stay as written, as does a name before
  the entity's first known version.

  The braces are built with || so that Jinja does not read them.
#}

{% macro fill_url_parameters(column, ad_id, ad_name, ad_set_id, ad_set_name, campaign_id, campaign_name) %}
{%- set pairs = [
    ('ad.id', ad_id), ('ad.name', ad_name),
    ('adset.id', ad_set_id), ('adset.name', ad_set_name),
    ('campaign.id', campaign_id), ('campaign.name', campaign_name),
] -%}
{%- set ns = namespace(sql=column) -%}
{%- for name, value in pairs -%}
    {%- set placeholder = "'{' || '{" ~ name ~ "}}'" -%}
    {%- set ns.sql = "replace(" ~ ns.sql ~ ", " ~ placeholder ~ ", coalesce(" ~ value ~ ", " ~ placeholder ~ "))" -%}
{%- endfor -%}
{{ ns.sql }}
{%- endmacro %}
