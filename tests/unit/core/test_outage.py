"""A broker outage is said once, summarised while it lasts, and its end is said once; readiness
follows it and the client's chatter is held back and counted meanwhile."""

from __future__ import annotations

import asyncio
import logging

import pytest

from streams.health import HEALTH
from streams.infra._process import free_ports
from streams.kafka.outage import BrokerWatch, OutageFilter, OutageState, RepeatLimit, reachable


def chatter(name: str = "aiokafka.conn", level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, "Unable connect to node with id 1", (), None)


def test_outage_logged_once_summarised_and_its_end_logged(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = OutageState()
    monkeypatch.setattr("streams.kafka.outage.OUTAGE", state)
    monkeypatch.setattr("streams.kafka.outage.REPEATS", RepeatLimit())
    watch = BrokerWatch("127.0.0.1:1", component="kafka-test", summary_every_s=60, state=state)
    keep = OutageFilter()
    with caplog.at_level(logging.INFO, logger="streams.kafka.outage"):
        watch.observe(True, "127.0.0.1:1", now=0.0)
        assert HEALTH.readiness()[0]
        for second in range(0, 150, 5):  # 150 s away, probed every 5 s
            watch.observe(False, "ConnectionRefusedError", now=10.0 + second)
            assert not keep.filter(chatter())  # the client's error lines are held back
        assert keep.filter(chatter("streams.processes.sink"))  # ours are not
        ready, lines = HEALTH.readiness()
        assert not ready
        assert any("kafka-test: not ready broker unreachable for 145 s" in ln for ln in lines)
        watch.observe(True, "127.0.0.1:1", now=200.0)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("Kafka unreachable" in m for m in messages) == 1
    assert sum("still unreachable" in m for m in messages) == 2  # at 60 s and 120 s
    back = [m for m in messages if "reachable again" in m]
    assert len(back) == 1
    assert "after 190 s" in back[0]
    assert HEALTH.readiness()[0]
    assert keep.filter(chatter())  # after the outage the client speaks for itself again
    HEALTH.forget("kafka-test")


def test_reachable_says_which_server_answered_or_why_none_did() -> None:
    async def go() -> tuple[tuple[bool, str], tuple[bool, str]]:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        (closed,) = free_ports(1)
        try:
            up = await reachable(f"127.0.0.1:{closed},127.0.0.1:{port}")
            down = await reachable(f"127.0.0.1:{closed}")
        finally:
            server.close()
        return up, down

    up, down = asyncio.run(go())
    assert up[0]
    assert up[1].startswith("127.0.0.1:")
    assert not down[0]
    assert "ConnectionRefusedError" in down[1]


def test_one_dead_node_of_a_cluster_is_said_once_a_minute_with_the_count_held_back() -> None:
    now = [0.0]
    limit = RepeatLimit(every_s=60, clock=lambda: now[0])

    def line(node: int, name: str = "aiokafka") -> logging.LogRecord:
        return logging.LogRecord(
            name, logging.ERROR, __file__, 1, "Unable connect to node with id %s: %s",
            (node, "refused"), None,
        )  # fmt: skip

    passed = []
    for tick in range(1300):  # ten retries a second for 130 s, node 3 down
        now[0] = tick / 10
        record = line(3)
        if limit.allow(record):
            passed.append((now[0], record.getMessage()))
    assert [t for t, _ in passed] == [0.0, 60.0, 120.0]
    assert passed[0][1] == "Unable connect to node with id 3: refused"
    assert passed[1][1].endswith("(599 similar lines held back in the last 60 s)")
    assert limit.allow(line(2))  # another node is another line
    assert limit.allow(line(3, name="streams.processes.worker"))  # our own lines always pass
    info = logging.LogRecord("aiokafka", logging.INFO, __file__, 1, "joined", (), None)
    assert limit.allow(info)  # below WARNING: untouched
    assert limit.allow(info)
