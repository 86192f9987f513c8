"""Republish dead letters to the topic they came from (`newsstream dlq replay`)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

from aiokafka import TopicPartition

from streams.errors import MalformedRecord
from streams.kafka.clients import make_consumer
from streams.kafka.deadletter import replay_headers
from streams.kafka.probe import check_connection
from streams.kafka.producer import DurableProducer
from streams.records import DeadLetter
from streams.settings import Settings
from streams.stage import Emit
from streams.topology import DLQ


def _wanted(letter: DeadLetter, stage: str | None, reason: str | None) -> bool:
    if letter.origin is None:
        return False  # e.g. a crawl failure: there is no input message to replay
    return (stage is None or letter.stage == stage) and (reason is None or letter.reason == reason)


async def replay_dead_letters(
    settings: Settings,
    *,
    stage: str | None = None,
    reason: str | None = None,
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
) -> int:
    """Replay matching letters not replayed before; return how many were (or would be)."""
    group = None if dry_run else f"{settings.consumer_group}-dlq-replay"
    await check_connection(settings, topics=[DLQ], group=group)
    consumer = make_consumer(settings, DLQ, group=group)
    output = DurableProducer(settings)
    await consumer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=200)  # join the group and get partitions
        tps = sorted(consumer.assignment(), key=lambda tp: tp.partition)
        ends = await consumer.end_offsets(tps)
        count = 0
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            batch = await consumer.getmany(timeout_ms=500)
            letters = [
                letter
                for tp, records in batch.items()
                for rec in records
                if rec.offset < ends[tp]
                and (letter := _parse(rec.value)) is not None
                and _wanted(letter, stage, reason)
            ]
            emits = []
            for letter in letters:
                assert letter.origin is not None
                value = await _payload(settings, letter)
                if value is None:
                    echo(
                        f"{letter.stage}/{letter.reason} {letter.origin}: not replayed, the letter"
                        " holds only a prefix and the original is no longer on its topic"
                    )
                    continue
                echo(f"{letter.stage}/{letter.reason} {letter.origin} -> {letter.origin.topic}")
                emits.append(_emit(letter, value))
            count += len(emits)
            if not dry_run:
                await output.send_all(emits, stage="dlq")
                await consumer.commit()
        return count
    finally:
        await consumer.stop()
        await output.stop()


def _parse(value: bytes | None) -> DeadLetter | None:
    try:
        return DeadLetter.from_json(value or b"")
    except MalformedRecord:
        return None


async def _payload(settings: Settings, letter: DeadLetter) -> bytes | None:
    """The original value: from the letter, or, when the letter holds only a prefix, re-read
    from its origin and checked against the letter's hash (None when it is gone)."""
    if not letter.payload_truncated:
        return base64.b64decode(letter.payload_b64)
    assert letter.origin is not None
    origin = letter.origin
    tp = TopicPartition(origin.topic, origin.partition)
    consumer = make_consumer(settings, group=None)
    await consumer.start()
    try:
        consumer.assign([tp])
        first = (await consumer.beginning_offsets([tp]))[tp]
        end = (await consumer.end_offsets([tp]))[tp]
        if not first <= origin.offset < end:
            return None
        consumer.seek(tp, origin.offset)
        while True:
            batch = await consumer.getmany(tp, timeout_ms=2000, max_records=1)
            for rec in batch.get(tp, []):
                value = rec.value or b""
                same = hashlib.sha256(value).hexdigest() == letter.payload_sha256
                return value if rec.offset == origin.offset and same else None
            if not batch and await consumer.position(tp) >= end:
                return None
    finally:
        await consumer.stop()


def _emit(letter: DeadLetter, value: bytes) -> Emit:
    assert letter.origin is not None
    key = letter.key.encode() if letter.key is not None else b""
    return Emit(letter.origin.topic, key, value, replay_headers(letter.replays + 1))
