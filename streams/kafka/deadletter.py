"""Building a dead letter: the record that carries a failed input to `news.dlq`.

Every process that can fail on a record (crawler, backfill, worker stages, sink) builds its
dead letters here, so they all carry the same fields: stage, reason code, error text, the
original key and payload, where it came from, and which process wrote it.
"""

from __future__ import annotations

import hashlib
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


# What a letter needs besides its payload: the error text (cut at 2,000 characters), the key,
# the origin and the other fields, with room to spare.
LETTER_ENVELOPE_BYTES = 64 * 1024


def payload_limit(dlq_max_message_bytes: int) -> int:
    """The largest original value a dead letter wraps whole: base64 grows it by 4/3, and the
    letter must stay under the DLQ topic's and the producer's maximum message size."""
    return max(1024, (dlq_max_message_bytes - LETTER_ENVELOPE_BYTES) * 3 // 4)


DEFAULT_PAYLOAD_LIMIT = payload_limit(16 * 1024 * 1024)  # the default dlq_max_message_bytes


def dead_letter(
    stage: str,
    reason: str,
    error: str,
    key: bytes | None,
    value: bytes,
    origin: SourceRef | None,
    *,
    replays: int = 0,
    max_payload: int = DEFAULT_PAYLOAD_LIMIT,
) -> Emit:
    """A dead letter that always fits the DLQ topic: a value over ``max_payload`` is kept as a
    prefix with its whole size and sha256, and the letter says it was truncated."""
    truncated = len(value) > max_payload
    letter = DeadLetter(
        stage=stage,
        reason=reason,
        error=error[:2000],
        origin=origin,
        key=key.decode("utf-8", "replace") if key is not None else None,
        payload_b64=RawPage.encode_body(value[:max_payload] if truncated else value),
        payload_size=len(value),
        payload_sha256=hashlib.sha256(value).hexdigest(),
        payload_truncated=truncated,
        worker=WORKER_NAME,
        replays=replays,
    )
    return Emit(DLQ, key or b"", letter.to_json())
