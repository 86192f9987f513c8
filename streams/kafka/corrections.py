"""news.corrections on Kafka: publish an editor's correction, pull the latest per article."""

from __future__ import annotations

import logging
from pathlib import Path

from streams.classify.feedback import latest, write_jsonl
from streams.errors import MalformedRecord
from streams.kafka.clients import make_producer
from streams.kafka.reader import read_topic
from streams.records import Correction
from streams.settings import Settings
from streams.topology import CORRECTIONS

log = logging.getLogger(__name__)


async def publish(settings: Settings, record: Correction) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(CORRECTIONS, record.to_json(), key=record.article_id.encode())
    finally:
        await producer.stop()


async def pull(
    settings: Settings, out: Path, desks: frozenset[str] | None = None
) -> tuple[int, int]:
    """Read news.corrections from the start to its current end; write the latest per article.
    With ``desks``, a correction naming a desk the taxonomy lacks is skipped like a malformed
    one (training would learn a class nobody routes). Returns (written, skipped)."""
    records, skipped = [], 0
    async for rec in read_topic(settings, CORRECTIONS, from_beginning=True):
        try:
            correction = Correction.from_json(rec.value or b"")
            unknown = sorted(set(correction.topics) - desks) if desks is not None else []
            if unknown:
                raise MalformedRecord(f"topics {unknown} are not desks of the taxonomy")
            records.append(correction)
        except MalformedRecord as exc:
            # A bad record on the topic must not block training; it is counted and named.
            skipped += 1
            log.warning(
                "%s offset %d-%d: not a Correction (%s)",
                CORRECTIONS,
                rec.partition,
                rec.offset,
                exc,
            )
    keep = latest(records)
    write_jsonl(out, keep)
    return len(keep), skipped
