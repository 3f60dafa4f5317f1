"""How the video action lists of an ad-level insight row become the lake's video columns."""

from __future__ import annotations

import pytest

from ads_platform import frames


def _view(value: str, action_type: str = "video_view") -> list[dict[str, str]]:
    return [{"action_type": action_type, "value": value}]


def test_a_row_without_video_lists_has_null_video_columns_not_zero() -> None:
    assert set(frames.video_metrics({}).values()) == {None}


def test_each_list_gives_its_count_and_the_average_is_kept_as_served() -> None:
    row = {
        "video_play_actions": _view("120"),
        "video_p25_watched_actions": _view("80"),
        "video_p100_watched_actions": _view("9"),
        "video_thruplay_watched_actions": _view("30"),
        "video_avg_time_watched_actions": _view("7"),
    }
    got = frames.video_metrics(row)
    assert got["video_plays"] == 120 and got["video_p25_watched"] == 80
    assert got["video_p100_watched"] == 9 and got["video_thruplays"] == 30
    assert got["video_p50_watched"] is None  # not sent: unknown, not zero
    assert got["video_avg_time_watched_seconds"] == 7.0


def test_several_elements_add_up_for_counts_but_the_average_is_the_video_view_one() -> None:
    row = {
        "video_play_actions": [*_view("10"), *_view("5", "video_view_2s")],
        "video_avg_time_watched_actions": [*_view("3.5", "other"), *_view("4")],
    }
    got = frames.video_metrics(row)
    assert got["video_plays"] == 15
    assert got["video_avg_time_watched_seconds"] == 4.0


def test_a_malformed_video_list_is_a_row_error_naming_the_field() -> None:
    with pytest.raises(frames.RowError, match="video_play_actions"):
        frames.video_metrics({"video_play_actions": "12"})
    with pytest.raises(frames.RowError, match="video_avg_time_watched_actions"):
        frames.video_metrics({"video_avg_time_watched_actions": _view("-1")})
