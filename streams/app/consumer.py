"""faust's Kafka consumer with three rebalance holes closed.

``bench/scale.py`` once saw a page on news.raw committed past without an outcome, 0.24 s after
a worker joined, and every worker logged faust's "exception performing seek when flow not
active ... No current assignment". Records fetched while a rebalance stops the flow are
dropped and must be read again from the committed offsets; three things could stop that:

1. aiokafka's ``seek_to_committed`` walks the assignment and stops at the first partition
   revoked meanwhile (``IllegalStateError``), leaving every later partition where the fetcher
   was: past the dropped records. A partition without a committed offset is not moved at all.
   Here each partition is moved on its own; one revoked meanwhile is skipped (its new owner
   reads it), one without a committed offset goes back to where the reset policy starts.
2. faust takes a jump in an input partition's offsets for a gap (compaction, transaction
   markers) and counts the missing offsets as acknowledged, so the next commit passes over
   them. The stages' inputs are neither compacted nor transactional: a jump means records
   were skipped, and it happens: records fetched before the seek after a rebalance reach the
   stream after it, and the ones the seek fetches again are then dropped as already read
   (seen in the cluster chaos test: "committed 250, position 286" at the seek, then offset 253
   first). The jump is logged and counted, not acknowledged (that partition's commits stop
   before it), and the worker asks its group to rebalance, after which the seek reads the
   skipped records again.
3. A record fetched before a rebalance and acknowledged after it (dropped by the stream as
   stale, or its outputs acked late) still marked its offset committable, although the seek
   after the rebalance reads it again: a crash before that re-read lost it. Only records of
   the current generation mark offsets now; the others are read again and their outputs
   repeated, which the stages absorb.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiokafka.errors import IllegalStateError
from aiokafka.structs import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

from streams.metrics import SKIPPED_OFFSETS

log = logging.getLogger(__name__)


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    async def request_rejoin(self) -> None:
        """Rebalance: every partition is then read again from its committed offset."""
        self._ensure_consumer()._coordinator.request_rejoin()

    async def seek_to_committed(self) -> Mapping[TP, int]:
        return await self.call_thread(self._seek_each_to_committed)  # type: ignore[no-any-return]

    async def _seek_each_to_committed(self) -> dict[TopicPartition, int | None]:
        consumer = self._ensure_consumer()
        earliest = self.app.conf.consumer_auto_offset_reset == "earliest"
        positions: dict[TopicPartition, int | None] = {}
        for tp in sorted(consumer.assignment()):
            try:
                offset = await consumer.committed(tp)
                if offset is not None and offset >= 0:
                    consumer.seek(tp, offset)
                elif earliest:
                    await consumer.seek_to_beginning(tp)
                else:
                    await consumer.seek_to_end(tp)
            except IllegalStateError:
                log.info("%s was revoked while seeking to committed offsets; skipped", tp)
                continue
            positions[tp] = offset
        return positions


class SafeSeekConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer, with the fixes of this module's docstring."""

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        SKIPPED_OFFSETS.labels(tp.topic).inc(offset_to - offset_from)
        log.warning(
            "%s: offsets %d-%d were skipped by the consumer; they are not committed past, and"
            " the worker rejoins its group to read them again",
            tp,
            offset_from,
            offset_to - 1,
        )
        thread = self._thread
        assert isinstance(thread, _ConsumerThread)
        await thread.call_thread(thread.request_rejoin)

    def ack(self, message: Message) -> bool:
        if message.generation_id != self.app.consumer_generation_id:
            # Read again after the rebalance's seek; its offset is marked then.
            message.acked = True
            self._unacked_messages.discard(message)
            return False
        return super().ack(message)


class NewsTransport(faust_aiokafka.Transport):
    Consumer = SafeSeekConsumer


def transport_for(app: Any) -> NewsTransport:
    """The consumer transport of ``app`` (``App._new_transport``)."""
    return NewsTransport(app.conf.broker_consumer, app)
