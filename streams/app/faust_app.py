"""Build the faust app: one agent per stage input topic, concurrency 1 each.

Concurrency stays 1 per agent because faust can commit past an unfinished message when an
agent runs concurrently (faust-streaming issue 606); scale with partitions and workers.
Values travel as raw bytes and are parsed inside the shell, so a malformed message becomes a
counted dead letter instead of a deserialisation error that faust would log and skip.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import faust

from streams.app.output import DurableProducer
from streams.app.shell import StageShell
from streams.records import SourceRef
from streams.settings import Settings
from streams.stages.base import Stage
from streams.stages.clean import CleanStage
from streams.stages.dedup import DedupStage
from streams.topology import BACKFILL_RAW, CLEAN, RAW, UNIQUE, Topology

log = logging.getLogger(__name__)
STAGES = ("clean", "dedup", "classify")


class NewsApp(faust.App):  # type: ignore[misc]
    """faust App that owns the durable output producer's lifetime."""

    output: DurableProducer

    async def on_start(self) -> None:
        await super().on_start()
        await self.output.start()

    async def on_shutdown(self) -> None:
        await self.output.stop()
        await super().on_shutdown()


def create_app(settings: Settings, topology: Topology, stages: Iterable[str] = STAGES) -> NewsApp:
    app = NewsApp(
        settings.consumer_group,
        broker=f"kafka://{settings.bootstrap()}",
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",  # tables are rebuilt from their changelog topics on start
        datadir=str(settings.state_dir / "faust"),
        web_enabled=False,  # /metrics is served by streams.metrics on every process
        topic_partitions=settings.topic_partitions,
        topic_disable_leader=True,
        producer_acks=-1,
        producer_max_request_size=settings.dlq_max_message_bytes + 65536,
        consumer_max_fetch_size=settings.dlq_max_message_bytes + 65536,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=100,
        broker_commit_interval=1.0,
        table_cleanup_interval=600.0,
    )
    app.output = DurableProducer(settings)
    wanted = set(stages)
    if "clean" in wanted:
        _agent(app, topology, RAW, CleanStage())
        _agent(app, topology, BACKFILL_RAW, CleanStage(), name="clean-backfill")
    if "dedup" in wanted:
        _agent(app, topology, CLEAN, _dedup_stage(app, settings, topology))
    if "classify" in wanted:
        from streams.stages.classify import ClassifyStage  # loads the model: only when used

        desks = frozenset(topology.desk_topics)
        stage = ClassifyStage(desks, settings.classify_review_threshold)
        _agent(app, topology, UNIQUE, stage)
    return app


def _dedup_stage(app: NewsApp, settings: Settings, topology: Topology) -> DedupStage:
    parts = topology[CLEAN].partitions

    def table(name: str) -> Any:
        # Keys and values go through faust's default JSON codec for tables.
        return app.Table(name, default=None, partitions=parts)

    return DedupStage.with_state(
        table("dedup-by-id"), table("dedup-by-hash"), table("dedup-by-band"),
        settings.dedup_window_s,
    )


def _agent(app: NewsApp, topology: Topology, topic: str, stage: Stage, name: str = "") -> None:
    spec = topology[topic]
    channel = app.topic(
        spec.name, key_type=bytes, value_type=bytes, partitions=spec.partitions,
        retention=spec.retention_ms / 1000, internal=False,
    )
    shell = StageShell(stage, app.output)

    async def process(stream: Any) -> None:
        async for event in stream.events():
            msg = event.message
            origin = SourceRef(topic=msg.topic, partition=msg.partition, offset=msg.offset)
            await shell.handle(event.key, event.value, origin)

    app.agent(channel, name=name or stage.name, concurrency=1)(process)
