"""Hostile input on every topic a newsstream process consumes, fuzzed (issue 11).

Hypothesis (fixed seed: ``derandomize``) generates malformed records: invalid UTF-8, not JSON,
JSON that is not an object, deep nesting, tombstones, missing fields, wrong types, unknown
fields, wrong / absent / non-UTF-8 keys; next to them go a fixed list of records that are valid
by schema but absurd (year 9999, 7 MB text, scores out of range, unknown desks ...), a few
multi-megabyte strings, and a handful of real pages. Each goes to the topic of the process
that reads it: the worker's stages (news.raw, news.backfill.raw, news.clean,
news.dedup.content, news.unique), its rubric reader (news.rubrics), the sink (news.articles,
news.duplicates) and `corrections pull` (news.corrections).

Every record must end in a counted, defined outcome: a dead letter naming its origin, or one
of the outcomes listed in docs/architecture.md ("Hostile input"). Worker and sink must live
through it and still process a real page published after it, and PostgreSQL must hold the
real pages' articles and nothing else. ``pytest -s`` prints the counts.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from aiokafka.errors import KafkaError
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from streams.identity import article_id, canonicalize, content_hash
from streams.infra.postgres_local import EmbeddedPostgres
from streams.kafka.clients import make_producer
from streams.kafka.reader import read_topic
from streams.records import (
    Article,
    BandProbe,
    ClassifiedArticle,
    Correction,
    DuplicateEvent,
    PendingArticle,
    RawPage,
    Record,
    RubricStats,
)
from streams.settings import Settings
from streams.topology import (
    ARTICLES,
    BACKFILL_RAW,
    CLEAN,
    CORRECTIONS,
    DEDUP_BANDS,
    DEDUP_GATHER,
    DEDUP_HASH,
    DLQ,
    DUPLICATES,
    RAW,
    RUBRICS,
    UNIQUE,
    Topology,
)
from tests.conftest import make_article, make_raw
from tests.integration.pipeline.conftest import Spawn
from tests.integration.pipeline.test_sink import http_status, metric

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
FAR_FUTURE = "9999-12-31T23:59:59Z"
FUZZ = settings(
    derandomize=True,  # the same records on every run: CI is reproducible
    database=None,
    phases=[Phase.generate],
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
PER_TOPIC = 24  # generated records per topic (plus the fixed absurd and huge ones)

# Who reads what: the process whose outcome a record on that topic gets.
READER = {
    RAW: "worker/clean",
    BACKFILL_RAW: "worker/clean",
    CLEAN: "worker/dedup_url",
    DEDUP_HASH: "worker/dedup_hash",
    DEDUP_BANDS: "worker/dedup_band",
    DEDUP_GATHER: "worker/dedup_gather",
    UNIQUE: "worker/classify",
    RUBRICS: "worker/rubric reader",
    ARTICLES: "sink",
    DUPLICATES: "sink",
    CORRECTIONS: "corrections pull",
}

# Absurd records whose outcome is defined and not a dead letter (docs/architecture.md).
DEFINED = {
    (RAW, "absurd:10k_redirects"): "cleaned: the redirect chain is not part of the article",
    (RUBRICS, "absurd:unknown_class"): "merged: a class the model lacks shifts nothing",
    (ARTICLES, "absurd:nul_in_text"): "stored without the NUL (PostgreSQL text cannot hold one)",
}
# Holes this test found and that are still open: reported, not yet fixed (see the report).
KNOWN_HOLES: dict[tuple[str, str], str] = {}

# Real pages, each a story of its own (a shared text would make them duplicates).
STORIES = [
    (
        "City council approves new tram line to the airport",
        "The city council voted on Tuesday to build a tram line linking the central station "
        "with the airport. Construction is due to start next spring and take three years, "
        "and the council expects forty thousand passengers a day once the line opens.",
    ),
    (
        "Storm closes mountain passes and cuts power to villages",
        "Heavy snow and gale-force winds closed three mountain passes overnight and left "
        "several villages without electricity. Rescue teams reached stranded drivers by "
        "morning, and the utility said repairs to the damaged lines would take two days.",
    ),
    (
        "Local football club signs veteran goalkeeper for the season",
        "The club confirmed on Friday that the experienced goalkeeper has signed a one-year "
        "contract. The coach said his experience in cup matches would help the young squad, "
        "and supporters queued for tickets to the opening home game of the season.",
    ),
    (
        "Researchers map ancient river beneath the desert",
        "A team of geologists used satellite radar to trace an ancient river buried under "
        "the sand for thousands of years. The channel, once as wide as a modern river, may "
        "explain how early settlements found water far from today's oases, they wrote.",
    ),
    (
        "Hospital opens night clinic for children after long waits",
        "The regional hospital opened a night clinic for children on Monday after parents "
        "complained of waiting hours in the emergency room. Two paediatricians and three "
        "nurses will staff it every night, and the health department will review it in June.",
    ),
]


def page_html(title: str, text: str) -> str:
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"</head><body><article><h1>{title}</h1><p>{text}</p></article></body></html>"
    )


def real_page(i: int) -> RawPage:
    url = f"https://news.example.org/city/hostile-{uuid.uuid4().hex[:6]}-{i}"
    page = make_raw(page_html(*STORIES[i]), url, article_id=article_id(canonicalize(url)))
    return page.model_copy(update={"fetched_at": datetime.now(UTC) - timedelta(minutes=5)})


@dataclass
class Sent:
    """One hostile (or real) record and where it landed."""

    topic: str
    case: str
    key: bytes | None
    value: bytes | None
    partition: int = -1
    offset: int = -1
    outcome: str = "pending"

    @property
    def origin(self) -> dict[str, object]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


# ---- the records -------------------------------------------------------------------------


def _valid_bases(group: str) -> dict[str, tuple[type[Record], dict[str, Any]]]:
    """A valid record of each topic's type, as a JSON dict, to mutate."""
    now = datetime.now(UTC) - timedelta(minutes=1)
    art = make_article("A base article that mutations start from.", fetched_at=now)
    classified = ClassifiedArticle(
        **(art.model_dump(exclude={"kind"}) | {"topics": ["crime"], "scores": {"crime": 0.8}})
    )
    raw = real_page(0)
    dup = DuplicateEvent(
        article_id="ab" * 16, duplicate_of="cd" * 16, reason="same_content", similarity=1.0,
        url="https://x.example/1", source_id="s", fetched_at=now,
    )  # fmt: skip
    stats = RubricStats(
        source_id="hostile", rubric="r", group=group, writer="w", articles=1,
        proba_sums={"sport": 0.5},
    )  # fmt: skip
    corr = Correction(article_id="ef" * 16, topics=["crime"], editor="ed", text="t", title="t")
    probe = BandProbe(
        article_id=art.article_id, band=3, fetched_at=art.fetched_at, fingerprint=art.fingerprint
    )
    pending = PendingArticle(article=art, bands=32)
    dump: Callable[[BaseModel], dict[str, Any]] = lambda r: r.model_dump(mode="json")  # noqa: E731
    return {
        RAW: (RawPage, dump(raw)),
        BACKFILL_RAW: (RawPage, dump(raw)),
        CLEAN: (Article, dump(art)),
        DEDUP_HASH: (Article, dump(art)),
        DEDUP_BANDS: (BandProbe, dump(probe)),
        DEDUP_GATHER: (PendingArticle, dump(pending)),
        UNIQUE: (Article, dump(art)),
        ARTICLES: (ClassifiedArticle, dump(classified)),
        DUPLICATES: (DuplicateEvent, dump(dup)),
        RUBRICS: (RubricStats, dump(stats)),
        CORRECTIONS: (Correction, dump(corr)),
    }


