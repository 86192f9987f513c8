"""The map of the stream: every topic, its key, layout and limits, and who reads/writes it.

Read this module first. ``STAGES`` is the stage table: which topic each worker stage reads,
what it writes and which state tables it keeps. ``build_topology`` derives every topic's
readers and writers from it (plus the processes outside the worker: crawler, backfill, sink),
creates each table's changelog topic, and ``create_app`` registers one agent per row. The flow,
as ``render_flow`` prints it (``newsstream topics flow``; a test keeps this text, the README
and docs/architecture.md equal to it)::

    sources         writes news.sources
    crawl           reads  news.sources, news.crawl.frontier, news.crawl.state
                    writes news.raw, news.dlq, news.crawl.frontier, news.crawl.state
    replay          writes news.backfill.raw, news.dlq
    clean           reads  news.raw, news.backfill.raw
                    writes news.clean, news.dlq
                    state  clean-template-lines-news-raw, clean-template-lines-news-backfill-raw
    dedup_url       reads  news.clean
                    writes news.dedup.hash, news.duplicates, news.dlq
                    state  dedup-url-by-id
    dedup_hash      reads  news.dedup.hash
                    writes news.dedup.bands, news.dedup.gather, news.unique, news.duplicates,
                           news.dlq
                    state  dedup-hash-by-hash
    dedup_band      reads  news.dedup.bands
                    writes news.dedup.gather, news.dlq
                    state  dedup-band-earliest
    dedup_gather    reads  news.dedup.gather
                    writes news.dedup.hash, news.dedup.gather, news.unique, news.duplicates,
                           news.dlq
                    state  dedup-gather-articles, dedup-gather-bands
    classify        reads  news.unique, news.rubrics
                    writes news.stories.assign, news.rubrics, news.dlq
    stories         reads  news.stories.assign
                    writes news.articles, news.review, news.stories, news.dlq, news.topic.<desk>
                    state  stories-members, stories-summaries
    sink            reads  news.articles, news.duplicates, news.stories
                    writes news.dlq
    downstream      reads  news.articles, news.review, news.duplicates, news.stories,
                           news.topic.<desk>
    editor          writes news.corrections
    classify-train  reads  news.corrections
    operator        reads  news.dlq
Keys are the article id (hash of the canonical URL), so every version of one URL lands on one
partition and is processed in order by one worker. Exceptions: ``news.dedup.hash`` is keyed
by language and content hash and ``news.dedup.bands`` by language and LSH band, so copies of a
text meet in one partition whichever partition their URLs hashed to, and no language is
pinned to one partition (see streams/dedup/README.md). Desk topics come from the taxonomy
file, so an operator adding a topic there gets its Kafka topic on the next ``topics create``
(or worker start).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from streams.settings import Settings

RAW = "news.raw"
BACKFILL_RAW = "news.backfill.raw"
FRONTIER = "news.crawl.frontier"
CRAWL_STATE = "news.crawl.state"
CLEAN = "news.clean"
DEDUP_HASH = "news.dedup.hash"
DEDUP_BANDS = "news.dedup.bands"
DEDUP_GATHER = "news.dedup.gather"
UNIQUE = "news.unique"
ARTICLES = "news.articles"
REVIEW = "news.review"
DUPLICATES = "news.duplicates"
DLQ = "news.dlq"
CORRECTIONS = "news.corrections"
RUBRICS = "news.rubrics"
SOURCES = "news.sources"
STORIES_ASSIGN = "news.stories.assign"
STORIES = "news.stories"
DESK_PREFIX = "news.topic."

DAY_MS = 24 * 3600 * 1000
MIB = 1024 * 1024


@dataclass(frozen=True)
class TopicSpec:
    """One Kafka topic as the project expects it on the broker."""

    name: str
    value: str  # record type carried (schemas/<value>.json)
    description: str
    partitions: int
    retention_ms: int
    max_message_bytes: int
    compact: bool = False
    # With ``compact``: False keeps the latest value of every key for ever (no retention
    # deletes); for topics that are state, such as news.sources.
    delete: bool = True
    producers: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()
    key: str = "article id (hex sha256 prefix of the canonical URL)"
    internal: bool = False  # a state changelog: not part of the published contract (AsyncAPI)
    # Per environment (Settings.topic_replication_factor / topic_min_insync_replicas): 1 and 1
    # on one broker, 3 and 2 on a cluster. Producers write with acks=all, so an acknowledged
    # record is on min_insync_replicas brokers.
    replication_factor: int = 1
    min_insync_replicas: int = 1

    def cleanup_policy(self) -> list[str]:
        """The topic's ``cleanup.policy`` values."""
        if not self.compact:
            return ["delete"]
        return ["compact", "delete"] if self.delete else ["compact"]

    def configs(self) -> dict[str, str]:
        """Topic-level broker configs (what ``topics create`` sets)."""
        return {
            "cleanup.policy": ",".join(self.cleanup_policy()),
            "retention.ms": str(self.retention_ms),
            "max.message.bytes": str(self.max_message_bytes),
            "min.insync.replicas": str(self.min_insync_replicas),
        }


