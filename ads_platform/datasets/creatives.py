"""Ad creatives of each account, versioned like the entities (campaigns, ad sets, ads).

An ad points at one creative (``ads.creative_id``); an edit of the ad's text, link or
``url_tags`` creates a new creative and re-points the ad, so which creative an ad
carried on a day comes from the ads' history, and what a creative said from this one.
The landing URL's parts and UTM values are parsed at ingestion
(:mod:`ads_platform.landing_urls`) and stored beside the fields as served.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pandera
import pyarrow as pa
from pandera.typing import Series

from ads_platform.datasets.base import TIMESTAMP, Dataset, Partitioning
from ads_platform.schemas import Model

CREATIVES = "creatives"

#: Columns derived from the served fields (not hashed: a parser change is not an edit).
LANDING_COLUMNS = (
    "base_url",
    "url_host",
    "url_path",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
)
#: Served but not a change of the creative: Meta signs thumbnail URLs per request.
UNTRACKED = ("thumbnail_url", *LANDING_COLUMNS)


class Creatives(Model):
    creative_id: Series[str] = pandera.Field(str_matches=r"^\d+$")
    account_id: Series[str] = pandera.Field(str_matches=r"^act_\d+$")
    name: Series[str] = pandera.Field(nullable=True)
    status: Series[str] = pandera.Field(nullable=True)
    link_url: Series[str] = pandera.Field(nullable=True)
    url_tags: Series[str] = pandera.Field(nullable=True)
    record_hash: Series[str] = pandera.Field(str_length={"min_value": 8})
    valid_from: Series[pd.DatetimeTZDtype] = pandera.Field(dtype_kwargs={"unit": "ns", "tz": "UTC"})

    class Config:
        strict = False
        unique = ["creative_id", "valid_from"]


CREATIVE_HISTORY = Dataset(
    name=CREATIVES,
    description="Every version of every ad creative of an account (act_<id>/adcreatives): "
    "text, call to action, link URL, url_tags, image/video ids, thumbnail URL, and the "
    "landing URL's parts and UTM values parsed from them.",
    grain=("creative_id", "valid_from"),
    partitioning=Partitioning.ACCOUNT,
    arrow=pa.schema(
        [
            ("creative_id", pa.string()),
            ("account_id", pa.string()),
            ("name", pa.string()),
            ("status", pa.string()),
            ("object_type", pa.string()),
            ("title", pa.string()),
            ("body", pa.string()),
            ("call_to_action_type", pa.string()),
            ("link_url", pa.string()),
            ("url_tags", pa.string()),
            ("image_hash", pa.string()),
            ("video_id", pa.string()),
            ("thumbnail_url", pa.string()),
            *((c, pa.string()) for c in LANDING_COLUMNS),
            ("record_hash", pa.string()),
            ("valid_from", TIMESTAMP),
            ("pulled_at", TIMESTAMP),
        ]
    ),
    model=Creatives,
    api_fields=(
        "id",
        "account_id",
        "name",
        "status",
        "object_type",
        "title",
        "body",
        "call_to_action_type",
        "link_url",
        "object_story_spec",
        "url_tags",
        "image_hash",
        "video_id",
        "thumbnail_url",
    ),
    loaded_at="pulled_at",
    asset=CREATIVES,
)
