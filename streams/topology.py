"""The map of the stream: every topic, its key, layout and limits, and who reads/writes it.

Read this module first. The flow, in order::

    crawl ──► news.raw ─────────┐
    replay ─► news.backfill.raw ┴► clean ──► news.clean ──► dedup_url ──► news.dedup.content
    news.dedup.content ──► dedup_content ──┬► news.unique ──► classify
                 (same-URL copies from both dedup steps) └► news.duplicates
    classify/route ──► news.articles (all) + news.topic.<topic> (each topic) + news.review
    classify ◄─► news.rubrics (what each publisher's sections mean, learned; read by all)
    editors ──► news.corrections ──► `corrections pull` ──► the next `classify-train`
    sink ◄── news.articles, news.duplicates                (PostgreSQL upserts)
    every stage ──► news.dlq (DeadLetter: stage, reason, error, origin topic/partition/offset)

Keys are the article id (hash of the canonical URL), so every version of one URL lands on one
partition and is processed in order by one worker. One exception: ``news.dedup.content`` is
keyed by language, so every copy of a text in one language meets the same partition and the
same near-duplicate state, whichever partition its URL hashed to (see
streams/dedup/README.md). Desk topics come from the taxonomy file, so an operator adding a
topic there gets its Kafka topic on the next ``topics create`` (or worker start).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from streams.settings import Settings

RAW = "news.raw"
BACKFILL_RAW = "news.backfill.raw"
CLEAN = "news.clean"
DEDUP_CONTENT = "news.dedup.content"
UNIQUE = "news.unique"
ARTICLES = "news.articles"
REVIEW = "news.review"
DUPLICATES = "news.duplicates"
DLQ = "news.dlq"
CORRECTIONS = "news.corrections"
RUBRICS = "news.rubrics"
DESK_PREFIX = "news.topic."

DAY_MS = 24 * 3600 * 1000


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
    producers: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()
    key: str = "article id (hex sha256 prefix of the canonical URL)"

    def configs(self) -> dict[str, str]:
        """Topic-level broker configs (what ``topics create`` sets)."""
        return {
            "cleanup.policy": "compact,delete" if self.compact else "delete",
            "retention.ms": str(self.retention_ms),
            "max.message.bytes": str(self.max_message_bytes),
        }


@dataclass(frozen=True)
class Topology:
    topics: dict[str, TopicSpec] = field(default_factory=dict)
    desk_topics: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[TopicSpec]:
        return iter(self.topics.values())

    def __getitem__(self, name: str) -> TopicSpec:
        return self.topics[name]

    def desk(self, topic: str) -> TopicSpec:
        return self.topics[DESK_PREFIX + topic]

    def read_by(self, stage: str) -> list[TopicSpec]:
        return [t for t in self if stage in t.consumers]


def desk_topic_name(topic: str) -> str:
    return DESK_PREFIX + topic


def build_topology(settings: Settings, desk_topics: Iterable[str]) -> Topology:
    """All topics for these settings and this taxonomy."""
    parts, keep = settings.topic_partitions, settings.topic_retention_ms
    size = settings.topic_max_message_bytes

    def spec(name: str, value: str, description: str, **kw: object) -> TopicSpec:
        args: dict[str, object] = {"partitions": parts, "retention_ms": keep}
        args |= {"max_message_bytes": size} | kw
        return TopicSpec(name=name, value=value, description=description, **args)  # type: ignore[arg-type]

    specs = [
        spec(
            RAW,
            "RawPage",
            "pages fetched by the live crawler",
            producers=("crawl",),
            consumers=("clean",),
        ),
        spec(
            BACKFILL_RAW,
            "RawPage",
            "replayed pages (WARC, directories); off the live path",
            producers=("replay",),
            consumers=("clean",),
            retention_ms=3 * DAY_MS,
        ),
        spec(
            CLEAN,
            "Article",
            "cleaned articles before deduplication",
            producers=("clean",),
            consumers=("dedup_url",),
        ),
        spec(
            DEDUP_CONTENT,
            "Article",
            "articles past the URL check, re-keyed for content dedup",
            producers=("dedup_url",),
            consumers=("dedup_content",),
            key="language (ISO 639-1, 'und' when unknown)",
            retention_ms=DAY_MS,
        ),
        spec(
            UNIQUE,
            "Article",
            "first versions and revisions (no duplicates)",
            producers=("dedup_content",),
            consumers=("classify",),
        ),
        spec(
            ARTICLES,
            "ClassifiedArticle",
            "every classified article; compacted per id",
            producers=("classify",),
            consumers=("sink", "downstream"),
            compact=True,
            retention_ms=30 * DAY_MS,
        ),
        spec(
            REVIEW,
            "ClassifiedArticle",
            "low-confidence or unclassifiable articles",
            producers=("classify",),
            consumers=("downstream",),
            retention_ms=30 * DAY_MS,
        ),
        spec(
            DUPLICATES,
            "DuplicateEvent",
            "copies recognised by dedup, naming the original",
            producers=("dedup_url", "dedup_content"),
            consumers=("sink", "downstream"),
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
            producers=("classify",),
            consumers=("classify",),
            compact=True,
            key="source id|rubric|writer",
            retention_ms=90 * DAY_MS,
        ),
        spec(
            DLQ,
            "DeadLetter",
            "records a stage could not process, replayable",
            producers=("crawl", "clean", "dedup_url", "dedup_content", "classify", "sink"),
            consumers=("operator",),
            retention_ms=30 * DAY_MS,
            max_message_bytes=settings.dlq_max_message_bytes,
        ),
    ]
    desks = tuple(desk_topics)
    specs += [
        spec(
            desk_topic_name(t),
            "ClassifiedArticle",
            f"articles classified as {t}",
            producers=("classify",),
            consumers=("downstream",),
            compact=True,
            retention_ms=30 * DAY_MS,
        )
        for t in desks
    ]
    return Topology(topics={s.name: s for s in specs}, desk_topics=desks)
