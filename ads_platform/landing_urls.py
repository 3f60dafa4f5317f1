"""A creative's landing URL and UTM parameters, as a click on the ad reaches the site.

Meta appends an ad's ``url_tags`` (a query string without ``?``, e.g.
``utm_source=facebook&utm_campaign={{campaign.name}}``) to the creative's link when
someone clicks.  The URL report groups spend by that landing page and by the UTM
parameters, so both are parsed here once, at ingestion, with the standard library's
query parser (percent-encoding and ``+`` decoded), instead of string slicing in SQL.

Rules: the link's own query string comes first, then ``url_tags`` (as the click URL
reads); a parameter given twice keeps its first value (what the link says wins over
the tags); an empty value or an absent parameter is None.  Meta's dynamic macros
(``{{ad.id}}``) are kept as written: Meta fills them only at click time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from urllib.parse import parse_qsl, urlsplit, urlunsplit

UTM_PARAMETERS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


@dataclass(frozen=True)
class LandingUrl:
    """The parts of a landing URL the URL report groups by (None when unknown)."""

    base_url: str | None
    url_host: str | None
    url_path: str | None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_content: str | None = None
    utm_term: str | None = None

    def as_record(self) -> dict[str, str | None]:
        return asdict(self)


def query_parameters(query: str | None) -> dict[str, str]:
    """A query string (with or without a leading ``?``) → first value of each parameter."""
    if not query:
        return {}
    out: dict[str, str] = {}
    for name, value in parse_qsl(query.strip().lstrip("?"), keep_blank_values=True):
        out.setdefault(name.strip(), value.strip())
    return out


def parse_landing_url(link: str | None, url_tags: str | None) -> LandingUrl:
    """The creative's link + its ``url_tags`` → base URL, host, path and UTM values.

    ``base_url`` is scheme, host and path without the query or fragment; the host is
    lower-cased (host names are case-insensitive), the path kept as written (``/`` for
    none).  Without a link, the UTM values still come from the tags.
    """
    params: dict[str, str] = {}
    base = host = path = None
    if link and link.strip():
        parts = urlsplit(link.strip())
        host = parts.hostname or None
        path = parts.path or "/"
        base = urlunsplit((parts.scheme.lower(), (parts.netloc or "").lower(), path, "", ""))
        params.update(query_parameters(parts.query))
    for name, value in query_parameters(url_tags).items():
        params.setdefault(name, value)
    utm = {name: (params.get(name) or None) for name in UTM_PARAMETERS}
    return LandingUrl(base, host, path, **utm)
