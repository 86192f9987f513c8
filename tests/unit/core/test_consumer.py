"""The worker's consumer (streams/app/consumer.py): a record fetched under an earlier
generation marks no offset, and an offset jump on an input is counted, not acked, and makes
the worker rejoin its group. (The seek itself needs a broker: the chaos tests run it.)"""

from __future__ import annotations

from typing import Any

import pytest
from faust.types import TP
from faust.types.tuples import Message

from streams.app.consumer import SafeSeekConsumer, _ConsumerThread
from streams.app.faust_app import create_app
from streams.metrics import SKIPPED_OFFSETS
from streams.settings import load_settings
from streams.topology import CLEAN, build_topology

TP0 = TP(CLEAN, 0)


@pytest.fixture
def consumer() -> Any:
    settings = load_settings()
    app = create_app(settings, build_topology(settings, ()), groups=["dedup"])
    app.topics._acking_topics.add(CLEAN)  # type: ignore[attr-defined]  # as subscribing does
    app.consumer_generation_id = 5
    consumer = app.consumer
    assert isinstance(consumer, SafeSeekConsumer)
    return consumer


def message(offset: int, generation: int) -> Message:
    return Message(CLEAN, 0, offset, 0.0, 0, None, b"k", b"v", None, tp=TP0,
                   generation_id=generation)  # fmt: skip


def test_only_records_of_the_current_generation_mark_their_offset(consumer: Any) -> None:
    stale, fresh = message(10, generation=4), message(11, generation=5)
    consumer._unacked_messages.update({stale, fresh})
    assert consumer.ack(stale) is False
    assert stale.acked  # done with, so a rebalance does not wait for it
    assert stale not in consumer._unacked_messages
    assert consumer.ack(fresh) is True
    assert list(consumer._acked[TP0]) == [11]  # 10 is read again after the seek


async def test_an_offset_jump_is_counted_not_acked_and_the_worker_rejoins(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rejoins: list[str] = []

    async def call_thread(fun: Any) -> None:
        rejoins.append(fun.__name__)

    monkeypatch.setattr(_ConsumerThread, "call_thread", lambda self, fun: call_thread(fun))
    before = SKIPPED_OFFSETS.labels(CLEAN)._value.get()
    await consumer._add_gap(TP0, 251, 253)  # records 251 and 252 never reached the stream
    assert SKIPPED_OFFSETS.labels(CLEAN)._value.get() - before == 2
    assert not consumer._gap[TP0]  # faust would have acked 251-253 here
    assert rejoins == ["request_rejoin"]
