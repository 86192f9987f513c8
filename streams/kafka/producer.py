"""Publishing a stage's output durably before its input is acknowledged.

faust commits the offsets of acknowledged events periodically. An event is acknowledged only
once the broker has acked every output of it and of every earlier event of its agent
(``send_all`` awaits them; ``enqueue`` hands back the future that streams/app/inflight.py
waits on), which is what makes "offsets are committed only after the effect is durable" true.
faust's own producer enables idempotence only in transactional mode, so stages publish
through this producer (acks=all, idempotent) instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError

from streams.kafka.clients import make_producer
from streams.metrics import RECORDS
from streams.settings import Settings
from streams.stage import Emit

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 30.0


class DurableProducer:
    def __init__(self, settings: Settings, *, batch_bytes: int | None = None) -> None:
        self._settings = settings
        self._batch_bytes = batch_bytes
        self._producer: AIOKafkaProducer | None = None

    @property
    def settings(self) -> Settings:
        return self._settings

    async def start(self) -> None:
        if self._producer is None:
            self._producer = make_producer(self._settings, batch_bytes=self._batch_bytes)
            await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def enqueue(self, emits: Sequence[Emit], *, stage: str) -> asyncio.Future[Any]:
        """Hand every output to the client (in order) and return one future for all their
        acks, without waiting for them. A record the client refuses outright (too large)
        raises here; a full send buffer waits, and a timeout waiting is retried as in
        ``send_all``. The future may fail later (a delivery timeout): the caller sends the
        outputs again."""
        await self.start()
        assert self._producer is not None
        futures: list[asyncio.Future[Any]] = []
        backoff = 0.5
        for e in emits:
            while True:
                try:
                    fut = await self._producer.send(
                        e.topic,
                        e.value,
                        key=e.key,
                        headers=list(e.headers) or None,
                        partition=e.partition,
                    )
                    break
                except KafkaTimeoutError as exc:
                    RECORDS.labels(stage, "produce_retry").inc()
                    log.warning("%s: send buffer full (%s); retrying in %.1fs", stage, exc, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
            futures.append(fut)
        return asyncio.gather(*futures)

    async def send_all(self, emits: Sequence[Emit], *, stage: str) -> None:
        """Publish and wait for every ack. Retriable errors are retried without end (the
        stream stalls, which lag alerts show, rather than dropping the record);
        non-retriable ones (e.g. message too large) raise for the caller to dead-letter."""
        await self.start()
        assert self._producer is not None
        backoff = 0.5
        while True:
            try:
                futures = [
                    await self._producer.send(
                        e.topic,
                        e.value,
                        key=e.key,
                        headers=list(e.headers) or None,
                        partition=e.partition,
                    )
                    for e in emits
                ]
                await asyncio.gather(*futures)
                return
            except KafkaError as exc:
                # KafkaTimeoutError: the batch for a partition stayed full for the request
                # timeout (a slow broker, many senders); the client says "not retriable", but
                # nothing was sent and asking again is exactly what helps.
                if not (getattr(exc, "retriable", False) or isinstance(exc, KafkaTimeoutError)):
                    raise
                RECORDS.labels(stage, "produce_retry").inc()
                log.warning("%s: publish failed (%s); retrying in %.1fs", stage, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
