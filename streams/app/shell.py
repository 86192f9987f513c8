"""The per-record shell every agent runs: call the stage, publish, or dead-letter.

A faust agent that raises acks and drops its event and restarts, so nothing may escape this
function: a stage error becomes a DeadLetter on news.dlq with the stage, a reason code, the
error and the original topic/partition/offset; each outcome is counted once its outputs are
durable.

``prepare`` runs the stage and says what to publish; ``handle`` also publishes and waits
(one record at a time); the worker's agents publish through ``streams.app.inflight`` instead,
which goes on to the next record meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace

from aiokafka.errors import KafkaError

from streams.errors import MalformedRecord, StageError
from streams.kafka.deadletter import DEFAULT_PAYLOAD_LIMIT, dead_letter
from streams.kafka.producer import DurableProducer
from streams.metrics import DEAD_LETTERS, LAST_RECORD, RECORDS, ROUTED, STAGE_SECONDS
from streams.records import SourceRef
from streams.stage import Emit, Stage
from streams.topology import DESK_PREFIX

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """One input record and what its stage made of it: the outcome and the outputs."""

    key: bytes | None
    value: bytes | None
    origin: SourceRef
    replays: int
    outcome: str
    emits: list[Emit]
    reason: str = ""  # a dead letter's reason code and error
    error: str = ""
    bare: bool = False  # a dead letter without the payload


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
        """Process one message, publish its outputs and wait for their acks; return its
        outcome. Never raises for a bad record. ``replays``: how often `dlq replay` has
        republished it (its dead letter says so again)."""
        done = await self.prepare(key, value, origin, replays=replays)
        while True:
            try:
                await self.output.send_all(done.emits, stage=self.stage.name)
                break
            except KafkaError as exc:
                done = self.refused(done, exc)
        self.settle(done)
        return done.outcome

    async def prepare(
        self, key: bytes | None, value: bytes | None, origin: SourceRef, *, replays: int = 0
    ) -> Prepared:
        """Run the stage on one message: its outputs, or a dead letter. Never raises for a
        bad record."""
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
            return self._dead(key, value, origin, exc.reason, str(exc), replays)
        except Exception as exc:  # a bug must not stop the stream: dead-letter and go on
            log.exception("%s: unexpected error at %s", name, origin)
            return self._dead(key, value, origin, "internal_error", repr(exc), replays)
        finally:
            STAGE_SECONDS.labels(name).observe(time.perf_counter() - started)
            LAST_RECORD.labels(name).set(time.time())
        return Prepared(key, value, origin, replays, result.outcome, list(result.emits))

    def refused(self, done: Prepared, exc: KafkaError) -> Prepared:
        """What to publish instead when the broker or client refuses ``done``'s outputs for
        good (not retriable, e.g. too large): a dead letter saying so; for a dead letter
        refused itself (a broker with a smaller limit than ours), one without the payload,
        which still names the origin, size and hash, so `dlq replay` can re-read the
        original. If even that is refused, the error propagates."""
        name = self.stage.name
        if done.outcome != "dead_letter":
            return self._dead(
                done.key, done.value, done.origin, "publish_failed", repr(exc), done.replays
            )
        if done.bare:
            raise exc
        log.error("%s: dead letter refused (%r); sending it without the payload", name, exc)
        bare = dead_letter(
            name,
            done.reason,
            done.error,
            done.key,
            done.value or b"",
            done.origin,
            replays=done.replays,
            max_payload=0,
        )
        return replace(done, emits=[bare], bare=True)

    def settle(self, done: Prepared) -> None:
        """Count a record whose outputs are durable, and tell a stage that wants to know
        (``settled(origin)``: the dedup gather step writes its decision markers then)."""
        name = self.stage.name
        settled = getattr(self.stage, "settled", None)
        if settled is not None:
            settled(done.origin)
        RECORDS.labels(name, done.outcome).inc()
        if done.outcome == "dead_letter":
            DEAD_LETTERS.labels(name, done.reason).inc()
            return
        for emit in done.emits:
            if emit.topic.startswith(DESK_PREFIX):
                ROUTED.labels(emit.topic.removeprefix(DESK_PREFIX)).inc()

    def _dead(
        self,
        key: bytes | None,
        value: bytes | None,
        origin: SourceRef,
        reason: str,
        error: str,
        replays: int = 0,
    ) -> Prepared:
        name = self.stage.name
        log.warning("%s: dead letter (%s) from %s: %s", name, reason, origin, error[:300])
        letter = dead_letter(
            name,
            reason,
            error,
            key,
            value or b"",
            origin,
            replays=replays,
            max_payload=self.max_payload,
        )
        return Prepared(key, value, origin, replays, "dead_letter", [letter], reason, error)
