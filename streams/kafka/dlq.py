"""Republish dead letters to the topic they came from (`newsstream dlq replay`)."""

from __future__ import annotations

import base64
from collections.abc import Callable

from streams.errors import MalformedRecord
from streams.kafka.clients import make_consumer
from streams.kafka.deadletter import replay_headers
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
            for letter in letters:
                assert letter.origin is not None
                echo(f"{letter.stage}/{letter.reason} {letter.origin} -> {letter.origin.topic}")
            count += len(letters)
            if not dry_run:
                await output.send_all([_emit(letter) for letter in letters], stage="dlq")
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


def _emit(letter: DeadLetter) -> Emit:
    assert letter.origin is not None
    key = letter.key.encode() if letter.key is not None else b""
    value = base64.b64decode(letter.payload_b64)
    return Emit(letter.origin.topic, key, value, replay_headers(letter.replays + 1))
