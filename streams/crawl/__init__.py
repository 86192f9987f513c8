"""Crawl stage core: safe, polite fetching and discovery of article URLs.

Plain asyncio + aiohttp; no Kafka, faust or database imports, so it is tested against servers
on 127.0.0.1 and benchmarked without a broker.

Errors: :meth:`Fetcher.fetch` never raises for network trouble; every failure is a
:class:`FetchResult` outcome (``blocked``, ``too_large``, ``timeout``, ``http_error``,
``bad_content_type``, ``error``) with a reason. Pure helpers raise typed errors:
``CanonicalURLError`` and ``DiscoveryError`` (both ValueError).
"""

from streams.crawl.discover import DiscoveredItem, DiscoveryError, extract_links, parse_feed
from streams.crawl.fetch import Fetcher, FetchPolicy, FetchResult
from streams.crawl.robots import RobotsCache, RobotsRules, parse_robots
from streams.crawl.safety import check_address, check_url
from streams.identity import CanonicalURLError, article_id, canonicalize

__all__ = [
    "CanonicalURLError",
    "DiscoveredItem",
    "DiscoveryError",
    "FetchPolicy",
    "FetchResult",
    "Fetcher",
    "RobotsCache",
    "RobotsRules",
    "article_id",
    "canonicalize",
    "check_address",
    "check_url",
    "extract_links",
    "parse_feed",
    "parse_robots",
]