def _invalid(model: type[Record], data: dict[str, Any]) -> bool:
    try:
        model.model_validate(data)
    except ValidationError:
        return True
    return False


WRONG = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
JSON_NOT_OBJECT = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=8,
)
KEYS = st.one_of(
    st.none(),
    st.binary(min_size=1, max_size=16).map(lambda b: b"\xff" + b),  # not UTF-8
    st.text(max_size=40).map(str.encode),
    st.just(b"00" * 16),  # another article's id
)


def _generated(model: type[Record], base: dict[str, Any]) -> st.SearchStrategy[tuple[str, Any]]:
    fields = sorted(base)
    missing = st.sampled_from(fields).map(lambda f: {k: v for k, v in base.items() if k != f})
    wrong = st.tuples(st.sampled_from(fields), WRONG).map(lambda fv: base | {fv[0]: fv[1]})
    unknown = st.text(min_size=1, max_size=12).map(lambda k: base | {f"x_{k}": 1})
    return st.one_of(
        st.binary(min_size=0, max_size=120).map(lambda b: ("invalid_utf8", b"\xc3\x28" + b)),
        st.text(max_size=120).map(lambda t: ("not_json", b"{" + t.encode())),
        JSON_NOT_OBJECT.map(lambda v: ("json_not_object", v)),
        st.integers(1_000, 10_000).map(lambda n: ("deep_nesting", b"[" * n + b"]" * n)),
        st.integers(1_000, 10_000).map(lambda n: ("deep_nesting", b'{"a":' * n + b"1" + b"}" * n)),
        st.just(("tombstone", None)),
        missing.filter(lambda d: _invalid(model, d)).map(lambda d: ("missing_field", d)),
        wrong.filter(lambda d: _invalid(model, d)).map(lambda d: ("wrong_type", d)),
        unknown.map(lambda d: ("unknown_field", d)),
    )


