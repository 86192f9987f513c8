"""An agent's records whose outputs await the broker's acks, acknowledged to faust in order.

Waiting for the acks of every record's outputs before reading the next record made a worker
latency-bound on a replicated cluster: the band agent made ~32 acks=all round trips per page
one after another (bench/scale.py). Here an agent hands a record's outputs to the client and
goes on to the next record; the record is acknowledged to faust (so its offset becomes
committable) only once its own outputs and those of every earlier record of the agent are
acked. The outputs reach the wire in the agent's order (one idempotent producer), as before.

A delivery that fails after the client's own retries (no leader for longer than the delivery
timeout) stops the acking: once the other records in flight have settled, every record from
the first failed one on has its outputs sent again, in order, each waited for (retried without
end, as ``DurableProducer.send_all`` does), and the agent waits meanwhile. That repeats outputs
which may have arrived already, exactly as a redelivery after a crash would; the stages
downstream are idempotent to it (DESIGN.md, delivery contract).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import KafkaError

from streams.app.shell import Prepared, StageShell
from streams.metrics import IN_FLIGHT

log = logging.getLogger(__name__)


@dataclass
class _Entry:
    event: Any  # the faust event, acked once ``acks`` and every earlier entry's are done
    done: Prepared
    acks: asyncio.Future[Any]


class InFlight:
    """At most ``limit`` records of one agent with outputs in flight."""

    def __init__(self, shell: StageShell, ack: Callable[[Any], None], limit: int) -> None:
        self._shell = shell
        self._ack = ack
        self._limit = limit
        self._entries: deque[_Entry] = deque()
        self._repair: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._changed = asyncio.Event()
        self._gauge = IN_FLIGHT.labels(shell.stage.name)

    def __len__(self) -> int:
        return len(self._entries)

    async def add(self, event: Any, done: Prepared) -> None:
        """Publish ``done``'s outputs and keep ``event`` until they are acked. Waits while
        ``limit`` records are in flight or a failed delivery is being sent again."""
        while self._repair is not None or len(self._entries) >= self._limit:
            if self._failure is not None:
                raise self._failure
            self._changed.clear()
            await self._changed.wait()
        if self._failure is not None:
            raise self._failure
        while True:
            try:
                acks = await self._shell.output.enqueue(done.emits, stage=self._shell.stage.name)
                break
            except KafkaError as exc:  # refused outright (too large): dead-letter instead
                done = self._shell.refused(done, exc)
        self._entries.append(_Entry(event, done, acks))
        self._gauge.set(len(self._entries))
        acks.add_done_callback(self._advance)

    async def drain(self) -> None:
        """Wait until every record in flight is acked (or a resend failed for good)."""
        while self._entries or self._repair is not None:
            if self._failure is not None:
                raise self._failure
            self._changed.clear()
            await self._changed.wait()

    def _advance(self, _: object = None) -> None:
        if self._repair is not None:
            return
        while self._entries and self._entries[0].acks.done():
            first = self._entries[0]
            if first.acks.cancelled() or first.acks.exception() is not None:
                self._repair = asyncio.get_running_loop().create_task(self._resend())
                break
            self._entries.popleft()
            self._settle(first)
        self._gauge.set(len(self._entries))
        self._changed.set()

    def _settle(self, entry: _Entry) -> None:
        self._shell.settle(entry.done)
        self._ack(entry.event)

    async def _resend(self) -> None:
        name = self._shell.stage.name
        try:
            await asyncio.gather(*(e.acks for e in self._entries), return_exceptions=True)
            first = self._entries[0].acks
            error = None if first.cancelled() else first.exception()
            log.warning(
                "%s: outputs of %d records were not acknowledged (%r); sending them again in order",
                name,
                len(self._entries),
                error,
            )
            while self._entries:
                entry = self._entries[0]
                while True:
                    try:
                        await self._shell.output.send_all(entry.done.emits, stage=name)
                        break
                    except KafkaError as exc:
                        entry.done = self._shell.refused(entry.done, exc)
                self._entries.popleft()
                self._settle(entry)
                self._gauge.set(len(self._entries))
        except BaseException as exc:  # the agent raises it at its next record
            self._failure = exc
            raise
        finally:
            self._repair = None
            self._changed.set()
