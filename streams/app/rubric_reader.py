"""Keeps a worker's rubric book in step with ``news.rubrics`` (every writer's totals).

Read from the beginning and then followed, like a global table: the topic is small (one
record per source, rubric and worker process) and compacted. A broker outage only pauses the
reading; the book keeps what it has and the stage keeps classifying. The worker runs it in a
thread with its own event loop, away from faust's consumer (``faust_app._classify_stage``).
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka.errors import KafkaError

from streams.classify.rubrics import RubricBook
from streams.errors import MalformedRecord
from streams.kafka.reader import read_topic
from streams.metrics import RUBRIC_BOOK_KEYS, RUBRIC_RECORDS_READ
from streams.records import RubricStats
from streams.settings import Settings
from streams.topology import RUBRICS

log = logging.getLogger(__name__)
RETRY_S = 5.0


def apply(book: RubricBook, value: bytes | None) -> str:
    """Merge one record; a malformed one is counted and skipped (it is evidence, not data)."""
    try:
        outcome = "merged" if book.merge(RubricStats.from_json(value or b"")) else "other_group"
    except MalformedRecord:
        outcome = "malformed"
    RUBRIC_RECORDS_READ.labels(outcome).inc()
    RUBRIC_BOOK_KEYS.set(len(book))
    return outcome


async def follow_rubrics(settings: Settings, book: RubricBook) -> None:
    while True:
        try:
            async for record in read_topic(settings, RUBRICS, from_beginning=True, follow=True):
                apply(book, record.value)
        except (KafkaError, LookupError, OSError) as exc:
            log.warning("reading %s: %s; retrying in %.0f s", RUBRICS, exc, RETRY_S)
        await asyncio.sleep(RETRY_S)
