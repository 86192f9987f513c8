"""Capped body reading: a gzip bomb stops at the cap without inflating in full."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import AsyncIterator

import pytest

from streams.crawl.body import BodyError, read_capped, supported_encoding

MIB = 1024 * 1024


async def _chunks(data: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def test_identity_under_cap() -> None:
    body = await read_capped(
        _chunks(b"x" * 1000), encoding="identity", max_wire=MIB, max_decoded=MIB
    )
    assert body == b"x" * 1000


async def test_wire_cap() -> None:
    with pytest.raises(BodyError) as info:
        await read_capped(
            _chunks(b"x" * (MIB + 1)), encoding="identity", max_wire=MIB, max_decoded=MIB
        )
    assert (info.value.outcome, info.value.reason) == ("too_large", "body")


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda d: zlib.compress(d)[2:-4]),  # raw deflate, as some servers send
    ],
)
async def test_decoding(encoding: str, compress: object) -> None:
    data = "Київ, 12 березня. ".encode() * 500
    assert callable(compress)
    body = await read_capped(
        _chunks(compress(data)), encoding=encoding, max_wire=MIB, max_decoded=MIB
    )
    assert body == data


async def test_gzip_bomb_stops_at_cap_with_bounded_memory() -> None:
    bomb = gzip.compress(b"\0" * (200 * MIB), compresslevel=9)  # ~200 kB on the wire
    tracemalloc.start()
    try:
        with pytest.raises(BodyError) as info:
            await read_capped(_chunks(bomb), encoding="gzip", max_wire=5 * MIB, max_decoded=5 * MIB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (info.value.outcome, info.value.reason) == ("too_large", "decompressed")
    assert peak < 20 * MIB


async def test_corrupt_gzip_is_an_error() -> None:
    with pytest.raises(BodyError) as info:
        await read_capped(
            _chunks(b"\x1f\x8bnot gzip"), encoding="gzip", max_wire=MIB, max_decoded=MIB
        )
    assert info.value.outcome == "error"


def test_supported_encodings() -> None:
    assert supported_encoding("") == "identity"
    assert supported_encoding(" GZIP ") == "gzip"
    assert supported_encoding("br") is None
    assert supported_encoding("gzip, gzip") is None