@dataclass(frozen=True)
class StageSpec:
    """One row of the stage table: a faust agent on one input topic, in flow order."""

    agent: str  # the faust agent's name (unique)
    stage: str  # the stage's name: metric label, dead-letter stage, topic reader/writer
    group: str  # what `newsstream worker --stages` selects
    input: str
    outputs: tuple[str, ...]
    tables: tuple[str, ...] = ()  # state, co-partitioned with the input; one changelog each
    reads: tuple[str, ...] = ()  # topics followed besides the input (not by the agent)


FLOW_WIDTH = 96  # the flow text's lines, indented in this docstring, stay within 100
DESKS = DESK_PREFIX + "<desk>"  # stands for every desk topic of the taxonomy
STAGES: tuple[StageSpec, ...] = (
    StageSpec(
        "clean", "clean", "clean", RAW, (CLEAN, "news.dlq"), ("clean-template-lines-news-raw",)
    ),
    StageSpec(
        "clean-backfill",
        "clean",
        "clean",
        BACKFILL_RAW,
        (CLEAN, "news.dlq"),
        ("clean-template-lines-news-backfill-raw",),
    ),
    StageSpec(
        "dedup_url",
        "dedup_url",
        "dedup",
        CLEAN,
        (DEDUP_HASH, DUPLICATES, "news.dlq"),
        ("dedup-url-by-id",),
    ),
    StageSpec(
        "dedup_hash",
        "dedup_hash",
        "dedup",
        DEDUP_HASH,
        (DEDUP_GATHER, DEDUP_BANDS, UNIQUE, DUPLICATES, "news.dlq"),
        ("dedup-hash-by-hash",),
    ),
    StageSpec(
        "dedup_band",
        "dedup_band",
        "dedup",
        DEDUP_BANDS,
        (DEDUP_GATHER, "news.dlq"),
        ("dedup-band-earliest",),
    ),
    StageSpec(
        "dedup_gather",
        "dedup_gather",
        "dedup",
        DEDUP_GATHER,
        # news.dedup.gather: timeouts, from its timer; news.dedup.hash: a copy's fate
        (DEDUP_HASH, UNIQUE, DUPLICATES, DEDUP_GATHER, "news.dlq"),
        ("dedup-gather-articles", "dedup-gather-bands"),
    ),
    StageSpec(
        "classify",
        "classify",
        "classify",
        UNIQUE,
        (STORIES_ASSIGN, RUBRICS, "news.dlq"),
        reads=(RUBRICS,),
    ),
    # One partition: every article meets every earlier one, in one order (docs/stories.md,
    # "Part 2": assign costs ~1 ms, so one owner keeps up with any number of classify workers).
    StageSpec(
        "stories",
        "stories",
        "stories",
        STORIES_ASSIGN,
        (ARTICLES, DESKS, REVIEW, STORIES, "news.dlq"),
        ("stories-members", "stories-summaries"),
    ),
)
STAGE_GROUPS = tuple(dict.fromkeys(s.group for s in STAGES))
# Who else reads and writes, in flow order: processes outside the worker, and people.
OUTSIDE_ORDER = ("sources", "crawl", "replay")
AFTER_ORDER = ("sink", "downstream", "editor", "classify-train", "operator")


@dataclass(frozen=True)
class Topology:
    topics: dict[str, TopicSpec] = field(default_factory=dict)
    desk_topics: tuple[str, ...] = ()
    stages: tuple[StageSpec, ...] = STAGES
    consumer_group: str = "newsstream"

    def __iter__(self) -> Iterator[TopicSpec]:
        return iter(self.topics.values())

    def __getitem__(self, name: str) -> TopicSpec:
        return self.topics[name]

    def outputs(self, stage: StageSpec) -> tuple[str, ...]:
        """The stage's output topics, with the desk placeholder expanded."""
        out: list[str] = []
        for name in stage.outputs:
            out += [desk_topic_name(d) for d in self.desk_topics] if name == DESKS else [name]
        return tuple(out)

    def changelog(self, table: str) -> str:
        """The changelog topic faust writes for a table of this consumer group."""
        return changelog_topic(self.consumer_group, table)

    def public(self) -> list[TopicSpec]:
        """The topics of the published contract (no state changelogs)."""
        return [t for t in self if not t.internal]


