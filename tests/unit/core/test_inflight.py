"""The agents' in-flight window: a record is acked only once its outputs and every earlier
record's are durable; a failed delivery is sent again in order; a refused output becomes a
dead letter."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

from streams.app.inflight import InFlight
from streams.app.shell import StageShell
from streams.records import DeadLetter, SourceRef
from streams.stage import Emit, StageResult

ORIGIN = SourceRef(topic="news.clean", partition=0, offset=7)


class Echo:
    """A stage that publishes its input to news.out."""

    name = "echo"

    def __call__(self, key: Any, value: bytes, origin: SourceRef) -> StageResult:
        return StageResult("new", [Emit("news.out", b"k", value)])


class Output:
    """Stands in for DurableProducer: each enqueue gets a future the test resolves."""

    def __init__(self) -> None:
        self.wire: list[bytes] = []  # values in the order the client got them
        self.pending: list[asyncio.Future[Any]] = []
        self.refuse: set[bytes] = set()

    async def enqueue(self, emits: list[Emit], *, stage: str) -> asyncio.Future[Any]:
        for e in emits:
            if e.value in self.refuse:
                raise MessageSizeTooLargeError()
            self.wire.append(e.value)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending.append(fut)
        return fut

    async def send_all(self, emits: list[Emit], *, stage: str) -> None:
        self.wire.extend(e.value for e in emits)


async def window(limit: int = 10) -> tuple[InFlight, StageShell, Output, list[str]]:
    out = Output()
    shell = StageShell(Echo(), out)  # type: ignore[arg-type]
    acked: list[str] = []
    return InFlight(shell, acked.append, limit), shell, out, acked


async def add(w: InFlight, shell: StageShell, value: bytes) -> None:
    await w.add(value.decode(), await shell.prepare(b"k", value, ORIGIN))


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_records_are_acked_in_order_once_their_outputs_and_earlier_ones_are_acked() -> None:
    w, shell, out, acked = await window()
    for v in (b"a", b"b", b"c"):
        await add(w, shell, v)
    assert out.wire == [b"a", b"b", b"c"]
    assert acked == []
    out.pending[1].set_result(None)  # b is durable, a is not: nothing may be committed
    out.pending[2].set_result(None)
    await settle()
    assert acked == []
    assert len(w) == 3
    out.pending[0].set_result(None)
    await settle()
    assert acked == ["a", "b", "c"]
    assert len(w) == 0


async def test_the_agent_waits_when_the_window_is_full() -> None:
    w, shell, out, acked = await window(limit=2)
    await add(w, shell, b"a")
    await add(w, shell, b"b")
    third = asyncio.create_task(add(w, shell, b"c"))
    await settle()
    assert not third.done()
    assert out.wire == [b"a", b"b"]
    out.pending[0].set_result(None)
    await asyncio.wait_for(third, 1)
    assert acked == ["a"]
    assert out.wire == [b"a", b"b", b"c"]


async def test_a_failed_delivery_sends_it_and_every_later_record_again_in_order() -> None:
    w, shell, out, acked = await window()
    for v in (b"a", b"b", b"c"):
        await add(w, shell, v)
    out.pending[0].set_result(None)
    out.pending[1].set_exception(KafkaTimeoutError())  # b expired in the client
    await settle()
    assert acked == ["a"]
    late = asyncio.create_task(add(w, shell, b"d"))  # waits for the resend
    await settle()
    assert not late.done()
    out.pending[2].set_result(None)  # the resend starts once everything in flight settled
    await asyncio.wait_for(late, 1)
    # b and c again, in order, before d: a repeat, as after a crash, never a reordering
    assert out.wire == [b"a", b"b", b"c", b"b", b"c", b"d"]
    assert acked == ["a", "b", "c"]
    out.pending[-1].set_result(None)
    await asyncio.wait_for(w.drain(), 1)
    assert acked == ["a", "b", "c", "d"]


async def test_an_output_the_client_refuses_becomes_a_counted_dead_letter() -> None:
    w, shell, out, acked = await window()
    out.refuse.add(b"huge")
    await add(w, shell, b"huge")
    (letter,) = out.wire
    dead = DeadLetter.from_json(letter)
    assert (dead.stage, dead.reason, dead.origin) == ("echo", "publish_failed", ORIGIN)
    out.pending[0].set_result(None)
    await asyncio.wait_for(w.drain(), 1)
    assert acked == ["huge"]
