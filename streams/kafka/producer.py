"""Publishing a stage's output durably before its input is acknowledged.

faust acknowledges an event when the agent moves on to the next one, and commits acknowledged
offsets periodically. Awaiting the broker's ack for every output here, before returning to
the agent loop, is what makes "offsets are committed only after the effect is durable" true.
faust's own producer enables idempotence only in transactional mode, so stages publish
through this producer (acks=all, idempotent) instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

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
