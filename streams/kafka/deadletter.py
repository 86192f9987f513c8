"""Building a dead letter: the record that carries a failed input to `news.dlq`.

Every process that can fail on a record (crawler, backfill, worker stages, sink) builds its
dead letters here, so they all carry the same fields: stage, reason code, error text, the
original key and payload, where it came from, and which process wrote it.
"""

from __future__ import annotations

import os
import socket

from streams.records import DeadLetter, RawPage, SourceRef
from streams.stage import Emit
from streams.topology import DLQ

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"


def dead_letter(
    stage: str, reason: str, error: str, key: bytes | None, value: bytes, origin: SourceRef | None
) -> Emit:
    letter = DeadLetter(
        stage=stage,
        reason=reason,
        error=error[:2000],
        origin=origin,
        key=key.decode("utf-8", "replace") if key is not None else None,
        payload_b64=RawPage.encode_body(value),
        worker=WORKER_NAME,
    )
    return Emit(DLQ, key or b"", letter.to_json())
