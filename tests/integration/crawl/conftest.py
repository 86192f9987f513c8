"""Factories for small aiohttp servers on loopback, started and stopped by each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from streams.crawl.fetch import Fetcher, FetchPolicy

Serve = Callable[..., Awaitable[str]]
LOOPBACK_ONLY = ("127.0.0.1/32",)


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """``base = await serve(app, host="127.0.0.1")`` runs ``app`` on a free port."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application, host: str = "127.0.0.1") -> str:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, host, 0).start()
        bound_host, port = runner.addresses[0][:2]
        return f"http://{bound_host}:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def fetcher_factory() -> AsyncIterator[Callable[..., Fetcher]]:
    """``fetcher_factory(**policy_overrides, resolver=...)``; all are closed after the test."""
    made: list[Fetcher] = []

    def make(resolver: AbstractResolver | None = None, **overrides: Any) -> Fetcher:
        overrides.setdefault("allow_cidrs", LOOPBACK_ONLY)
        fetcher = Fetcher(FetchPolicy(**overrides), resolver=resolver)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.close()
