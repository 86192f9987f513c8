"""Publishing saved pages (directories, WARC files) to the backfill topic, with progress.

Pages are sent in batches and every batch is awaited (acks=all, idempotent producer), so when
the command returns, everything it counted as published is durable. A page too large for the
topic becomes a dead letter, as in the live crawler; unreadable inputs are counted and skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from streams.crawl.backfill import (
    ReplaySkip,
    Saved,
    find_inputs,
    is_warc,
    read_saved_page,
    read_warc,
    to_raw_page,
)
from streams.kafka.deadletter import dead_letter
from streams.kafka.producer import DurableProducer
from streams.metrics import DEAD_LETTERS, RECORDS, REPLAYED
from streams.settings import Settings
from streams.stage import Emit
from streams.topology import BACKFILL_RAW

log = logging.getLogger(__name__)
STAGE = "replay"


@dataclass
class ReplayProgress:
    started: float = field(default_factory=time.monotonic)
    published: int = 0
    dead_letters: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    files: int = 0

    @property
    def rate(self) -> float:
        return self.published / max(time.monotonic() - self.started, 1e-9)

    def line(self) -> str:
        skipped = sum(self.skipped.values())
        return (
            f"replay: {self.published} published, {skipped} skipped, {self.dead_letters} dead "
            f"letters, {self.files} files, {self.rate:.0f} pages/s"
        )


def iter_saved(paths: list[Path], max_bytes: int, progress: ReplayProgress) -> Iterator[Saved]:
    for path in find_inputs(paths):
        progress.files += 1
        if is_warc(path):
            for entry in read_warc(path, max_bytes):
                if isinstance(entry, ReplaySkip):
                    _skip(progress, entry)
                else:
                    yield entry
            continue
        root = next((p for p in paths if p.is_dir() and path.is_relative_to(p)), path.parent)
        try:
            yield read_saved_page(path, root, max_bytes)
        except ReplaySkip as skip:
            _skip(progress, skip)


def _skip(progress: ReplayProgress, skip: ReplaySkip) -> None:
    progress.skipped[skip.reason] = progress.skipped.get(skip.reason, 0) + 1
    REPLAYED.labels(skip.reason).inc()
    log.debug("skipped %s", skip)


async def replay(
    settings: Settings,
    paths: list[Path],
    *,
    source_id: str = "replay",
    report: Callable[[ReplayProgress], None] | None = None,
    report_every_s: float = 1.0,
) -> ReplayProgress:
    """Publish every saved page under ``paths`` to news.backfill.raw; return the counts."""
    progress = ReplayProgress()
    output = DurableProducer(settings)
    batch: list[Emit] = []
    last_report = time.monotonic()
    try:
        for saved in iter_saved(paths, settings.fetch_max_body_bytes, progress):
            emit = _emit(saved, source_id, settings.topic_max_message_bytes, progress)
            if emit is not None:
                batch.append(emit)
            if len(batch) >= settings.backfill_batch_pages:
                await _flush(output, batch, progress)
            if report is not None and time.monotonic() - last_report >= report_every_s:
                report(progress)
                last_report = time.monotonic()
        await _flush(output, batch, progress)
    finally:
        await output.stop()
    return progress


def _emit(saved: Saved, source_id: str, limit: int, progress: ReplayProgress) -> Emit | None:
    try:
        page = to_raw_page(saved, source_id)
    except ReplaySkip as skip:
        _skip(progress, skip)
        return None
    value, key = page.to_json(), page.article_id.encode()
    if len(value) <= limit:
        return Emit(BACKFILL_RAW, key, value)
    progress.dead_letters += 1
    DEAD_LETTERS.labels(STAGE, "too_large_for_topic").inc()
    REPLAYED.labels("dead_letter").inc()
    return dead_letter(
        STAGE, "too_large_for_topic", f"{saved.origin}: {len(value)} bytes", key, value, None
    )


async def _flush(output: DurableProducer, batch: list[Emit], progress: ReplayProgress) -> None:
    if not batch:
        return
    await output.send_all(batch, stage=STAGE)
    pages = sum(1 for e in batch if e.topic == BACKFILL_RAW)
    progress.published += pages
    REPLAYED.labels("published").inc(pages)
    RECORDS.labels(STAGE, "published").inc(pages)
    batch.clear()
