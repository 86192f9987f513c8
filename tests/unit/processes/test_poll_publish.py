"""The crawler's publish step names why a page became a dead letter: too large for the topic,
or a publish error the producer does not retry (not everything is "too large")."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka.errors import MessageSizeTooLargeError, TopicAuthorizationFailedError

from streams.crawl.fetch import Fetcher, FetchPolicy
from streams.crawl.seen import SeenStore
from streams.processes.poll import Crawler
from streams.records import DeadLetter
from streams.settings import Settings
from streams.stage import Emit
from tests.conftest import make_raw


class RefusingOutput:
    """Refuses the first send with ``error``; records what it is sent afterwards."""

    def __init__(self, error: Exception) -> None:
        self.error: Exception | None = error
        self.sent: list[Emit] = []

    async def send_all(self, emits: Sequence[Emit], *, stage: str) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        self.sent += emits


def publish(settings: Settings, error: Exception) -> DeadLetter:
    async def go() -> list[Emit]:
        output = RefusingOutput(error)
        async with Fetcher(FetchPolicy()) as fetcher:
            crawler = Crawler(settings, fetcher, output, SeenStore(None))  # type: ignore[arg-type]
            await crawler.publish(make_raw("<p>x</p>", "https://example.com/a"))
        return output.sent

    (letter,) = asyncio.run(go())
    assert letter.topic == "news.dlq"
    return DeadLetter.from_json(letter.value)


def test_a_refused_publish_is_dead_lettered_under_its_own_reason(settings: Settings) -> None:
    assert publish(settings, TopicAuthorizationFailedError()).reason == "publish_failed"
    assert publish(settings, MessageSizeTooLargeError()).reason == "too_large_for_topic"
