"""Versioned records carried on the topics (JSON via orjson; keys are article ids).

Each record class owns one JSON Schema in ``schemas/`` (written by ``newsstream schemas export``
and checked in tests). Bump ``version`` when a change is not backward compatible; consumers
reject versions they do not know instead of guessing.
"""

from __future__ import annotations

import base64
import binascii
import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from streams.errors import MalformedRecord

Id = Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[0-9a-f]+$")]


def utcnow() -> datetime:
    return datetime.now(UTC)


# Bounds no real record comes near. A record past one is malformed (a dead letter), not data:
# a fetch time in year 9999 would expire every dedup entry of its partition, a 7 MB "article"
# or a revision past PostgreSQL's integer would be stored as junk or refused by the database.
MAX_TEXT_CHARS = 1_000_000  # the longest real articles have ~100,000 characters
MAX_TITLE_CHARS = 2_000
MAX_URL_CHARS = 8_192
MAX_REVISION = 2**31 - 1  # the articles table's revision column is a PostgreSQL integer
FUTURE_SLACK = timedelta(days=1)  # clocks and time zones, not more


def _not_future(value: datetime) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if aware > utcnow() + FUTURE_SLACK:
        raise ValueError(f"{value.isoformat()} is in the future")
    return value


# No lower bound: the offline dedup tools count time in seconds from the epoch.
EventTime = Annotated[datetime, AfterValidator(_not_future)]
"""When something happened (fetched, published, classified, detected): not after tomorrow."""
PublishedTime = EventTime
EARLIEST_FETCH = datetime(1990, 1, 1, tzinfo=UTC)


def _after_1990(value: datetime) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if aware < EARLIEST_FETCH:
        raise ValueError(f"{value.isoformat()} is before the web")
    return value


FetchTime = Annotated[datetime, AfterValidator(_not_future), AfterValidator(_after_1990)]
"""When a page was fetched (RawPage): 1990 to tomorrow."""
Url = Annotated[str, Field(max_length=MAX_URL_CHARS)]


Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
Title = Annotated[str, Field(max_length=MAX_TITLE_CHARS)]
Revision = Annotated[int, Field(ge=0, le=MAX_REVISION)]


class Record(BaseModel):
    """Base of every record: strict, immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    schema_name: ClassVar[str] = "Record"
    version: int = 1

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_json(cls: type[R], data: bytes | str) -> R:
        """Parse a record; any problem is a MalformedRecord (never a bare exception)."""
        try:
            raw: Any = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise MalformedRecord(f"{cls.schema_name}: not JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise MalformedRecord(f"{cls.schema_name}: expected a JSON object")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "<root>"
            raise MalformedRecord(
                f"{cls.schema_name}: {where}: {first['msg']} ({exc.error_count()} errors)"
            ) from exc


R = TypeVar("R", bound=Record)


class SourceRef(BaseModel):
    """Where a record came from on Kafka (provenance, and the DLQ replay address)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


class RawPage(Record):
    """One fetched page, bytes untouched (base64) so cleaning decodes with full knowledge."""

    schema_name: ClassVar[str] = "RawPage"
    kind: Literal["RawPage"] = "RawPage"
    article_id: Id
    url: Url = Field(description="URL as discovered (feed, sitemap, link, replay)")
    final_url: Url = Field(description="URL after redirects")
    redirects: list[str] = Field(default_factory=list)
    status: int = Field(ge=100, le=599)
    fetched_at: FetchTime
    source_id: str
    discovered_via: Literal["feed", "sitemap", "section", "replay", "manual", "demo"] = "manual"
    content_type: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    body_b64: str = Field(description="the response body exactly as received, base64")
    feed_title: str | None = None
    feed_published: PublishedTime | None = None
    feed_language: str | None = None

    @property
    def body(self) -> bytes:
        """The body bytes; MalformedRecord when ``body_b64`` is not base64 (checked here, on
        use, rather than on every parse of a multi-megabyte page)."""
        try:
            return base64.b64decode(self.body_b64)
        except (binascii.Error, ValueError) as exc:
            raise MalformedRecord(f"RawPage: body_b64: not base64 ({exc})") from exc

    @staticmethod
    def encode_body(body: bytes) -> str:
        return base64.b64encode(body).decode("ascii")


