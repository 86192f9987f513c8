"""Reading a response body under hard caps on wire bytes and decompressed bytes.

aiohttp is run with ``auto_decompress=False`` so that we see the raw stream and decompress it
ourselves, a bounded slice at a time: a gzip bomb (a few kB that expand to gigabytes) stops at
the cap instead of filling memory.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from typing import Literal

# Read size per step: small enough that the cap overshoots by little, big enough to be cheap.
CHUNK_SIZE = 64 * 1024
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_DEFLATE_WBITS = -zlib.MAX_WBITS


class BodyError(Exception):
    """The body could not be read within policy; ``outcome`` and ``reason`` describe why."""

    def __init__(self, outcome: Literal["too_large", "error"], reason: str) -> None:
        super().__init__(f"{outcome}: {reason}")
        self.outcome = outcome
        self.reason = reason


class _Sink:
    """Collects decoded bytes and refuses to grow past ``limit``."""

    def __init__(self, encoding: str, limit: int) -> None:
        self._encoding = encoding
        self._limit = limit
        self._out = bytearray()
        self._decoder: zlib._Decompress | None = None
        if encoding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(_GZIP_WBITS)

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        if self._encoding == "deflate" and self._decoder is None:
            # "deflate" means zlib-wrapped data per RFC 9110, but some servers send raw
            # deflate; the zlib header (CMF/FLG pair divisible by 31) tells them apart.
            wrapped = len(chunk) >= 2 and chunk[0] & 0x0F == 8
            wrapped = wrapped and (chunk[0] << 8 | chunk[1]) % 31 == 0
            self._decoder = zlib.decompressobj(_ZLIB_WBITS if wrapped else _RAW_DEFLATE_WBITS)
        if self._decoder is None:
            self._append(chunk)
            return
        data = chunk
        while data:
            # max_length keeps each step bounded; leftover input waits in unconsumed_tail.
            self._append(self._decoder.decompress(data, self._limit - len(self._out) + 1))
            data = self._decoder.unconsumed_tail

    def _append(self, piece: bytes) -> None:
        if len(self._out) + len(piece) > self._limit:
            raise BodyError("too_large", "decompressed" if self._decoder else "body")
        self._out += piece

    def result(self) -> bytes:
        return bytes(self._out)


def supported_encoding(content_encoding: str) -> str | None:
    """Normalised encoding name if we can decode it, else None (we only advertise these)."""
    value = content_encoding.strip().lower()
    if value in ("", "identity"):
        return "identity"
    if value in ("gzip", "x-gzip", "deflate"):
        return value
    return None


async def read_capped(
    chunks: AsyncIterator[bytes], *, encoding: str, max_wire: int, max_decoded: int
) -> bytes:
    """Read ``chunks`` into memory, raising BodyError as soon as either cap is exceeded."""
    sink = _Sink(encoding, max_decoded)
    wire = 0
    try:
        async for chunk in chunks:
            wire += len(chunk)
            if wire > max_wire:
                raise BodyError("too_large", "body")
            sink.feed(chunk)
    except zlib.error as exc:
        raise BodyError("error", f"decompress: {exc}") from exc
    return sink.result()
