"""The per-record shell every agent runs: call the stage, publish, or dead-letter.

A faust agent that raises acks and drops its event and restarts, so nothing may escape this
function: a stage error becomes a DeadLetter on news.dlq with the stage, a reason code, the
error and the original topic/partition/offset; each outcome is counted.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka.errors import KafkaError

from streams.errors import MalformedRecord, StageError
from streams.kafka.deadletter import DEFAULT_PAYLOAD_LIMIT, dead_letter
from streams.kafka.producer import DurableProducer
from streams.metrics import DEAD_LETTERS, LAST_RECORD, RECORDS, ROUTED, STAGE_SECONDS
from streams.records import SourceRef
from streams.stage import Stage
from streams.topology import DESK_PREFIX

log = logging.getLogger(__name__)


class StageShell:
    def __init__(
        self, stage: Stage, output: DurableProducer, max_payload: int = DEFAULT_PAYLOAD_LIMIT
    ) -> None:
        self.stage = stage
        self.output = output
        self.max_payload = max_payload  # dead letters wrap at most this much of a value

    async def handle(
        self, key: bytes | None, value: bytes | None, origin: SourceRef, *, replays: int = 0
    ) -> str:
        """Process one message; return its outcome. Never raises for a bad record. ``replays``:
        how often `dlq replay` has republished it (its dead letter says so again)."""
        name = self.stage.name
        started = time.perf_counter()
        try:
            if value is None:
                raise MalformedRecord("tombstone (null value) on a record topic")
            if getattr(self.stage, "offload", False):
                # The stage spends its time in C code that releases the GIL (the sentence
                # encoder): in a thread, the worker's other agents run meanwhile. Still one
                # record at a time: the agent waits for it.
                result = await asyncio.to_thread(self.stage, key, value, origin)
            else:
                result = self.stage(key, value, origin)
        except StageError as exc:
            return await self._dead(key, value, origin, exc.reason, str(exc), replays)
        except Exception as exc:  # a bug must not stop the stream: dead-letter and go on
            log.exception("%s: unexpected error at %s", name, origin)
            return await self._dead(key, value, origin, "internal_error", repr(exc), replays)
        finally:
            STAGE_SECONDS.labels(name).observe(time.perf_counter() - started)
            LAST_RECORD.labels(name).set(time.time())
        try:
            await self.output.send_all(result.emits, stage=name)
        except KafkaError as exc:
            return await self._dead(key, value, origin, "publish_failed", repr(exc), replays)
        RECORDS.labels(name, result.outcome).inc()
        for emit in result.emits:
            if emit.topic.startswith(DESK_PREFIX):
                ROUTED.labels(emit.topic.removeprefix(DESK_PREFIX)).inc()
        return result.outcome

    async def _dead(
        self,
        key: bytes | None,
        value: bytes | None,
        origin: SourceRef,
        reason: str,
        error: str,
        replays: int = 0,
    ) -> str:
        name = self.stage.name
        log.warning("%s: dead letter (%s) from %s: %s", name, reason, origin, error[:300])
        payload = value or b""
        letter = dead_letter(
            name, reason, error, key, payload, origin, replays=replays, max_payload=self.max_payload
        )
        try:
            await self.output.send_all([letter], stage=name)
        except KafkaError as exc:
            # The letter is refused (a broker with a smaller message limit than ours): send
            # one without the payload, which still names the origin, size and hash, so
            # `dlq replay` can re-read the original. If even that fails, the error propagates.
            log.error("%s: dead letter refused (%r); sending it without the payload", name, exc)
            bare = dead_letter(
                name, reason, error, key, payload, origin, replays=replays, max_payload=0
            )
            await self.output.send_all([bare], stage=name)
        DEAD_LETTERS.labels(name, reason).inc()
        RECORDS.labels(name, "dead_letter").inc()
        return "dead_letter"
