"""The worker's consumer (streams/app/consumer.py): a record beyond the offset due on an input
partition is not handed on; the partition is seeked back and read again. Only a jump that
stays after several seeks back is taken as faust's gap (counted). A commit never passes an
unacked committed offset (faust's off-by-one), and one held too long reads it again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

from streams.app import consumer as consumer_module
from streams.app.consumer import HOLD_REREAD_S, REREAD_ATTEMPTS, ObservedConsumer
from streams.app.faust_app import create_app
from streams.metrics import COMMIT_HOLDS, REREAD_JUMPS, SKIPPED_OFFSETS
from streams.settings import load_settings
from streams.topology import CLEAN, build_topology

TP0 = TP(CLEAN, 0)
TP1 = TP(CLEAN, 1)


def _message(tp: TP, offset: int) -> Message:
    return Message(tp.topic, tp.partition, offset, 0.0, 0, None, b"k", b"v", None, tp=tp)


@pytest.fixture
def consumer(monkeypatch: pytest.MonkeyPatch) -> Any:
    settings = load_settings()
    app = create_app(settings, build_topology(settings, ()), groups=["dedup"])
    assert isinstance(app.consumer, ObservedConsumer)
    out: Any = app.consumer
    out.seeks = []

    async def seek(tp: TP, offset: int) -> None:
        out.seeks.append((tp, offset))

    monkeypatch.setattr(out, "_seek", seek)
    monkeypatch.setattr(out.app.topics, "acks_enabled_for", lambda topic: topic == CLEAN)
    return out


def _batches(monkeypatch: pytest.MonkeyPatch, batches: list[list[tuple[TP, int]]]) -> None:
    """faust's getmany hands on these batches, one per call."""

    async def getmany(self: Any, timeout: float) -> AsyncIterator[tuple[TP, Message]]:  # noqa: ASYNC109
        for tp, offset in batches.pop(0):
            yield tp, _message(tp, offset)

    monkeypatch.setattr(faust_aiokafka.Consumer, "getmany", getmany)


async def _read(consumer: Any) -> list[tuple[TP, int]]:
    return [(tp, m.offset) async for tp, m in consumer.getmany(1.0)]


