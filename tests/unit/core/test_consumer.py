"""The worker's consumer (streams/app/consumer.py) counts the offset jumps that faust acks as
gaps, and keeps faust's handling of them."""

from __future__ import annotations

from typing import Any

from faust.types import TP

from streams.app.consumer import ObservedConsumer
from streams.app.faust_app import create_app
from streams.metrics import SKIPPED_OFFSETS
from streams.settings import load_settings
from streams.topology import CLEAN, build_topology

TP0 = TP(CLEAN, 0)


async def test_an_offset_jump_is_counted_and_acked_as_faust_does() -> None:
    settings = load_settings()
    app = create_app(settings, build_topology(settings, ()), groups=["dedup"])
    consumer: Any = app.consumer
    assert isinstance(consumer, ObservedConsumer)
    before = SKIPPED_OFFSETS.labels(CLEAN)._value.get()
    await consumer._add_gap(TP0, 251, 253)  # offset 253 read right after 250
    assert SKIPPED_OFFSETS.labels(CLEAN)._value.get() - before == 2
    assert sorted(consumer._gap[TP0]) != []  # faust's gap: committed past