class Article(Record):
    """A cleaned article: main text and metadata, with fingerprints for dedup."""

    schema_name: ClassVar[str] = "Article"
    kind: Literal["Article", "ClassifiedArticle"] = "Article"
    article_id: Id
    url: Url
    canonical_url: Url
    source_id: str
    title: Title
    text: Text = Field(min_length=1)
    author: str | None = None
    published: PublishedTime | None = None
    language: str | None = Field(
        default=None, max_length=16, description="ISO 639-1 from the text itself"
    )
    alternates: dict[str, str] = Field(default_factory=dict, description="hreflang -> URL")
    rubric: str | None = Field(
        default=None,
        description="the publisher's own section: article:section, JSON-LD articleSection, "
        "breadcrumb or URL path segment",
    )
    image_count: int = Field(default=0, ge=0)
    link_count: int = Field(default=0, ge=0)
    fetched_at: EventTime
    content_hash: str = Field(
        pattern="^[0-9a-f]{64}$", description="sha256 (hex) of the normalised text"
    )
    fingerprint: str = Field(default="", description="MinHash signature of the text (hex)")
    extractor: str = ""
    revision: Revision = Field(default=0, description="0 for the first version of a URL")
    raw: SourceRef | None = None


class ClassifiedArticle(Article):
    """An Article with its topics; what downstream teams consume."""

    schema_name: ClassVar[str] = "ClassifiedArticle"
    kind: Literal["Article", "ClassifiedArticle"] = "ClassifiedArticle"
    topics: list[str] = Field(default_factory=list)
    scores: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(default_factory=dict)
    iptc: list[str] = Field(default_factory=list)
    evidence: dict[str, list[str]] = Field(default_factory=dict)
    classifier_version: str = ""
    classified_at: EventTime = Field(default_factory=utcnow)
    story_id: Id | None = Field(
        default=None,
        description="the story this article joined (docs/stories.md): the id of the story's"
        " first article; None before the story stage (and in records written before it)",
    )
    translation_of: Id | None = Field(
        default=None,
        description="the earliest other-language version of this article on its outlet",
    )


class DuplicateEvent(Record):
    """An article recognised as a copy of an earlier one; it names the original."""

    schema_name: ClassVar[str] = "DuplicateEvent"
    kind: Literal["DuplicateEvent"] = "DuplicateEvent"
    article_id: Id
    duplicate_of: Id
    reason: Literal["same_url", "same_content", "near_duplicate"]
    similarity: float = Field(ge=0.0, le=1.0)
    url: Url
    source_id: str
    fetched_at: EventTime
    detected_at: EventTime = Field(default_factory=utcnow)


class DeadLetter(Record):
    """A record a stage could not process, with everything needed to replay it."""

    schema_name: ClassVar[str] = "DeadLetter"
    kind: Literal["DeadLetter"] = "DeadLetter"
    stage: str
    reason: str = Field(description="short countable code, e.g. malformed, no_content")
    error: str
    origin: SourceRef | None = Field(description="topic/partition/offset of the input")
    key: str | None = None
    payload_b64: str = Field(
        description="the original message value, base64; only its first bytes when"
        " payload_truncated (the original stays at origin while its topic retains it)"
    )
    payload_size: int | None = Field(
        default=None, ge=0, description="size in bytes of the whole original value"
    )
    payload_sha256: str | None = Field(
        default=None, description="sha256 (hex) of the whole original value"
    )
    payload_truncated: bool = Field(
        default=False,
        description="the original was too large to wrap whole: `dlq replay` re-reads it from"
        " origin and checks payload_sha256",
    )
    failed_at: datetime = Field(default_factory=utcnow)
    worker: str = ""
    replays: int = Field(default=0, ge=0)


class Correction(Record):
    """An editor's verdict on an article's topics ("crime, not politics"); the next training
    run learns from it (``newsstream corrections pull`` then ``classify-train``)."""

    schema_name: ClassVar[str] = "Correction"
    kind: Literal["Correction"] = "Correction"
    article_id: Id
    topics: list[str] = Field(min_length=1, description="the right desk topics, main one first")
    previous_topics: list[str] = Field(default_factory=list, description="what was assigned")
    editor: str = Field(min_length=1)
    note: str = ""
    classifier_version: str = Field(default="", description="the version that was corrected")
    # The text travels with the verdict so training needs no article store.
    title: Title = ""
    text: Text = ""
    language: str | None = Field(default=None, max_length=16)
    corrected_at: EventTime = Field(default_factory=utcnow)


