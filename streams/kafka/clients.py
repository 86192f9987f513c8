"""Producer and consumer factories with the delivery settings the contract needs.

Producers: acks=all and idempotence on (aiokafka defaults to acks=1 without idempotence,
which can lose or duplicate on broker failover). Consumers: no auto-commit; offsets are
committed by the caller after its effect is durable.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.kafka.security import aiokafka_kwargs
from streams.settings import Settings


def make_producer(settings: Settings, *, batch_bytes: int | None = None) -> AIOKafkaProducer:
    """``batch_bytes``: records per partition batch (aiokafka's default is 16 KiB, three
    pages; many concurrent senders then wait for each small batch in turn)."""
    compression = None if settings.producer_compression == "none" else "gzip"
    extra = {} if batch_bytes is None else {"max_batch_size": batch_bytes}
    return AIOKafkaProducer(
        **aiokafka_kwargs(settings),
        **extra,
        acks="all",
        enable_idempotence=True,
        linger_ms=settings.producer_linger_ms,
        compression_type=compression,
        max_request_size=settings.max_request_bytes,
        request_timeout_ms=30000,
    )


def make_consumer(
    settings: Settings, *topics: str, group: str | None, from_beginning: bool = True
) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        **aiokafka_kwargs(settings),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        max_partition_fetch_bytes=settings.max_request_bytes,
        fetch_max_bytes=2 * settings.dlq_max_message_bytes,
        isolation_level="read_uncommitted",
    )