def changelog_topic(group: str, table: str) -> str:
    return f"{group}-{table}-changelog"


def desk_topic_name(topic: str) -> str:
    return DESK_PREFIX + topic


def build_topology(settings: Settings, desk_topics: Iterable[str]) -> Topology:
    """All topics for these settings and this taxonomy."""
    parts, keep = settings.topic_partitions, settings.topic_retention_ms
    replicas = _replicas(settings)
    size = settings.topic_max_message_bytes

    def spec(name: str, value: str, description: str, **kw: object) -> TopicSpec:
        args: dict[str, object] = {"partitions": parts, "retention_ms": keep} | replicas
        args |= {"max_message_bytes": size} | kw
        return TopicSpec(name=name, value=value, description=description, **args)  # type: ignore[arg-type]

    specs = [
        spec(
            SOURCES,
            "Source",
            "the sources the crawler polls, managed live by `newsstream sources`; a tombstone"
            " removes one",
            key="source id",
            producers=("sources",),
            consumers=("crawl",),
            # One partition: a few thousand small records, read whole by every crawler replica.
            partitions=1,
            compact=True,
            delete=False,
            retention_ms=-1,
            max_message_bytes=MIB,
        ),
        spec(
            RAW,
            "RawPage",
            "pages fetched by the live crawler",
            producers=("crawl",),
        ),
        spec(
            BACKFILL_RAW,
            "RawPage",
            "replayed pages (WARC, directories); off the live path",
            producers=("replay",),
            retention_ms=3 * DAY_MS,
        ),
        spec(
            CLEAN,
            "Article",
            "cleaned articles before deduplication",
        ),
        spec(
            DEDUP_HASH,
            "Article | DuplicateEvent",
            "articles past the URL check, re-keyed for the exact-copy check; and the"
            " near-duplicate decisions about the first article with a text",
            key="language|content hash (language 'und' when unknown)",
            retention_ms=DAY_MS,
        ),
        spec(
            DEDUP_BANDS,
            "BandProbe",
            "one record per LSH band of an article that is not an exact copy",
            key="language|band key (band number and its two MinHash rows, hex)",
            retention_ms=DAY_MS,
        ),
        spec(
            DEDUP_GATHER,
            "PendingArticle | BandVerdict | GatherTimeout | OriginalQuery | OriginalReply",
            "articles waiting for their bands' verdicts, the verdicts, timeouts, and what"
            " became of a later-fetched match (query and reply)",
            retention_ms=DAY_MS,
        ),
        spec(
            UNIQUE,
            "Article",
            "first versions and revisions (no duplicates)",
        ),
        spec(
            STORIES_ASSIGN,
            "StoryRequest",
            "classified articles with their story vectors, waiting for their story",
            # One partition on purpose: the story stage's state is one window over all
            # articles (docs/stories.md, "Part 2: the stage").
            partitions=1,
        ),
        spec(
            ARTICLES,
            "ClassifiedArticle",
            "every classified article; compacted per id",
            consumers=("sink", "downstream"),
            compact=True,
            retention_ms=30 * DAY_MS,
        ),
        spec(
            REVIEW,
            "ClassifiedArticle",
            "low-confidence or unclassifiable articles",
            consumers=("downstream",),
            retention_ms=30 * DAY_MS,
        ),
        spec(
            DUPLICATES,
            "DuplicateEvent",
            "copies recognised by dedup, naming the original",
            consumers=("sink", "downstream"),
            retention_ms=30 * DAY_MS,
        ),
        spec(
            STORIES,
            "StorySummary",
            "each story's latest summary (headline, first/last seen, languages, outlets, size,"
            " desks, representative article, revision); compacted per story",
            key="story id (the id of the story's first article)",
            consumers=("sink", "downstream"),
            compact=True,
            retention_ms=30 * DAY_MS,
        ),
        spec(
            CORRECTIONS,
            "Correction",
            "editors' topic corrections; training input, kept",
            producers=("editor",),
            consumers=("classify-train",),
            compact=True,
            retention_ms=-1,
        ),
        spec(
            RUBRICS,
            "RubricStats",
            "per-source rubric -> desk evidence, one total per worker",
            compact=True,
            key="source id|rubric|writer",
            retention_ms=90 * DAY_MS,
        ),
        spec(
            DLQ,
            "DeadLetter",
            "records a stage could not process, replayable",
            producers=("crawl", "replay", "sink"),
            consumers=("operator",),
            retention_ms=30 * DAY_MS,
            max_message_bytes=settings.dlq_max_message_bytes,
        ),
        spec(
            FRONTIER,
            "FrontierItem",
            "article URLs listed by a source, for the crawler replica that owns their host",
            producers=("crawl",),
            consumers=("crawl",),
            key="host[:port] of the URL (all of one host's fetches in one replica)",
            partitions=settings.crawl_partitions,
            max_message_bytes=1024 * 1024,  # one URL and its listing facts
        ),
        spec(
            CRAWL_STATE,
            "CrawlState",
            "the crawler's memory (seen URLs and validators, source schedules, robots.txt,"
            " host backoff), read back by the replica assigned the matching frontier partition",
            producers=("crawl",),
            consumers=("crawl",),
            key="entry|host|name; partition = the frontier partition of host",
            partitions=settings.crawl_partitions,
            compact=True,
            retention_ms=31 * DAY_MS,  # the seen-set forgets a URL after 30 days unfetched
            max_message_bytes=settings.topic_max_message_bytes,
        ),
    ]
    desks = tuple(desk_topics)
    specs += [
        spec(
            desk_topic_name(t),
            "ClassifiedArticle",
            f"articles classified as {t}",
            consumers=("downstream",),
            compact=True,
            retention_ms=30 * DAY_MS,
        )
        for t in desks
    ]
    topology = Topology(
        topics={s.name: s for s in specs},
        desk_topics=desks,
        consumer_group=settings.consumer_group,
    )
    return _with_stages(topology, settings)


