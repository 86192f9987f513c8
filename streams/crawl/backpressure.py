"""When the crawler holds back: the workers' backlog on ``news.raw``, by count and by age.

A count bound alone does not protect the backlog from retention: a few hundred pages that the
workers never commit (a stalled partition, workers down) sit under any record bound while
their age walks towards ``retention.ms``, and Kafka then deletes them without a trace. So the
crawler also measures, per partition, the age of the oldest record the workers have not
committed (the timestamp of the record at their committed offset) and holds back once it
passes a fraction of the topic's retention. Retention deletes a segment when its newest
timestamp is older than ``retention.ms``, so a record is safe at least until its own age
reaches it: holding back at half the retention leaves the other half for the workers.

Plain data and arithmetic; the measurement is in :mod:`streams.kafka.backlog`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PartitionBacklog:
    """One partition of ``news.raw`` as the workers' group has it."""

    partition: int
    start: int  # log start offset: older records were deleted by retention
    end: int  # end offset (the next record's offset)
    committed: int | None  # the group's committed offset; None: never committed
    oldest_ms: int | None = None  # timestamp of the record at `first`; None: none or unread

    @property
    def first(self) -> int:
        """Offset of the oldest record the workers still have to process."""
        return max(self.start, self.committed if self.committed is not None else self.start)

    @property
    def lag(self) -> int:
        """End minus committed offset (what ``newsstream_consumer_lag`` reports)."""
        return max(0, self.end - (self.committed if self.committed is not None else 0))

    @property
    def deleted(self) -> int:
        """Records retention deleted before the workers committed them (0 if none)."""
        if self.committed is None:
            return 0
        return max(0, min(self.start, self.end) - self.committed)

    @property
    def unprocessed(self) -> bool:
        return self.first < self.end

    def age_s(self, now_s: float) -> float:
        """Age of the oldest unprocessed record; 0 when there is none (or it was not read)."""
        if not self.unprocessed or self.oldest_ms is None:
            return 0.0
        return max(0.0, now_s - self.oldest_ms / 1000.0)


@dataclass(frozen=True)
class Bounds:
    """Above either bound the crawler holds back; 0 / None switches a bound off."""

    max_lag: int  # records (crawl_max_raw_lag)
    max_age_s: float | None  # seconds; None: no age bound (infinite retention or fraction 0)

    @classmethod
    def of(cls, max_lag: int, retention_ms: int, age_fraction: float) -> Bounds:
        """``retention_ms`` < 0 is Kafka's "keep for ever": nothing ages out, no age bound."""
        if retention_ms < 0 or age_fraction <= 0:
            return cls(max_lag, None)
        return cls(max_lag, retention_ms / 1000.0 * age_fraction)

    def exceeded(self, lag: int, age_s: float) -> str | None:
        """Why crawling must hold back (``"lag"`` or ``"age"``), or None."""
        if self.max_lag > 0 and lag > self.max_lag:
            return "lag"
        if self.max_age_s is not None and age_s > self.max_age_s:
            return "age"
        return None


__all__ = ["Bounds", "PartitionBacklog"]