async def test_a_stale_batch_after_a_seek_is_read_again_not_skipped(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer._expect(TP0, 250)  # a seek to the committed offset 250
    _batches(
        monkeypatch,
        [
            [(TP0, 253), (TP1, 7), (TP0, 254)],  # fetched before the seek
            [(TP0, 250), (TP0, 251), (TP0, 252), (TP0, 253)],  # read again from 250
        ],
    )
    before = REREAD_JUMPS.labels(CLEAN)._value.get()
    assert await _read(consumer) == [(TP1, 7)]  # 253 and the rest of TP0's batch held back
    assert consumer.seeks == [(TP0, 250)]
    assert REREAD_JUMPS.labels(CLEAN)._value.get() - before == 1
    assert await _read(consumer) == [(TP0, 250), (TP0, 251), (TP0, 252), (TP0, 253)]
    assert consumer._next_offset[TP0] == 254


async def test_records_in_order_and_repeats_pass(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer._expect(TP0, 10)
    _batches(monkeypatch, [[(TP0, 10), (TP0, 11), (TP0, 11), (TP0, 9), (TP0, 12)]])
    assert [o for _, o in await _read(consumer)] == [10, 11, 11, 9, 12]  # faust drops repeats
    assert consumer.seeks == []


async def test_a_jump_that_stays_is_taken_as_a_gap_after_the_attempts(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer._expect(TP0, 5)  # offsets 5-7 deleted by retention under the committed offset
    _batches(monkeypatch, [[(TP0, 8)] for _ in range(REREAD_ATTEMPTS + 1)])
    for _ in range(REREAD_ATTEMPTS):
        assert await _read(consumer) == []
    before = SKIPPED_OFFSETS.labels(CLEAN)._value.get()
    assert await _read(consumer) == [(TP0, 8)]
    assert consumer.seeks == [(TP0, 5)] * REREAD_ATTEMPTS
    assert SKIPPED_OFFSETS.labels(CLEAN)._value.get() - before == 3  # 5, 6 and 7
    assert consumer._read_offset[TP0] == 7  # faust's own check adds no second gap
    consumer._committed_offset[TP0] = 5
    consumer._acked[TP0] = [8]
    assert consumer._new_offset(TP0) == 9  # the commit passes the gap, 5 included


async def test_changelogs_and_unseeked_partitions_are_left_to_faust(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    changelog = TP("x-changelog", 0)  # compacted: gaps are normal there, acks disabled
    consumer._expect(changelog, 3)
    consumer._expect(TP1, 0)  # no committed offset: nothing due
    _batches(monkeypatch, [[(changelog, 9), (TP1, 40)]])
    assert await _read(consumer) == [(changelog, 9), (TP1, 40)]
    assert consumer.seeks == []


async def test_the_seek_to_committed_offsets_sets_what_is_due(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer._expect(TP1, 42)  # read up to 41 before the rebalance

    async def seek_to_committed(self: Any) -> dict[TP, int | None]:
        return {TP0: 250, TP1: None}  # every assigned partition; TP1 has no committed offset

    monkeypatch.setattr(faust_aiokafka.Consumer, "seek_to_committed", seek_to_committed)
    assert await consumer.seek_to_committed() == {TP0: 250, TP1: None}
    assert consumer._next_offset == {TP0: 250}  # TP1: where reading starts is the reset policy's


async def test_a_revoked_partition_forgets_its_due_offset(consumer: Any) -> None:
    consumer._expect(TP0, 30)
    consumer._rereads[TP0] = (30, 1)
    await consumer.on_partitions_revoked({TP0})
    assert TP0 not in consumer._next_offset
    assert TP0 not in consumer._rereads


def _acked(consumer: Any, tp: TP, committed: int | None, offsets: list[int]) -> None:
    consumer._committed_offset[tp] = committed
    consumer._acked[tp] = list(offsets)
    consumer._acked_index[tp] = set(offsets)


def test_the_commit_waits_for_the_committed_offset_faust_would_pass(consumer: Any) -> None:
    _acked(consumer, TP0, 10, [11, 12])  # 10 never acked: faust itself would commit 13
    before = COMMIT_HOLDS.labels(CLEAN)._value.get()
    assert consumer._new_offset(TP0) is None
    assert COMMIT_HOLDS.labels(CLEAN)._value.get() - before == 1
    consumer._acked[TP0].append(10)
    assert consumer._new_offset(TP0) == 13
    _acked(consumer, TP1, 0, [1, 2])  # faust skips its check when the committed offset is 0
    assert consumer._new_offset(TP1) is None
    _acked(consumer, TP1, None, [5, 6])  # nothing committed yet: faust's rule
    assert consumer._new_offset(TP1) == 7


async def test_a_commit_held_too_long_reads_the_partition_again(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(consumer_module.time, "monotonic", lambda: now[0])
    _acked(consumer, TP0, 40, [41, 42, 43])
    assert consumer._new_offset(TP0) is None
    now[0] += HOLD_REREAD_S - 1
    assert consumer._new_offset(TP0) is None
    assert consumer.seeks == []
    now[0] += 1
    assert consumer._new_offset(TP0) is None
    await asyncio.sleep(0)
    assert consumer.seeks == [(TP0, 40)]
    assert consumer._next_offset[TP0] == 40
    assert consumer._read_offset[TP0] == 40


async def test_negative_offsets_from_table_recovery_seek_to_the_start(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    got: list[dict[TP, int]] = []

    async def seek_wait(self: Any, partitions: dict[TP, int]) -> None:
        got.append(dict(partitions))

    monkeypatch.setattr(faust_aiokafka.Consumer, "seek_wait", seek_wait)
    changelog = TP("x-changelog", 1)
    other = TP("y-changelog", 0)
    await consumer.seek_wait({changelog: -2, other: None, TP1: 7})  # aiokafka's seek raises
    assert got == [{changelog: 0, other: 0, TP1: 7}]
