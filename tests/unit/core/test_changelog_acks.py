"""faust's pre-commit flush must not return before every table changelog record is acked."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.app.faust_app import ChangelogAcks


class Buffer:
    """faust's ProducerBuffer as far as ChangelogAcks uses it: flush gives up early."""

    def __init__(self) -> None:
        self.queued: list[asyncio.Future[Any]] = []

    def put(self, fut: asyncio.Future[Any]) -> None:
        self.queued.append(fut)

    async def flush(self) -> None:
        return  # like ProducerBuffer.flush after 0.1 s without a message sent


async def test_flush_waits_for_the_acks_of_records_buffered_before_it() -> None:
    buffer = Buffer()
    ChangelogAcks(buffer)
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()
    buffer.put(first)
    buffer.put(second)
    assert buffer.queued == [first, second]  # still handed to faust's buffer
    flush = asyncio.ensure_future(buffer.flush())
    await asyncio.sleep(0.05)
    first.set_result("acked")
    await asyncio.sleep(0.05)
    assert not flush.done()  # the second record is not acked yet: no commit
    later = loop.create_future()
    buffer.put(later)  # a later event's write does not hold this commit back
    second.set_result("acked")
    await asyncio.wait_for(flush, 1)
    later.set_result("acked")


async def test_a_failed_changelog_write_fails_the_flush_instead_of_being_committed_past() -> None:
    buffer = Buffer()
    ChangelogAcks(buffer)
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    buffer.put(fut)
    fut.set_exception(RuntimeError("message too large"))
    with pytest.raises(RuntimeError):
        await buffer.flush()