class RubricStats(Record):
    """One worker's running totals for one publisher rubric: how many articles of that
    (source, rubric) it classified and the sum of the model's text-only probabilities per class.
    ``news.rubrics`` is compacted by ``source|rubric|writer``; readers sum the writers of their
    own consumer group (another pipeline on the same topics sees the same pages again)."""

    schema_name: ClassVar[str] = "RubricStats"
    kind: Literal["RubricStats"] = "RubricStats"
    source_id: str = Field(min_length=1, max_length=80)
    rubric: str = Field(min_length=1, max_length=80)
    group: str = Field(
        min_length=1,
        max_length=128,
        description="the consumer group of the writer: each pipeline learns alone",
    )
    writer: str = Field(min_length=1, max_length=64, description="the worker process counting")
    articles: int = Field(ge=1, le=2**53)
    proba_sums: dict[str, float] = Field(description="class -> sum of text-only probabilities")
    updated_at: EventTime = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _sums_within_count(self) -> RubricStats:
        # Each article adds a probability (0..1) per class: a sum is between 0 and the count.
        for cls, total in self.proba_sums.items():
            if not (math.isfinite(total) and -1e-6 <= total <= self.articles * (1 + 1e-6)):
                raise ValueError(f"proba_sums[{cls}] = {total} is not within 0..{self.articles}")
        return self


class BandProbe(Record):
    """One LSH band of an article's MinHash signature, on ``news.dedup.bands`` keyed by
    ``language|band key`` (band number and its rows): every article sharing that band meets
    in one partition, whatever its language's volume (streams/dedup/README.md)."""

    schema_name: ClassVar[str] = "BandProbe"
    kind: Literal["BandProbe"] = "BandProbe"
    article_id: Id
    band: int = Field(ge=0, le=255, description="band number within the signature")
    fetched_at: EventTime = Field(description="the article's fetch time: the tie-break order")
    fingerprint: str = Field(max_length=600, description="the article's MinHash signature")
    answer: bool = Field(
        default=True,
        description="false for a revision: filed under the band, no verdict wanted",
    )


class BandVerdict(Record):
    """A band's answer about one article: the earliest other article on that band that
    contains (most of) it, or none; and a later-fetched one that it took the band from and is
    a copy of, answered before it (streams/dedup/README.md, "Arrival order"). On
    ``news.dedup.gather``, keyed by article id."""

    schema_name: ClassVar[str] = "BandVerdict"
    kind: Literal["BandVerdict"] = "BandVerdict"
    article_id: Id
    band: int = Field(ge=0, le=255)
    match_id: Id | None = Field(default=None, description="the earlier article, if any")
    match_fetched_at: EventTime | None = None
    similarity: float = Field(default=0.0, ge=0.0, le=1.0, description="its copy score")
    later_id: Id | None = Field(
        default=None, description="a later-fetched article filed under the band before this one"
    )
    later_fetched_at: EventTime | None = None
    later_similarity: float = Field(
        default=0.0, ge=0.0, le=1.0, description="this article's copy score against it"
    )

    def to_json(self) -> bytes:
        # Without a later match (all but a few verdicts), the later_* fields are left out: 32
        # verdicts per article, ~2 KB less on news.dedup.gather (bench/dedup.py), and a gather
        # step from before them still reads such a verdict during a rolling upgrade.
        drop = {"later_id", "later_fetched_at", "later_similarity"} if not self.later_id else None
        return orjson.dumps(self.model_dump(mode="json", exclude=drop))


class PendingArticle(Record):
    """An article past the exact-copy check, waiting on ``news.dedup.gather`` (keyed by article
    id) for the verdicts of its bands."""

    schema_name: ClassVar[str] = "PendingArticle"
    kind: Literal["PendingArticle"] = "PendingArticle"
    article: Article
    bands: int = Field(ge=1, le=255, description="how many band verdicts to wait for")


class GatherTimeout(Record):
    """Sent by a worker's timer to ``news.dedup.gather`` for an article whose bands have not
    all answered in time: it is decided with the verdicts that arrived before it."""

    schema_name: ClassVar[str] = "GatherTimeout"
    kind: Literal["GatherTimeout"] = "GatherTimeout"
    article_id: Id
    requested_at: datetime = Field(default_factory=utcnow)


class OriginalQuery(Record):
    """What became of an article? Sent by the gather step of an article that found it a
    later-fetched match (``asker``), to the article's own gather partition (keyed by
    ``article_id``), which answers with an ``OriginalReply`` once it has decided."""

    schema_name: ClassVar[str] = "OriginalQuery"
    kind: Literal["OriginalQuery"] = "OriginalQuery"
    article_id: Id = Field(description="the article asked about")
    asker: Id