def generate(group: str) -> list[Sent]:
    """Hypothesis' records for every topic, plus keys; fixed seed."""
    out: list[Sent] = []
    for topic, (model, base) in _valid_bases(group).items():
        _collector(topic, model, base, out)()
    return out


def _collector(
    topic: str, model: type[Record], base: dict[str, Any], out: list[Sent]
) -> Callable[[], None]:
    @settings(FUZZ, max_examples=PER_TOPIC)
    @given(case=_generated(model, base), key=KEYS)
    def collect(case: tuple[str, Any], key: bytes | None) -> None:
        name, value = case
        if not isinstance(value, bytes | None):  # json: integers past 64 bits, lone surrogates
            value = json.dumps(value).encode()
        if value is None and key is None:
            key = b"\xfe"  # a client cannot send a record with neither
        out.append(Sent(topic, name, key, value))

    return collect  # type: ignore[no-any-return]


def _absurd_article(**kw: Any) -> dict[str, Any]:
    text = f"An absurd article {uuid.uuid4().hex} with enough words in it."
    art = make_article(text, article_id=uuid.uuid4().hex, fetched_at=datetime.now(UTC))
    if "text" in kw:
        kw["content_hash"] = content_hash(kw["text"])
    return art.model_dump(mode="json") | kw


def _duplicate(**kw: Any) -> dict[str, Any]:
    event = DuplicateEvent(
        article_id=uuid.uuid4().hex, duplicate_of="cd" * 16, reason="same_url", similarity=1.0,
        url="https://x.example/a", source_id="s", fetched_at=datetime.now(UTC),
    )  # fmt: skip
    return event.model_dump(mode="json") | kw


def _stats(group: str, **kw: Any) -> dict[str, Any]:
    stats = RubricStats(
        source_id="hostile", rubric="r", group=group, writer="evil", articles=50,
        proba_sums={"sport": 1.0},
    )  # fmt: skip
    return stats.model_dump(mode="json") | kw


def _correction(**kw: Any) -> dict[str, Any]:
    corr = Correction(
        article_id=uuid.uuid4().hex, topics=["crime"], editor="ed", title="t", text="some text"
    )
    return corr.model_dump(mode="json") | kw


def _absurd_raw(**kw: Any) -> dict[str, Any]:
    url = f"https://news.example.org/absurd/{uuid.uuid4().hex}"
    body = page_html("Absurd", f"An absurd page {uuid.uuid4().hex} with some words in it.")
    raw = make_raw(body, url, article_id=article_id(canonicalize(url)))
    raw = raw.model_copy(update={"fetched_at": datetime.now(UTC)})
    return raw.model_dump(mode="json") | kw


def _classified(**kw: Any) -> dict[str, Any]:
    scores = {"scores": {"crime": 0.8}, "topics": ["crime"], "kind": "ClassifiedArticle"}
    return _absurd_article() | scores | kw


