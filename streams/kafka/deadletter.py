"""Building a dead letter: the record that carries a failed input to `news.dlq`.

Every process that can fail on a record (crawler, backfill, worker stages, sink) builds its
dead letters here, so they all carry the same fields: stage, reason code, error text, the
original key and payload, where it came from, and which process wrote it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable

from streams.records import DeadLetter, RawPage, SourceRef
from streams.stage import Emit
from streams.topology import DLQ

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"
# `dlq replay` marks what it republishes with how often it has been replayed, so a record that
# fails again comes back with `replays` one higher and an operator can tell a loop.
REPLAYS_HEADER = "newsstream-replays"


def replays_of(headers: Iterable[tuple[str, bytes]] | None) -> int:
    """The replay count a message carries (0 when absent or unreadable)."""
    for name, value in headers or ():
        if name == REPLAYS_HEADER:
            try:
                return max(0, int(value.decode("ascii")))
            except (UnicodeDecodeError, ValueError):
                return 0
    return 0


def replay_headers(replays: int) -> tuple[tuple[str, bytes], ...]:
    return ((REPLAYS_HEADER, str(replays).encode("ascii")),)


def dead_letter(
    stage: str,
    reason: str,
    error: str,
    key: bytes | None,
    value: bytes,
    origin: SourceRef | None,
    *,
    replays: int = 0,
) -> Emit:
    letter = DeadLetter(
        stage=stage,
        reason=reason,
        error=error[:2000],
        origin=origin,
        key=key.decode("utf-8", "replace") if key is not None else None,
        payload_b64=RawPage.encode_body(value),
        worker=WORKER_NAME,
        replays=replays,
    )
    return Emit(DLQ, key or b"", letter.to_json())