class OriginalReply(Record):
    """The answer to an ``OriginalQuery``, keyed by the asker (``article_id``): the article
    asked about was kept (``original`` null) or named ``original``; or it is not known there
    (``decided`` false: a revision, an article forgotten after the window)."""

    schema_name: ClassVar[str] = "OriginalReply"
    kind: Literal["OriginalReply"] = "OriginalReply"
    article_id: Id = Field(description="the asker")
    about: Id
    decided: bool
    original: Id | None = None


class StoryRequest(Record):
    """A classified article on its way to the story stage (``news.stories.assign``, keyed by
    article id): the article and its story vector, computed by the classify stage."""

    schema_name: ClassVar[str] = "StoryRequest"
    kind: Literal["StoryRequest"] = "StoryRequest"
    article: ClassifiedArticle
    vector: str = Field(
        max_length=8192,
        description="the story vector (headline and lead embedded apart, averaged,"
        " L2-normalised) as little-endian float16, base64",
    )
    encoder: str = Field(description="the encoder that made the vector; compared on arrival")


class StorySummary(Record):
    """One story as it stands, on the compacted ``news.stories`` keyed by story id. A newer
    ``revision`` replaces an older one (the sink refuses to go back)."""

    schema_name: ClassVar[str] = "StorySummary"
    kind: Literal["StorySummary"] = "StorySummary"
    story_id: Id
    revision: int = Field(ge=1, le=MAX_REVISION, description="1 for a new story, +1 per article")
    headline: Title = Field(description="the representative article's title")
    representative: Id = Field(description="the article that stands for the story: its first")
    first_seen: EventTime = Field(description="the earliest article time (published, else fetched)")
    last_seen: EventTime
    article_count: int = Field(ge=1)
    languages: list[str] = Field(default_factory=list)
    outlets: list[str] = Field(default_factory=list, max_length=200)
    desks: list[str] = Field(default_factory=list)
    updated_at: datetime = Field(default_factory=utcnow)


class FrontierItem(Record):
    """An article URL a source listed, on its way to the crawler replica that owns its host
    (``news.crawl.frontier``, keyed by host): that replica alone fetches it."""

    schema_name: ClassVar[str] = "FrontierItem"
    kind: Literal["FrontierItem"] = "FrontierItem"
    url: Url = Field(description="URL as listed")
    canonical_url: Url = Field(description="canonical form: the seen-set key and article id")
    host: str = Field(max_length=300, description="host[:port] the URL is fetched from")
    source_id: str
    discovered_via: Literal["feed", "sitemap", "section"]
    title: str | None = None
    published: PublishedTime | None = None
    language: str | None = None
    item_kind: str = Field(default="rss", description="rss, atom, sitemap, news_sitemap, html")
    discovered_at: EventTime
    attempt: int = Field(default=0, ge=0, le=100, description="tries after transient failures")
    not_before: datetime | None = Field(
        default=None, description="a retried item waits until then (backoff)"
    )


class CrawlState(Record):
    """One entry of the crawler's memory on ``news.crawl.state`` (compacted; key
    ``entry|host|name``; written to the frontier partition of ``host``, so a replica reads
    back exactly the state of the hosts it is assigned)."""

    schema_name: ClassVar[str] = "CrawlState"
    kind: Literal["CrawlState"] = "CrawlState"
    entry: Literal["seen", "source", "robots", "backoff"] = Field(
        description="seen: a fetched URL and its validators; source: a source's schedule,"
        " listing validators and listed items; robots: a robots.txt cache entry; backoff: a"
        " host paused by Retry-After"
    )
    host: str = Field(max_length=300)
    name: str = Field(max_length=4096, description="URL, source id, or origin")
    updated_at: float = Field(description="Unix time of the write")
    expires_at: float | None = Field(default=None, description="Unix time it stops applying")
    data: dict[str, Any] = Field(default_factory=dict)


RECORD_TYPES: tuple[type[Record], ...] = (
    RawPage,
    Article,
    ClassifiedArticle,
    DuplicateEvent,
    DeadLetter,
    Correction,
    RubricStats,
    BandProbe,
    BandVerdict,
    PendingArticle,
    GatherTimeout,
    OriginalQuery,
    OriginalReply,
    FrontierItem,
    CrawlState,
    StoryRequest,
    StorySummary,
)