BIG = "x" * (7 * MIB)  # under the stage topics' 8 MiB limit
HUGE_TEXT = ("word " * (7 * MIB // 5))[: 7 * MIB]


def absurd(group: str) -> list[Sent]:
    """Valid by schema (as the records stood when this test was written), absurd in fact."""
    never = base64.b64encode(b"\x00\xff" * 1000).decode()
    cases: dict[str, list[tuple[str, dict[str, Any]]]] = {
        RAW: [
            ("fetched_in_9999", _absurd_raw(fetched_at=FAR_FUTURE)),
            ("feed_published_9999", _absurd_raw(feed_published=FAR_FUTURE)),
            ("body_not_base64", _absurd_raw(body_b64="!!! not base64 !!!")),
            ("binary_body", _absurd_raw(body_b64=never, content_type="text/html")),
            ("plain_text_7mb", _absurd_raw(body_b64=base64.b64encode(b"w " * (2 * MIB)).decode(),
                                           content_type="text/plain")),
            ("10k_redirects", _absurd_raw(redirects=["https://a.example/"] * 10_000)),
            ("javascript_url", _absurd_raw(url="javascript:alert(1)", final_url="javascript:1")),
        ],
        BACKFILL_RAW: [
            ("fetched_in_9999", _absurd_raw(fetched_at=FAR_FUTURE)),
            ("fetched_in_year_1", _absurd_raw(fetched_at="0001-01-01T00:00:00Z")),
        ],
        CLEAN: [
            ("fetched_in_9999", _absurd_article(fetched_at=FAR_FUTURE)),
            ("published_9999", _absurd_article(published=FAR_FUTURE)),
            ("text_7mb", _absurd_article(text=HUGE_TEXT)),
            ("title_3mb", _absurd_article(title=BIG[: 3 * MIB])),
            ("revision_2_40", _absurd_article(revision=2**40)),
            ("bad_fingerprint", _absurd_article(fingerprint="zz" * 8, content_hash="")),
        ],
        DEDUP_HASH: [
            ("fetched_in_9999", _absurd_article(fetched_at=FAR_FUTURE)),
            ("language_1000_chars", _absurd_article(language="🙂" * 1000)),
        ],
        UNIQUE: [
            ("published_9999", _absurd_article(published=FAR_FUTURE)),
            ("text_7mb", _absurd_article(text=HUGE_TEXT)),
            ("revision_2_40", _absurd_article(revision=2**40)),
            ("empty_text", _absurd_article(text="", title="")),
        ],
        ARTICLES: [
            ("published_9999", _classified(published=FAR_FUTURE)),
            ("fetched_in_9999", _classified(fetched_at=FAR_FUTURE)),
            ("classified_in_9999", _classified(classified_at=FAR_FUTURE)),
            ("scores_out_of_range", _classified(scores={"crime": -3.0, "sport": 1e300})),
            ("unknown_desk", _classified(topics=["no_such_desk"], scores={"no_such_desk": 0.9})),
            ("text_7mb", _classified(text=HUGE_TEXT)),
            ("revision_2_40", _classified(revision=2**40)),
            ("nul_in_text", _classified(text="nul \x00 byte in an article text")),
        ],
        DUPLICATES: [
            ("fetched_in_9999", _duplicate(fetched_at=FAR_FUTURE)),
            ("url_3mb", _duplicate(url=BIG[: 3 * MIB])),
        ],
        RUBRICS: [
            ("negative_sums", _stats(group, rubric="neg", proba_sums={"sport": -1e9})),
            ("sums_over_count", _stats(group, rubric="big", proba_sums={"crime": 1e300})),
            ("unknown_class", _stats(group, rubric="unk", proba_sums={"no_such_desk": 50.0})),
            ("updated_in_9999", _stats(group, rubric="fut", updated_at=FAR_FUTURE)),
        ],
        CORRECTIONS: [
            ("unknown_desk", _correction(topics=["no_such_desk"])),
            ("corrected_in_9999", _correction(corrected_at=FAR_FUTURE)),
            ("text_7mb", _correction(text=HUGE_TEXT)),
        ],
    }  # fmt: skip
    out: list[Sent] = []
    for topic, items in cases.items():
        for name, data in items:
            key = str(data.get("article_id") or f"{data.get('source_id')}|x").encode()
            out.append(Sent(topic, f"absurd:{name}", key, orjson.dumps(data)))
    # A string of several megabytes where a short one belongs, on every topic.
    for topic in READER:
        out.append(Sent(topic, "huge_string", b"k", orjson.dumps({"kind": BIG[: 3 * MIB]})))
    # Over the topic's limit: the broker refuses it (the publisher's problem, not ours).
    out.append(Sent(RAW, "over_topic_limit", b"k", orjson.dumps({"text": "y" * (10 * MIB)})))
    return out


def wrong_keys(pages: list[RawPage]) -> list[Sent]:
    """Valid pages keyed otherwise than by their article id: the clean stage re-keys them."""
    empty = page_html("Menu", "")
    out = []
    for i, key in enumerate([None, b"\xff\xfe not utf-8", b"00" * 16, b""]):
        url = f"https://news.example.org/rekey/{uuid.uuid4().hex}"
        raw = make_raw(empty, url, article_id=article_id(canonicalize(url)))
        raw = raw.model_copy(update={"fetched_at": datetime.now(UTC)})
        topic = RAW if i % 2 == 0 else BACKFILL_RAW
        out.append(Sent(topic, "wrong_key:no_text", key, raw.to_json()))
    for page in pages:  # real ones: they must come out as articles after the re-key
        out.append(Sent(RAW, "wrong_key:real_page", b"\xff" + page.article_id.encode(),
                        page.to_json()))  # fmt: skip
    return out


# ---- Kafka and PostgreSQL ----------------------------------------------------------------


async def _publish(settings: Settings, records: list[Sent]) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        for rec in records:
            try:
                meta = await producer.send_and_wait(rec.topic, rec.value, key=rec.key)
            except KafkaError as exc:  # refused by the broker: never consumed
                rec.outcome = f"refused_by_broker ({type(exc).__name__})"
                # an idempotent producer's sequence is broken after a refusal: start afresh
                await producer.stop()
                producer = make_producer(settings)
                await producer.start()
                continue
            rec.partition, rec.offset = meta.partition, meta.offset
    finally:
        await producer.stop()


def publish(settings: Settings, records: list[Sent]) -> None:
    asyncio.run(_publish(settings, records))


def read_all(settings: Settings, topic: str) -> list[Any]:
    async def go() -> list[Any]:
        return [r async for r in read_topic(settings, topic)]

    return asyncio.run(go())


def _json(value: bytes | None) -> Any:
    try:
        return orjson.loads(value or b"null")
    except orjson.JSONDecodeError:
        return None


def _id_of(value: bytes | None) -> str | None:
    data = _json(value)
    return data.get("article_id") if isinstance(data, dict) else None


class Outcomes:
    """What became of each record, read from the topics and the database."""

    def __init__(self, settings: Settings, dsn: str) -> None:
        self.settings = settings
        self.dsn = dsn

    def refresh(self, records: list[Sent]) -> None:
        letters = {}
        for rec in read_all(self.settings, DLQ):
            letter = _json(rec.value)
            if isinstance(letter, dict) and letter.get("origin"):
                o = letter["origin"]
                letters[(o["topic"], o["partition"], o["offset"])] = letter
        self.letters = letters
        self.by_topic: dict[str, list[Any]] = {}
        for topic in (RAW, BACKFILL_RAW, CLEAN, DEDUP_HASH, UNIQUE, ARTICLES, DUPLICATES):
            self.by_topic[topic] = read_all(self.settings, topic)
        with psycopg.connect(self.dsn) as conn:
            try:
                self.stored = {r[0] for r in conn.execute("SELECT article_id FROM articles")}
                self.dups = {r[0] for r in conn.execute("SELECT article_id FROM duplicates")}
            except psycopg.errors.UndefinedTable:
                self.stored, self.dups = set(), set()
        for rec in records:
            if rec.partition >= 0 and rec.topic not in (RUBRICS, CORRECTIONS):
                rec.outcome = self.outcome(rec)

    def _ids_on(self, topic: str) -> set[str]:
        return {i for r in self.by_topic[topic] if (i := _id_of(r.value)) is not None}

    def outcome(self, rec: Sent, depth: int = 0) -> str:
        letter = self.letters.get((rec.topic, rec.partition, rec.offset))
        if letter is not None:
            return f"dead_letter {letter['stage']}/{letter['reason']}"
        aid = _id_of(rec.value)
        if rec.topic in (RAW, BACKFILL_RAW):
            if aid is not None and depth == 0:
                for copy in self.by_topic[rec.topic]:
                    if (
                        (copy.partition, copy.offset) != (rec.partition, rec.offset)
                        and copy.value == rec.value
                        and copy.key == (aid.encode())
                        and rec.key != aid.encode()
                    ):
                        again = Sent(rec.topic, rec.case, copy.key, copy.value, copy.partition,
                                     copy.offset)  # fmt: skip
                        return f"rekeyed -> {self.outcome(again, 1)}"
            origin = {"topic": rec.topic, "partition": rec.partition, "offset": rec.offset}
            for art in self.by_topic[CLEAN]:
                data = _json(art.value)
                if isinstance(data, dict) and data.get("raw") == origin:
                    return "cleaned"
            return "pending"
        if rec.topic == CLEAN and aid is not None:
            if aid in self._ids_on(DEDUP_HASH):
                return "kept (new or revision)"
            if aid in self._ids_on(DUPLICATES):
                return "duplicate"
        if rec.topic == DEDUP_HASH and aid is not None:
            if aid in self._ids_on(UNIQUE):
                return "kept (new or revision)"
            if aid in self._ids_on(DUPLICATES):
                return "duplicate"
        if rec.topic == UNIQUE and aid is not None and aid in self._ids_on(ARTICLES):
            return "classified"
        if rec.topic == ARTICLES and aid is not None and aid in self.stored:
            return "stored"
        if rec.topic == DUPLICATES and aid is not None and aid in self.dups:
            return "stored"
        return "pending"


def rubric_outcomes(settings: Settings, group: str) -> Counter[str]:
    """What the worker's rubric reader must have counted for every record on news.rubrics."""
    from streams.classify.rubrics import RubricBook

    book, seen = RubricBook(group, "test"), Counter[str]()
    for rec in read_all(settings, RUBRICS):
        try:
            stats = RubricStats.from_json(rec.value or b"")
        except Exception:
            seen["malformed"] += 1
            continue
        seen["merged" if book.merge(stats) else "other_group"] += 1
    return seen


def wait_until(check: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s:.0f}s"
        time.sleep(2)


# ---- the test ----------------------------------------------------------------------------


def test_hostile_input_on_every_consumed_topic_ends_counted_and_stores_no_junk(
    spawn: Spawn,
    stream_topology: Topology,
    stream_settings: Settings,
    postgres_factory: Callable[[], EmbeddedPostgres],
    tmp_path: Path,
) -> None:
    pg = postgres_factory()
    dsn = pg.start()
    worker = spawn("worker")
    sink = spawn("sink", extra_env={"NEWSSTREAM_POSTGRES_DSN": dsn})
    group = stream_settings.consumer_group
    wport, sport = worker.metrics_port, sink.metrics_port  # type: ignore[attr-defined]

    # Real pages first (this also waits for the worker's start), then the hostile records.
    first = [real_page(i) for i in range(2)]
    rekeyed_real = [real_page(2)]
    last = real_page(3)
    valid = [Sent(RAW, "real_page", p.article_id.encode(), p.to_json()) for p in first]
    hostile = generate(group) + absurd(group) + wrong_keys(rekeyed_real)
    publish(stream_settings, valid)
    publish(stream_settings, hostile)
    final = [Sent(RAW, "real_page_after", last.article_id.encode(), last.to_json())]
    publish(stream_settings, final)
    real_ids = {p.article_id for p in (*first, *rekeyed_real, last)}

    outcomes = Outcomes(stream_settings, dsn)
    consumed = [r for r in hostile + valid + final if r.partition >= 0]

    def settled() -> bool:
        assert worker.poll() is None, worker.log_path.read_text()[-3000:]  # type: ignore[attr-defined]
        assert sink.poll() is None, sink.log_path.read_text()[-3000:]  # type: ignore[attr-defined]
        outcomes.refresh(consumed)
        tracked = [r for r in consumed if r.topic not in (RUBRICS, CORRECTIONS)]
        return real_ids <= outcomes.stored and all(r.outcome != "pending" for r in tracked)

    try:
        wait_until(settled, "every record has an outcome and the real pages are stored", 150)
    finally:
        _report(hostile + valid + final, outcomes)
        print("real pages not stored:", real_ids - getattr(outcomes, "stored", set()))

    # news.rubrics: the reader counted every record on the topic, malformed ones as such.
    expected = rubric_outcomes(stream_settings, group)
    got = {o: metric(wport, "newsstream_classify_rubric_records_read_total", {"outcome": o})
           for o in expected}  # fmt: skip
    print("news.rubrics, counted by the worker's reader:", got, "expected:", dict(expected))
    assert got == expected
    for rec in hostile:
        if rec.topic == RUBRICS and rec.partition >= 0:
            rec.outcome = "counted, skipped (malformed)" if _invalid_rubric(rec) else "merged"

    # news.corrections: `corrections pull` counts the malformed ones and skips them.
    from streams.kafka.corrections import pull

    desks = frozenset(stream_topology.desk_topics)
    written, skipped = asyncio.run(pull(stream_settings, tmp_path / "corrections.jsonl", desks))
    total = len(read_all(stream_settings, CORRECTIONS))
    print(f"news.corrections: {total} records, {written} written, {skipped} skipped as malformed")
    mine = [r for r in hostile if r.topic == CORRECTIONS and r.partition >= 0]
    for rec in mine:
        try:
            if set(Correction.from_json(rec.value or b"").topics) - desks:
                raise ValueError("a desk the taxonomy lacks")
            rec.outcome = "pulled"
        except Exception:
            rec.outcome = "counted, skipped (malformed)"
    assert skipped >= sum(r.outcome.startswith("counted") for r in mine)
    assert written + skipped <= total
    _report(hostile, outcomes, only=(RUBRICS, CORRECTIONS))

    # Nothing vanished, nothing absurd went through, both processes live and still work.
    assert worker.poll() is None
    assert sink.poll() is None
    assert http_status(sport, "/readyz") == 200
    allowed = {_id_of(r.value) for r in hostile if (r.topic, r.case) in {**DEFINED, **KNOWN_HOLES}}
    # Other test modules share the broker: only ids this test published can be its junk.
    published = {i for r in hostile if (i := _id_of(r.value)) is not None}
    junk = (outcomes.stored & published) - real_ids - allowed
    assert not junk, f"junk stored as articles: {sorted(junk)}"
    passed = [r for r in hostile if r.case.startswith("absurd") and not r.outcome.startswith(
        ("dead_letter", "counted", "refused")) and (r.topic, r.case) not in DEFINED]  # fmt: skip
    holes = [(r.topic, r.case, r.outcome, KNOWN_HOLES[(r.topic, r.case)]) for r in passed
             if (r.topic, r.case) in KNOWN_HOLES]  # fmt: skip
    print("STILL OPEN:", *holes, sep="\n  ")
    assert len(passed) == len(holes), [(r.topic, r.case, r.outcome) for r in passed]
    dead = metric(wport, "newsstream_dead_letters_total", {}) + metric(
        sport, "newsstream_dead_letters_total", {}
    )
    letters = sum(r.outcome.count("dead_letter") for r in consumed)
    print(f"dead letters counted by the processes: {dead:.0f}, found on news.dlq: {letters}")
    assert dead >= letters


def _invalid_rubric(rec: Sent) -> bool:
    try:
        RubricStats.from_json(rec.value or b"")
    except Exception:
        return True
    return False


def _report(records: list[Sent], outcomes: Outcomes, only: tuple[str, ...] = ()) -> None:
    rows = Counter((r.topic, r.outcome) for r in records if not only or r.topic in only)
    per_topic = Counter(r.topic for r in records if not only or r.topic in only)
    print(f"\n{'topic':<22}{'read by':<24}{'records':>8}  outcome")
    for topic in per_topic:
        print(f"{topic:<22}{READER[topic]:<24}{per_topic[topic]:>8}")
        for (t, outcome), n in sorted(rows.items()):
            if t == topic:
                print(f"{'':<46}{n:>8}  {outcome}")
    cases = Counter(r.case.split(":")[0] for r in records if not only or r.topic in only)
    print("cases:", dict(sorted(cases.items())))
    for r in records:
        if r.case.startswith("absurd") and (not only or r.topic in only):
            print(f"  {r.topic:<20} {r.case:<32} {r.outcome}")
    pending = [(r.topic, r.case, r.partition, r.offset) for r in records if r.outcome == "pending"]
    if pending:
        print("PENDING (no outcome found):", pending[:40])
