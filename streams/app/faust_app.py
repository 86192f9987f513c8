"""Build the faust app from the stage table (``streams.topology.STAGES``): one agent per row,
concurrency 1 each, with the row's state tables; ``BUILDERS`` makes each row's stage.

Concurrency stays 1 per agent because faust can commit past an unfinished message when an
agent runs concurrently (faust-streaming issue 606); scale with partitions and workers. An
agent does not wait for one record's outputs to be acked before the next record: it acks
records itself, in order, once their outputs are durable (``streams.app.inflight``).
Values travel as raw bytes and are parsed inside the shell, so a malformed message becomes a
counted dead letter instead of a deserialisation error that faust would log and skip.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias

import faust

from streams.app.consumer import transport_for
from streams.app.inflight import InFlight
from streams.app.shell import StageShell
from streams.clean.boilerplate import TemplateLines
from streams.clean.stage import CleanStage
from streams.clean.stage import warm_up as warm_up_clean
from streams.dedup.band_step import DedupBandStage
from streams.dedup.detector import Deduplicator
from streams.dedup.gather import DedupGatherStage
from streams.dedup.stage import DedupHashStage, DedupUrlStage
from streams.kafka.deadletter import payload_limit, replays_of
from streams.kafka.lag import report_lag_forever
from streams.kafka.producer import DurableProducer
from streams.kafka.security import faust_broker_url, faust_credentials
from streams.records import SourceRef
from streams.settings import Settings
from streams.stage import Stage
from streams.topology import STAGE_GROUPS, StageSpec, Topology

log = logging.getLogger(__name__)


class ChangelogAcks:
    """Makes faust's pre-commit flush wait until every table changelog record is acked.

    Table writes go to faust's producer buffer, and faust flushes it before committing input
    offsets, but ``ProducerBuffer.flush`` returns as soon as 0.1 s pass without a message
    leaving the buffer, even with hundreds still in it ("producer buffer full" under load, ~15-20
    writes per page here: template-line counts and the dedup keys). The commit then covers
    events whose state never reached Kafka, and after a SIGKILL the next owner rebuilds tables
    without them: the chaos test saw a copy published after its original came out counted as
    new. Each buffered record is a future
    resolved on the broker's ack (or its error); flush now also waits for all of them, and an
    error propagates to the commit instead of being committed past."""

    def __init__(self, buffer: Any) -> None:
        self._unacked: set[asyncio.Future[Any]] = set()
        self._buffer_put, self._buffer_flush = buffer.put, buffer.flush
        buffer.put, buffer.flush = self.put, self.flush

    def put(self, fut: asyncio.Future[Any]) -> None:
        self._unacked.add(fut)
        fut.add_done_callback(self._unacked.discard)
        self._buffer_put(fut)

    async def flush(self) -> None:
        # The records of the events being committed are all in the set now; later ones belong
        # to later commits (waiting for those too would starve commits under steady load).
        pending = list(self._unacked)
        await self._buffer_flush()
        if pending:
            await asyncio.gather(*pending)


class NewsApp(faust.App):
    """faust App that owns the durable output producer's lifetime and consumes through
    ``streams.app.consumer`` (rebalance fixes)."""

    output: DurableProducer

    def _new_transport(self) -> Any:
        return transport_for(self)

    async def on_start(self) -> None:
        await super().on_start()
        ChangelogAcks(self.producer.buffer)
        await self.output.start()

    async def on_shutdown(self) -> None:
        await self.output.stop()
        await super().on_shutdown()


def create_app(
    settings: Settings, topology: Topology, groups: Iterable[str] = STAGE_GROUPS
) -> NewsApp:
    """The worker's app: one agent per row of the topology's stage table in ``groups``."""
    app = NewsApp(
        settings.consumer_group,
        broker=faust_broker_url(settings),
        broker_credentials=faust_credentials(settings),  # TLS/SASL, our own SSLContext
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",  # tables are rebuilt from their changelog topics on start
        datadir=str(settings.state_dir / "faust"),
        web_enabled=False,  # /metrics is served by streams.metrics on every process
        topic_partitions=settings.topic_partitions,
        topic_disable_leader=True,
        # Every topic the app uses, changelogs included, is in the topology and created before
        # faust starts (`check_topics` in the worker): faust declaring them again went through
        # a dead controller node on a cluster and crashed the worker at start.
        topic_allow_declare=False,
        producer_acks=-1,
        producer_max_request_size=settings.max_request_bytes,
        consumer_max_fetch_size=settings.max_request_bytes,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=settings.commit_every,
        broker_commit_interval=settings.commit_interval_s,
        table_cleanup_interval=600.0,
    )
    app.output = DurableProducer(settings)
    wanted = set(groups)
    rows = [row for row in topology.stages if row.group in wanted]
    if any(row.stage == "clean" for row in rows):
        warm_up_clean()  # the first page must not pay the lazy model loads (0.5-2 s)
    for row in rows:
        tables = {
            name: app.Table(name, default=None, partitions=topology[row.input].partitions)
            for name in row.tables  # keys and values go through faust's JSON codec for tables
        }
        stage = BUILDERS[row.stage](app, settings, topology, tables)
        _agent(app, topology, row, stage)
    inputs = [agent.channel.topics[0] for agent in app.agents.values()]

    async def lag_reporter() -> None:
        await report_lag_forever(settings, settings.consumer_group, inputs)

    app.task(lag_reporter)

    return app


Tables: TypeAlias = dict[str, Any]


def _clean_stage(app: NewsApp, settings: Settings, topology: Topology, tables: Tables) -> Stage:
    """Clean with per-source template lines learned into a table co-partitioned with its input
    (one table per input topic: faust requires the table's partitions to match the source's)."""
    (counts,) = tables.values()
    return CleanStage(TemplateLines(counts), check_key=True)


def _dedup_url_stage(app: NewsApp, settings: Settings, topology: Topology, tables: Tables) -> Stage:
    """The URL step: same URL and same text is a copy, changed text a revision."""
    return DedupUrlStage(
        Deduplicator(tables["dedup-url-by-id"], {}, {}, window_s=settings.dedup_window_s)
    )


def _dedup_hash_stage(
    app: NewsApp, settings: Settings, topology: Topology, tables: Tables
) -> Stage:
    """Exact copies, keyed by language and content hash; fans the rest out to the bands."""
    by_hash = tables["dedup-hash-by-hash"]
    return DedupHashStage(Deduplicator({}, by_hash, {}, window_s=settings.dedup_window_s))


def _dedup_band_stage(
    app: NewsApp, settings: Settings, topology: Topology, tables: Tables
) -> Stage:
    """The LSH band agent: the earliest articles per band key, in a table bounded by the
    dedup window."""
    return DedupBandStage(tables["dedup-band-earliest"], window_s=settings.dedup_window_s)


def _dedup_gather_stage(
    app: NewsApp, settings: Settings, topology: Topology, tables: Tables
) -> Stage:
    """Gathers each article's band verdicts; a timer sends a timeout for articles whose bands
    are late (a record in the article's partition, handled after every verdict before it)."""
    stage = DedupGatherStage(
        tables["dedup-gather-articles"],
        tables["dedup-gather-bands"],
        window_s=settings.dedup_window_s,
        timeout_s=settings.dedup_gather_timeout_s,
    )

    def partitions_moved(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        stage.forget_partitions()

    app.on_partitions_revoked.connect(partitions_moved)
    app.on_partitions_assigned.connect(partitions_moved)

    async def gather_timeouts() -> None:
        emits = stage.due()
        if emits:
            await app.output.send_all(emits, stage=stage.name)

    app.timer(interval=max(1.0, settings.dedup_gather_timeout_s / 4))(gather_timeouts)

    return stage


def _classify_stage(app: NewsApp, settings: Settings, topology: Topology, tables: Tables) -> Stage:
    """Classify with the publisher-rubric book, kept in step with news.rubrics by a task."""
    from streams.app.rubric_reader import follow_rubrics
    from streams.classify.rubrics import RubricBook
    from streams.classify.stage import ClassifyStage  # loads the model: only when used
    from streams.stories.vectors import story_vector

    book = RubricBook(settings.consumer_group)
    stage = ClassifyStage(
        frozenset(topology.desk_topics),
        settings.classify_review_threshold,
        rubrics=book,
        encoder_threads=settings.encoder_threads,
        story_vector=story_vector,  # the story stage's expensive half, sharded with classify
    )

    async def rubric_reader() -> None:
        # Its own thread and event loop: a second aiokafka consumer on faust's loop stalled a
        # partition after a rebalance in the chaos test (about one run in four; none in six
        # runs without it). The book is locked, so the stage thread and this one share it.
        threading.Thread(
            target=asyncio.run,
            args=(follow_rubrics(settings, book),),
            name="rubric-reader",
            daemon=True,
        ).start()

    app.task(rubric_reader)
    return stage


def _stories_stage(app: NewsApp, settings: Settings, topology: Topology, tables: Tables) -> Stage:
    """Story assignment on the one partition of news.stories.assign; its window is rebuilt
    from the tables after partitions move, and the biggest recent stories go to a gauge."""
    from streams.metrics import STORY_TOP
    from streams.stories import Limits
    from streams.stories.stage import StoryStage

    stage = StoryStage(
        tables["stories-members"],
        tables["stories-summaries"],
        frozenset(topology.desk_topics),
        settings.classify_review_threshold,
        limits=Limits(window_s=settings.stories_window_s),
    )

    def partitions_moved(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        stage.forget()

    app.on_partitions_revoked.connect(partitions_moved)
    app.on_partitions_assigned.connect(partitions_moved)

    async def biggest_stories() -> None:
        # Empty unless this worker handled a story record since partitions last moved: a
        # standby copy of the tables on another worker reports nothing.
        top = stage.biggest(settings.stories_top_hours)
        STORY_TOP.clear()
        for rank, s in enumerate(top, start=1):
            STORY_TOP.labels(str(rank), s.story_id, s.headline[:80]).set(s.article_count)

    app.timer(interval=30.0)(biggest_stories)
    return stage


Builder: TypeAlias = Callable[[NewsApp, Settings, Topology, Tables], Stage]
BUILDERS: dict[str, Builder] = {
    "clean": _clean_stage,
    "dedup_url": _dedup_url_stage,
    "dedup_hash": _dedup_hash_stage,
    "dedup_band": _dedup_band_stage,
    "dedup_gather": _dedup_gather_stage,
    "classify": _classify_stage,
    "stories": _stories_stage,
}


def _agent(app: NewsApp, topology: Topology, row: StageSpec, stage: Stage) -> None:
    spec = topology[row.input]
    channel = app.topic(
        spec.name,
        key_type=bytes,
        value_type=bytes,
        partitions=spec.partitions,
        retention=spec.retention_ms / 1000,
        internal=False,
    )
    settings = app.output.settings
    shell = StageShell(stage, app.output, payload_limit(settings.dlq_max_message_bytes))

    async def process(stream: Any) -> None:
        def ack(event: Any) -> None:
            # faust's Stream.ack, which has nothing to await, inlined so that it can run in
            # the done callback of the event's outputs.
            msg = event.message
            last = event.ack()
            app.sensors.on_stream_event_out(msg.tp, msg.offset, stream, event)
            if last:
                app.sensors.on_message_out(msg.tp, msg.offset, msg)

        window = InFlight(shell, ack, settings.max_in_flight)
        # Acks are ours (noack): an event is acked when its outputs and every earlier
        # event's are durable, not when the loop moves on (streams/app/inflight.py).
        async for event in stream.noack().events():
            msg = event.message
            origin = SourceRef(topic=msg.topic, partition=msg.partition, offset=msg.offset)
            replays = replays_of(event.headers.items() if event.headers else None)
            done = await shell.prepare(event.key, event.value, origin, replays=replays)
            await window.add(event, done)

    app.agent(channel, name=row.agent, concurrency=1)(process)
