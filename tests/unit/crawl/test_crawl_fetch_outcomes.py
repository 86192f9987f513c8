"""The Fetcher marks a failure transient where it happens; robots.txt fetches are counted."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from streams.crawl.fetch import Fetcher, FetchPolicy, FetchResult
from streams.crawl.robots import RobotsCache

LOOPBACK = ("127.0.0.1/32",)
Fetch = Callable[[str], Coroutine[Any, Any, FetchResult]]


def _status(code: int) -> Callable[[web.Request], Coroutine[Any, Any, web.Response]]:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(status=code, text="x", content_type="text/html")

    return handler


async def _loop(request: web.Request) -> web.Response:
    raise web.HTTPFound(str(request.url))  # redirects to itself: too many redirects


@pytest.fixture
async def site() -> AsyncIterator[str]:
    app = web.Application()
    for code in (200, 404, 429, 500, 503):
        app.router.add_get(f"/{code}", _status(code))
    app.router.add_get("/loop", _loop)
    app.router.add_get("/robots.txt", _status(404))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(FetchPolicy(allow_cidrs=LOOPBACK, max_redirects=2)) as f:
        yield f


@pytest.mark.parametrize(
    ("path", "outcome", "transient"),
    [
        ("/200", "fetched", False),
        ("/404", "http_error", False),
        ("/429", "http_error", True),
        ("/500", "http_error", True),
        ("/503", "http_error", True),
        ("/loop", "error", False),  # too many redirects: the same again next time
    ],
)
async def test_transience_is_set_where_the_failure_happens(
    site: str, fetcher: Fetcher, path: str, outcome: str, transient: bool
) -> None:
    result = await fetcher.fetch(site + path)
    assert (result.outcome, result.transient) == (outcome, transient)


async def test_refused_connection_is_transient(fetcher: Fetcher) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await fetcher.fetch(f"http://127.0.0.1:{port}/")
    assert result.outcome == "error"
    assert result.transient


def _robots_count(outcome: str) -> float:
    value = REGISTRY.get_sample_value("newsstream_fetch_robots_total", {"outcome": outcome})
    return value or 0.0


def _fetch_count(outcome: str) -> float:
    return REGISTRY.get_sample_value("newsstream_fetch_total", {"outcome": outcome}) or 0.0


async def test_robots_fetches_are_counted_apart(site: str, fetcher: Fetcher) -> None:
    before, pages_before = _robots_count("http_error"), _fetch_count("http_error")
    robots = RobotsCache(fetcher)
    assert await robots.allowed(site + "/news/1")  # 404 robots.txt: everything allowed
    assert await robots.allowed(site + "/news/2")  # cached: no second fetch
    assert _robots_count("http_error") == before + 1
    assert _fetch_count("http_error") == pages_before  # page metrics stay pages only
