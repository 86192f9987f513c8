"""faust's Kafka consumer, made to read again what a stale batch would skip.

faust takes a jump in an input partition's offsets for a gap (compaction, transaction markers)
and marks the missing offsets as acknowledged, so a commit passes over them. The stages' inputs
are neither compacted nor transactional (idempotent producers write contiguous offsets), so on
them a jump means records were not read: in the cluster chaos test jumps came after the seek
back to the committed offsets that follows a rebalance ("committed 250", first record handed on
253), from a batch fetched before the seek, and the skipped records' pages never came out
(2026-12-03: news.unique p3 "jumped from 4 to 7", the two pages of offsets 5 and 6 stopped
there).

So this consumer keeps, per input partition, the next offset it must hand on (set by every
seek, advanced by every record). A record beyond it is not handed on: the partition is seeked
back to that offset and the rest of the stale batch for it is dropped, so the skipped records
are read again and nothing is acked unread. A partition whose records really are gone
(retention deleted them under a committed offset) would jump every time: after
``REREAD_ATTEMPTS`` seeks to the same offset the jump is taken as faust takes it, counted and
logged as a warning.

faust's commit offset has an off-by-one as well: with committed offset C it commits past C
when the lowest acked offset is C + 1 (and past anything when C is 0), though the record at C
was never acked, e.g. one its stream skipped as belonging to an earlier generation. Here the
commit waits for C (``newsstream_consumer_commit_holds_total``); held for ``HOLD_REREAD_S``,
the partition is read again from C. A redelivered record gets its first decision again in
every stage, so reading again repeats outputs at worst, never loses them.

Tried before and reverted (2026-12-03): stalling the partition's commits at a jump and asking
the group to rebalance (the rebalance did not come: 2 of 3 runs left pages without an outcome),
seeking from the commit path (aiokafka stops at the first partition revoked meanwhile).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiokafka.errors import IllegalStateError, KafkaError
from faust.transport.consumer import ensure_TP
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

from streams.metrics import COMMIT_HOLDS, REREAD_JUMPS, SKIPPED_OFFSETS

log = logging.getLogger(__name__)

REREAD_ATTEMPTS = 3
HOLD_REREAD_S = 30.0  # a commit held this long at an unacked offset: read it again


class ObservedConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer; a jump on an input partition is read again, not acked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_offset: dict[TP, int] = {}
        self._rereads: dict[TP, tuple[int, int]] = {}  # tp -> (offset, seeks to it)
        self._held: dict[TP, tuple[int, float]] = {}  # tp -> (committed offset held, since)
        self._seeks: set[asyncio.Future[None]] = set()

    # --- where the next record must start ------------------------------------------------
    async def seek_to_committed(self) -> Mapping[TP, int]:
        # Every assigned partition, with its committed offset (None when there is none: the
        # reset policy decides; aiokafka seeks only to offsets above 0).
        committed = await super().seek_to_committed()
        for tp, offset in committed.items():
            self._expect(ensure_TP(tp), offset)
        return committed

    async def seek(self, partition: TP, offset: int) -> None:
        await super().seek(partition, offset)
        self._expect(partition, offset)

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        # faust's table recovery turns only -1 into 0; after a changelog leader moved it can
        # pass another negative offset (or none), aiokafka's seek raises ValueError and the worker
        # crashes (cluster chaos test, 2026-12-03). Reading a changelog from its start
        # rebuilds the same table (memory store), only slower.
        bad = {tp: o for tp, o in partitions.items() if not isinstance(o, int) or o < 0}
        if bad:
            log.warning("offsets aiokafka cannot seek to %s: reading those from the start", bad)
            partitions = {tp: 0 if tp in bad else o for tp, o in partitions.items()}
        await super().seek_wait(partitions)
        for tp, offset in partitions.items():
            self._expect(tp, offset)

    def _expect(self, tp: TP, offset: int | None) -> None:
        if offset is not None and offset > 0:
            self._next_offset[tp] = offset
        else:  # no committed offset: the reset policy decides where reading starts
            self._next_offset.pop(tp, None)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        for tp in revoked:
            self._next_offset.pop(tp, None)
            self._rereads.pop(tp, None)
            self._held.pop(tp, None)
        await super().on_partitions_revoked(revoked)

    # --- reading ---------------------------------------------------------------------------
    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:  # noqa: ASYNC109 - faust's signature
        stale: set[TP] = set()
        async for tp, message in super().getmany(timeout):
            if tp in stale:
                continue
            if await self._jumped(tp, message):
                stale.add(tp)
                continue
            self._next_offset[tp] = max(self._next_offset.get(tp, 0), message.offset + 1)
            yield tp, message

    async def _jumped(self, tp: TP, message: Message) -> bool:
        """True when ``message`` lies beyond the next offset due on an input partition; the
        partition is then seeked back to that offset."""
        due = self._next_offset.get(tp)
        if due is None or message.offset <= due or not self.app.topics.acks_enabled_for(tp.topic):
            return False
        offset, seeks = self._rereads.get(tp, (due, 0))
        seeks = seeks + 1 if offset == due else 1
        if seeks > REREAD_ATTEMPTS:
            log.warning(
                "%s: offsets %d-%d still missing after %d seeks back; taken as a gap",
                tp, due, message.offset - 1, REREAD_ATTEMPTS,
            )  # fmt: skip
            self._rereads.pop(tp, None)
            # The gap starts at the offset due, which faust's own check (read offset + 1 on)
            # would leave out, and the commit would then hold at it for ever.
            await self._add_gap(tp, due, message.offset)
            self._read_offset[tp] = message.offset - 1
            return False
        self._rereads[tp] = (due, seeks)
        REREAD_JUMPS.labels(tp.topic).inc()
        log.info(
            "%s: record %d came when %d was due (a batch read before a seek); reading again"
            " from %d", tp, message.offset, due, due,
        )  # fmt: skip
        try:
            await self._seek(tp, due)
        except (IllegalStateError, KafkaError, AssertionError) as exc:
            log.info("%s: seek back to %d refused (%s); the partition moved on", tp, due, exc)
        return True

    # --- committing ------------------------------------------------------------------------
    def _new_offset(self, tp: TP) -> int | None:
        """faust's commit offset, without its off-by-one: faust commits past the committed
        offset C when the lowest acked offset is C + 1 (or anything, when C is 0), i.e. over a
        record that was never acked (one its stream skipped as of an earlier generation, say).
        Here the commit waits for C; held for ``HOLD_REREAD_S``, C is read again."""
        acked = self._acked[tp]
        committed = self._committed_offset[tp]
        if not acked or committed is None or self._gap.get(tp) or min(acked) <= committed:
            self._held.pop(tp, None)
            return super()._new_offset(tp)
        held, since = self._held.get(tp, (committed, time.monotonic()))
        if held != committed:
            held, since = committed, time.monotonic()
        self._held[tp] = (held, since)
        COMMIT_HOLDS.labels(tp.topic).inc()
        if time.monotonic() - since >= HOLD_REREAD_S:
            self._held.pop(tp, None)
            log.warning(
                "%s: commit held at %d for %.0f s (acked from %d on): reading %d again",
                tp, committed, HOLD_REREAD_S, min(acked), committed,
            )  # fmt: skip
            self._next_offset[tp] = committed
            self._read_offset[tp] = committed
            task = asyncio.ensure_future(self._seek_back(tp, committed))
            self._seeks.add(task)
            task.add_done_callback(self._seeks.discard)
        return None

    async def _seek_back(self, tp: TP, offset: int) -> None:
        try:
            await self._seek(tp, offset)
        except (IllegalStateError, KafkaError, AssertionError) as exc:
            log.info("%s: seek back to %d refused (%s); the partition moved on", tp, offset, exc)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        SKIPPED_OFFSETS.labels(tp.topic).inc(offset_to - offset_from)
        log.warning("%s: offsets %d-%d acked unread as a gap", tp, offset_from, offset_to - 1)
        await super()._add_gap(tp, offset_from, offset_to)


class NewsTransport(faust_aiokafka.Transport):
    Consumer = ObservedConsumer


def transport_for(app: Any) -> NewsTransport:
    """The consumer transport of ``app`` (``App._new_transport``)."""
    return NewsTransport(app.conf.broker_consumer, app)
