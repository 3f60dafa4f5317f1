"""What Meta's insights edge accepts, name by name (from Meta's facebook-business SDK 26.0.3).

The sandbox models only part of it (rows per ad and day, four attribution windows),
but it must tell apart a name Meta *accepts* (answered, possibly without that
field, as Meta omits fields it has no value for) from a name Meta *refuses*
(code 100 naming it). Taking the lists from the SDK's generated enums keeps that
line where Meta draws it instead of where the sandbox happens to stop.  The insights
``fields`` and ``breakdowns`` names are declared in :mod:`ads_platform.insights_fields`
(standard library only): the platform validates its settings against the same names.
"""

from __future__ import annotations

from ads_platform.insights_fields import BREAKDOWNS
from ads_platform.insights_fields import INSIGHT_FIELDS as _FIELD_KINDS

__all__ = [
    "ACTION_BREAKDOWNS",
    "ACTION_REPORT_TIMES",
    "ATTRIBUTION_WINDOWS",
    "BREAKDOWNS",
    "DATE_PRESETS",
    "INSIGHT_FIELDS",
]

#: Valid ``fields`` of ``/insights`` (``AdsInsights.Field``).
INSIGHT_FIELDS: frozenset[str] = frozenset(_FIELD_KINDS)


#: Valid ``action_breakdowns`` (``AdsInsights.ActionBreakdowns``).
ACTION_BREAKDOWNS: frozenset[str] = frozenset(
    {
        "action_canvas_component_name",
        "action_carousel_card_id",
        "action_carousel_card_name",
        "action_destination",
        "action_device",
        "action_reaction",
        "action_target_id",
        "action_type",
        "action_video_sound",
        "action_video_type",
        "conversion_destination",
        "is_business_ai_assisted",
        "matched_persona_id",
        "matched_persona_name",
        "signal_source_bucket",
        "standard_event_content_type",
    }
)


#: Valid ``action_attribution_windows`` (``AdsInsights.ActionAttributionWindows``).
ATTRIBUTION_WINDOWS: frozenset[str] = frozenset(
    {
        "1d_click",
        "1d_ev",
        "1d_sequenced",
        "1d_view",
        "28d_click",
        "28d_sequenced",
        "28d_view",
        "28d_view_all_conversions",
        "28d_view_first_conversion",
        "7d_click",
        "7d_sequenced",
        "7d_view",
        "7d_view_all_conversions",
        "7d_view_first_conversion",
        "custom",
        "dda",
        "default",
        "incrementality",
        "incrementality_all_conversions",
        "incrementality_first_conversion",
        "skan_click",
        "skan_click_second_postback",
        "skan_click_third_postback",
        "skan_view",
        "skan_view_second_postback",
        "skan_view_third_postback",
    }
)


#: Valid ``date_preset`` values (``AdsInsights.DatePreset``).
DATE_PRESETS: frozenset[str] = frozenset(
    {
        "data_maximum",
        "last_14d",
        "last_28d",
        "last_30d",
        "last_3d",
        "last_7d",
        "last_90d",
        "last_month",
        "last_quarter",
        "last_week_mon_sun",
        "last_week_sun_sat",
        "last_year",
        "maximum",
        "this_month",
        "this_quarter",
        "this_week_mon_today",
        "this_week_sun_today",
        "this_year",
        "today",
        "yesterday",
    }
)


#: Valid ``action_report_time`` values (``AdsInsights.ActionReportTime``).
ACTION_REPORT_TIMES: frozenset[str] = frozenset(
    {
        "conversion",
        "impression",
        "lifetime",
        "mixed",
    }
)
