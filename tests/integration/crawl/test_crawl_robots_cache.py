"""RobotsCache: status codes map to rules, results are cached and expire."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from streams.crawl.fetch import Fetcher
from streams.crawl.robots import RobotsCache

Factory = Callable[..., Fetcher]
Serve = Callable[..., Awaitable[str]]


def _robots_app(status: int, text: str, hits: list[int]) -> web.Application:
    async def robots(_: web.Request) -> web.Response:
        hits.append(1)
        return web.Response(status=status, text=text, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/robots.txt", robots)
    return app


async def test_server_error_disallows_and_not_found_allows(
    serve: Serve, fetcher_factory: Factory
) -> None:
    broken = await serve(_robots_app(500, "oops", []))
    missing = await serve(_robots_app(404, "none", []))
    cache = RobotsCache(fetcher_factory())
    assert not await cache.allowed(broken + "/news/1")
    assert await cache.allowed(missing + "/news/1")


async def test_unreachable_host_disallows(fetcher_factory: Factory) -> None:
    cache = RobotsCache(fetcher_factory(allow_cidrs=()))
    assert not await cache.allowed("http://127.0.0.1:8080/news/1")  # blocked address


async def test_cache_ttl_and_single_flight(serve: Serve, fetcher_factory: Factory) -> None:
    hits: list[int] = []
    base = await serve(_robots_app(200, "User-agent: *\nCrawl-delay: 3\nDisallow: /x/\n", hits))
    now = [0.0]
    cache = RobotsCache(fetcher_factory(), max_age_s=100, clock=lambda: now[0])
    results = await asyncio.gather(*(cache.allowed(f"{base}/a/{i}") for i in range(10)))
    assert all(results)
    assert len(hits) == 1
    assert await cache.crawl_delay(base + "/") == 3
    now[0] = 99.0
    assert not await cache.allowed(base + "/x/1")
    assert len(hits) == 1
    now[0] = 101.0
    await cache.allowed(base + "/a")
    assert len(hits) == 2


async def test_error_result_is_cached_briefly(serve: Serve, fetcher_factory: Factory) -> None:
    hits: list[int] = []
    base = await serve(_robots_app(503, "busy", hits))
    now = [0.0]
    cache = RobotsCache(fetcher_factory(), error_max_age_s=60, clock=lambda: now[0])
    assert not await cache.allowed(base + "/a")
    now[0] = 61.0
    assert not await cache.allowed(base + "/a")
    assert len(hits) == 2


async def test_refused_connection_is_reported_as_unreachable(fetcher_factory: Factory) -> None:
    from streams.crawl.polite import PoliteFetcher
    from tests.integration.conftest import free_ports

    (port,) = free_ports(1)  # nothing listens there: the connection is refused
    polite = PoliteFetcher(fetcher_factory())
    result = await polite.fetch(f"http://127.0.0.1:{port}/news/1")
    assert result.outcome == "error"
    assert result.reason is not None
    assert result.reason.startswith("robots.txt unreachable")
    assert polite.robots.unreachable(f"http://127.0.0.1:{port}/other") == result.reason


async def test_denial_by_rules_is_not_unreachable(serve: Serve, fetcher_factory: Factory) -> None:
    from streams.crawl.polite import PoliteFetcher

    base = await serve(_robots_app(200, "User-agent: *\nDisallow: /\n", []))
    polite = PoliteFetcher(fetcher_factory())
    result = await polite.fetch(base + "/news/1")
    assert (result.outcome, result.reason) == ("robots_denied", "robots_txt")
    assert polite.robots.unreachable(base + "/news/1") is None
