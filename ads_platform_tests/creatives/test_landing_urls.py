"""How a creative's link and url_tags become the URL report's landing URL and UTM values."""

from __future__ import annotations

from ads_platform import frames
from ads_platform.landing_urls import parse_landing_url, query_parameters


def test_url_tags_without_a_question_mark_give_the_utm_values() -> None:
    url = parse_landing_url(
        "https://www.brand.example/sale",
        "utm_source=facebook&utm_medium=paid_social&utm_campaign=spring&utm_content=a&utm_term=b",
    )
    assert (url.utm_source, url.utm_medium, url.utm_campaign) == (
        "facebook",
        "paid_social",
        "spring",
    )
    assert (url.utm_content, url.utm_term) == ("a", "b")
    assert url.base_url == "https://www.brand.example/sale"
    assert (url.url_host, url.url_path) == ("www.brand.example", "/sale")


def test_url_tags_with_a_leading_question_mark_read_the_same() -> None:
    assert query_parameters("?utm_source=fb&x=1") == query_parameters("utm_source=fb&x=1")


def test_percent_encoded_and_plus_encoded_values_are_decoded() -> None:
    url = parse_landing_url(None, "utm_campaign=Spring%20Sale+2026&utm_term=caf%C3%A9%26bar")
    assert url.utm_campaign == "Spring Sale 2026"
    assert url.utm_term == "café&bar"


def test_a_parameter_given_twice_keeps_its_first_value_and_the_link_wins_over_the_tags() -> None:
    assert parse_landing_url(None, "utm_source=a&utm_source=b").utm_source == "a"
    url = parse_landing_url(
        "https://x.example/p?utm_source=site", "utm_source=facebook&utm_medium=cpc"
    )
    assert (url.utm_source, url.utm_medium) == ("site", "cpc")
    assert url.base_url == "https://x.example/p"  # the query is not part of the base URL


def test_empty_or_absent_tags_and_links_give_nulls_not_empty_strings() -> None:
    for tags in (None, "", "   ", "utm_source=&utm_medium"):
        url = parse_landing_url("https://x.example", tags)
        assert url.utm_source is None and url.utm_medium is None
    assert parse_landing_url("https://x.example", None).url_path == "/"
    empty = parse_landing_url(None, None)
    assert empty.as_record() == dict.fromkeys(empty.as_record())


def test_the_host_is_lower_cased_and_the_fragment_dropped() -> None:
    url = parse_landing_url("HTTPS://WWW.Brand.Example/Path/Page#top", None)
    assert url.base_url == "https://www.brand.example/Path/Page"
    assert url.url_host == "www.brand.example"


def test_meta_dynamic_macros_are_kept_as_written() -> None:
    url = parse_landing_url(None, "utm_campaign={{campaign.name}}&utm_content={{ad.id}}")
    assert (url.utm_campaign, url.utm_content) == ("{{campaign.name}}", "{{ad.id}}")


def test_a_creative_row_gets_its_link_from_the_story_spec_when_link_url_is_absent() -> None:
    link_ad = {"id": "1", "object_story_spec": {"link_data": {"link": "https://a.example/x"}}}
    video = {
        "id": "2",
        "object_story_spec": {
            "video_data": {
                "call_to_action": {"type": "SHOP_NOW", "value": {"link": "https://b.example/"}}
            }
        },
    }
    assert frames.creative_link(link_ad) == "https://a.example/x"
    assert frames.creative_link(video) == "https://b.example/"
    assert frames.creative_link({"id": "3"}) is None
    record = frames.CREATIVES.parse({**video, "url_tags": "utm_source=fb"}, "act_1")
    assert (record["link_url"], record["base_url"], record["utm_source"]) == (
        "https://b.example/",
        "https://b.example/",
        "fb",
    )


def test_a_new_thumbnail_signature_is_not_a_new_version_of_the_creative() -> None:
    row = {
        "id": "9",
        "name": "c",
        "link_url": "https://a.example/",
        "thumbnail_url": "https://t/1?sig=a",
    }
    first = frames.CREATIVES.parse(row, "act_1")
    again = frames.CREATIVES.parse({**row, "thumbnail_url": "https://t/1?sig=b"}, "act_1")
    renamed = frames.CREATIVES.parse({**row, "name": "c2"}, "act_1")
    assert first["record_hash"] == again["record_hash"] != renamed["record_hash"]