def _with_stages(topology: Topology, settings: Settings) -> Topology:
    """Add each stage as reader of its inputs and writer of its outputs, and its changelogs."""
    topics = dict(topology.topics)

    def add(name: str, *, producer: str = "", consumer: str = "") -> None:
        spec = topics[name]
        producers = spec.producers + ((producer,) if producer not in ("", *spec.producers) else ())
        consumers = spec.consumers + ((consumer,) if consumer not in ("", *spec.consumers) else ())
        topics[name] = replace(spec, producers=producers, consumers=consumers)

    for stage in topology.stages:
        for name in (stage.input, *stage.reads):
            add(name, consumer=stage.stage)
        for name in topology.outputs(stage):
            add(name, producer=stage.stage)
        for table in stage.tables:
            name = topology.changelog(table)
            topics[name] = TopicSpec(
                name=name,
                value="changelog",
                description=f"faust changelog of the {stage.stage} table {table}",
                partitions=topics[stage.input].partitions,  # co-partitioned with the input
                retention_ms=-1,  # state must not age out
                max_message_bytes=settings.topic_max_message_bytes,
                compact=True,
                replication_factor=settings.topic_replication_factor,
                min_insync_replicas=settings.topic_min_insync_replicas,
                producers=(stage.stage,),
                consumers=(stage.stage,),
                key="table key",
                internal=True,
            )
    return replace(topology, topics=topics)


def _replicas(settings: Settings) -> dict[str, object]:
    return {
        "replication_factor": settings.topic_replication_factor,
        "min_insync_replicas": settings.topic_min_insync_replicas,
    }


def _roles(topology: Topology) -> list[str]:
    stages = [s.stage for s in topology.stages]
    known = [*OUTSIDE_ORDER, *stages, *AFTER_ORDER]
    others = {r for t in topology for r in (*t.producers, *t.consumers)} - set(known)
    return list(dict.fromkeys(known)) + sorted(others)


def render_flow(topology: Topology) -> str:
    """The flow as text, one line per reader/writer in flow order (desk topics folded)."""

    def fold(names: Iterable[str]) -> str:
        out = [DESKS if n.startswith(DESK_PREFIX) else n for n in names]
        return ", ".join(dict.fromkeys(out)) or "-"

    public = topology.public()
    width = max(len(r) for r in _roles(topology)) + 2
    lines: list[str] = []
    for role in _roles(topology):
        facts = [
            ("reads", fold(t.name for t in public if role in t.consumers)),
            ("writes", fold(t.name for t in public if role in t.producers)),
            ("state", ", ".join(t for s in topology.stages if s.stage == role for t in s.tables)),
        ]
        facts = [(k, v) for k, v in facts if v and v != "-"]
        for i, (what, names) in enumerate(facts):
            head = f"    {(role if i == 0 else '').ljust(width)}{what.ljust(7)}"
            lines += _wrap(head, names.split(", "))
    return "\n".join(lines)


def _wrap(head: str, names: list[str], limit: int = FLOW_WIDTH) -> list[str]:
    """``head`` and the names, continued on lines indented as far as ``head`` within ``limit``
    characters (the flow is quoted in this module's docstring)."""
    lines = [head + names[0]]
    for name in names[1:]:
        if len(lines[-1]) + len(name) + 2 > limit:
            lines[-1] += ","
            lines.append(" " * len(head) + name)
        else:
            lines[-1] += ", " + name
    return lines
