"""Factories for small aiohttp servers on loopback, started and stopped by each test."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from streams.crawl.fetch import Fetcher, FetchPolicy
from streams.settings import Settings, load_settings

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


@pytest.fixture(scope="module")
def stream_settings(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings on the session's real broker (a fresh state dir; acks at once)."""
    return load_settings(
        kafka_bootstrap=kafka_bootstrap,
        state_dir=tmp_path_factory.mktemp("crawl-state"),
        consumer_group=f"test-crawl-{uuid.uuid4().hex[:8]}",
        producer_linger_ms=0,
    )


@pytest.fixture(scope="module")
def crawl_topics(stream_settings: Settings) -> None:
    """The crawler's topics (raw, backfill, DLQ) exist; desk topics are not needed here."""
    from streams.kafka.admin import check_topics
    from streams.topology import build_topology

    asyncio.run(check_topics(stream_settings, build_topology(stream_settings, [])))
