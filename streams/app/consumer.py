"""faust's Kafka consumer, with the offset jumps it takes for gaps counted and logged.

faust takes a jump in an input partition's offsets for a gap (compaction, transaction markers)
and marks the missing offsets as acknowledged, so a commit passes over them. The stages' inputs
are neither compacted nor transactional, so a jump is worth seeing: in the cluster chaos test
they come after rebalances, when the seek back to the committed offsets ("committed 250,
position 286") resets faust's read offset below a batch fetched before it (first record 253).
Whether records 250-252 had been read before the seek (faust's bookkeeping) or were lost is
not settled. faust's handling is kept because the alternative tried, stalling the partition's
commits there and asking the group to rebalance, left records without an outcome in 2 of 3
runs (the rebalance did not come).
"""

from __future__ import annotations

import logging
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from streams.metrics import SKIPPED_OFFSETS

log = logging.getLogger(__name__)


class ObservedConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer; offset jumps on inputs are counted and logged."""

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        SKIPPED_OFFSETS.labels(tp.topic).inc(offset_to - offset_from)
        log.info("%s: offsets jumped from %d to %d (read before a seek)", tp, offset_from - 1,
                 offset_to)  # fmt: skip
        await super()._add_gap(tp, offset_from, offset_to)


class NewsTransport(faust_aiokafka.Transport):
    Consumer = ObservedConsumer


def transport_for(app: Any) -> NewsTransport:
    """The consumer transport of ``app`` (``App._new_transport``)."""
    return NewsTransport(app.conf.broker_consumer, app)
