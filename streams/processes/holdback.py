"""The crawler's backpressure on ``news.raw``: measure the workers' backlog every
``crawl_raw_lag_interval_s``, export it, and say whether crawling must hold back.

Two bounds (:class:`streams.crawl.backpressure.Bounds`): the record lag
(``crawl_max_raw_lag``) and the age of the oldest record the workers have not committed
(``crawl_max_raw_age_fraction`` of news.raw's ``retention.ms`` in the topology), so crawling
stops adding pages long before retention could delete one that was never processed. Every
replica measures the same thing, so dashboards and alerts take the max over replicas.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka.errors import KafkaError

from streams.crawl.backpressure import Bounds, PartitionBacklog
from streams.kafka.backlog import BacklogReader
from streams.metrics import (
    CRAWL_BACKPRESSURE,
    CRAWL_RAW_AGE,
    CRAWL_RAW_DELETED,
    CRAWL_RAW_LAG,
    CRAWL_RAW_RETENTION,
)
from streams.settings import Settings
from streams.topology import RAW, build_topology

log = logging.getLogger(__name__)


class RawBackpressure:
    """``paused`` is what the replica reads; ``await run()`` keeps it up to date."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.retention_ms = build_topology(settings, [])[RAW].retention_ms
        self.bounds = Bounds.of(
            settings.crawl_max_raw_lag, self.retention_ms, settings.crawl_max_raw_age_fraction
        )
        self.held = False  # a bound was exceeded at the last measurement
        # Nothing starts before the first measurement was tried: a replica started into a
        # backlog must not poll while it does not know yet. A failed measurement (broker
        # unreachable, no ACL to read the group's offsets) does not hold crawling back.
        self.tried = False

    @property
    def paused(self) -> bool:
        return self.held or not self.tried

    async def run(self) -> None:
        CRAWL_RAW_RETENTION.set(self.retention_ms / 1000.0 if self.retention_ms >= 0 else -1)
        reader = BacklogReader(self.settings, self.settings.consumer_group, RAW)
        while True:
            try:
                self.update(await reader.measure(), time.time())
            except (KafkaError, OSError) as exc:
                log.warning("news.raw lag not measured: %s", exc)
            self.tried = True
            await asyncio.sleep(self.settings.crawl_raw_lag_interval_s)

    def update(self, backlog: list[PartitionBacklog], now: float) -> str | None:
        """Export one measurement and decide; returns why crawling holds back, or None."""
        lag = sum(b.lag for b in backlog)
        age = max((b.age_s(now) for b in backlog), default=0.0)
        CRAWL_RAW_LAG.set(lag)
        for b in backlog:
            CRAWL_RAW_AGE.labels(str(b.partition)).set(b.age_s(now))
            CRAWL_RAW_DELETED.labels(str(b.partition)).set(b.deleted)
            if b.deleted:
                log.error(
                    "news.raw partition %d: retention deleted %d records the workers had not"
                    " committed (offsets %d to %d)",
                    b.partition,
                    b.deleted,
                    b.committed,
                    b.start - 1,
                )
        why = self.bounds.exceeded(lag, age)
        self.tried = True
        if (why is not None) != self.held:
            self.held = why is not None
            CRAWL_BACKPRESSURE.set(int(self.held))
            if why is not None:
                log.warning(
                    "backpressure (%s): news.raw lag %d (bound %d), oldest unprocessed %.0fs"
                    " (bound %s); crawling paused",
                    why,
                    lag,
                    self.bounds.max_lag,
                    age,
                    "none" if self.bounds.max_age_s is None else f"{self.bounds.max_age_s:.0f}s",
                )
            else:
                log.info("backpressure off: news.raw lag %d, oldest %.0fs; crawling", lag, age)
        return why


__all__ = ["RawBackpressure"]
