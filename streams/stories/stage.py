"""The story stage on ``news.stories.assign`` (one partition): StoryRequest -> the classified
article with its ``story_id`` on news.articles (+ desks, review) and the story's summary on
``news.stories``.

Why one partition (docs/stories.md, "Part 2"): ``assign`` costs about a millisecond, so one
owner keeps up with every classify worker together, and one window over all articles needs
no merge step for two reports of one event that arrive close together on different key
partitions. The expensive part, the story vector (two encoder inputs), is computed before,
in the classify stage, which scales with ``news.unique``'s partitions.

State survives a restart or a move to another worker in two tables with changelogs:
``members`` (article id -> the assigner's entry for it, with its answer and arrival number)
and ``summaries`` (story id -> its latest StorySummary). The assigner is rebuilt from
``members`` in arrival order on the first record after partitions move (``forget``). A
redelivered article (same id, still in the window) gets its first answer and the summary as
it stands: outputs repeat, nothing is counted twice.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from streams.classify.encoder import ENCODER_NAME
from streams.classify.stage import route
from streams.errors import MalformedRecord, StageError
from streams.metrics import (
    STORIES_ASSIGNED,
    STORIES_UPDATED,
    STORY_ARTICLES,
    STORY_ASSIGN_SECONDS,
    STORY_STATE,
)
from streams.records import ClassifiedArticle, SourceRef, StoryRequest, StorySummary
from streams.stage import Emit, StageResult
from streams.stories.assigner import Assignment, StoryArticle, StoryAssigner
from streams.stories.state import Limits, Member
from streams.stories.translation import outlet
from streams.topology import STORIES

VECTOR_DIMS = 384  # multilingual-e5-small
MAX_OUTLETS = 200  # a summary names at most this many outlets (StorySummary.outlets)
Table = MutableMapping[str, Any]


class EncoderMismatch(StageError):
    """A story vector from another encoder: its cosines mean nothing next to this window's."""

    reason = "encoder_mismatch"


def encode_vector(vector: Any) -> str:
    """A story vector as little-endian float16, base64 (StoryRequest.vector)."""
    return base64.b64encode(np.asarray(vector, dtype="<f2").tobytes()).decode("ascii")


def decode_vector(text: str) -> np.ndarray[Any, np.dtype[np.float16]]:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedRecord(f"StoryRequest: vector: not base64 ({exc})") from exc
    if len(raw) != 2 * VECTOR_DIMS:
        raise MalformedRecord(f"StoryRequest: vector: {len(raw)} bytes, not {2 * VECTOR_DIMS}")
    vector = np.frombuffer(raw, dtype="<f2").astype(np.float16)
    if not np.all(np.isfinite(vector)):
        raise MalformedRecord("StoryRequest: vector: not finite")
    return vector


def article_time(a: ClassifiedArticle) -> float:
    return (a.published or a.fetched_at).timestamp()


def outlet_of(a: ClassifiedArticle) -> str:
    """The outlet as the assigner names it (host without www. or a language subdomain)."""
    return outlet(a.url) or a.source_id


def story_article(a: ClassifiedArticle, vector: Any) -> StoryArticle:
    return StoryArticle(
        article_id=a.article_id, url=a.url, title=a.title, text=a.text, language=a.language,
        time=article_time(a), vector=vector, desks=frozenset(a.topics),
        alternates=dict(a.alternates), source=a.source_id,
    )  # fmt: skip


def _entry(member: Member, answer: Assignment, seq: int) -> dict[str, Any]:
    """What the members table keeps of an article: its state entry and its answer."""
    return {
        "seq": seq,
        "story": answer.story_id,
        "new": answer.new_story,
        "tr": answer.translation_of,
        "matched": answer.matched,
        "score": answer.score,
        "outlet": member.outlet,
        "lang": member.language,
        "url": member.url,
        "t": member.time,
        "v": encode_vector(member.vector),
        "names": sorted(member.names),
        "numbers": sorted(member.numbers),
        "desks": sorted(member.desks),
        "keys": list(member.keys),
        "tkeys": list(member.translation_keys),
    }


def _from_entry(aid: str, e: dict[str, Any]) -> tuple[Member, Assignment]:
    member = Member(
        article_id=aid, story_id=e["story"], outlet=e["outlet"], language=e["lang"],
        url=e["url"], time=float(e["t"]), vector=decode_vector(e["v"]),
        names=frozenset(e["names"]), numbers=frozenset(e["numbers"]),
        desks=frozenset(e["desks"]), keys=tuple(e["keys"]), translation_keys=tuple(e["tkeys"]),
        translation_of=e["tr"],
    )  # fmt: skip
    answer = Assignment(aid, e["story"], bool(e["new"]), translation_of=e["tr"],
                        matched=e["matched"], score=e["score"])  # fmt: skip
    return member, answer


def _when(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def summarise(
    previous: StorySummary | None, article: ClassifiedArticle, story_id: str, outlet: str
) -> StorySummary:
    """The story's summary once ``article`` joined it (the first article stands for it)."""
    t = _when(article_time(article))
    langs = {article.language} if article.language else set()
    outlets = {outlet} if outlet else set()
    if previous is None:
        return StorySummary(
            story_id=story_id, revision=1, headline=article.title,
            representative=article.article_id, first_seen=t, last_seen=t, article_count=1,
            languages=sorted(langs), outlets=sorted(outlets), desks=sorted(article.topics),
        )  # fmt: skip
    return previous.model_copy(
        update={
            "revision": previous.revision + 1,
            "first_seen": min(previous.first_seen, t),
            "last_seen": max(previous.last_seen, t),
            "article_count": previous.article_count + 1,
            "languages": sorted(langs | set(previous.languages)),
            "outlets": sorted(outlets | set(previous.outlets))[:MAX_OUTLETS],
            "desks": sorted(set(article.topics) | set(previous.desks)),
            "updated_at": datetime.now(UTC),
        }
    )


@dataclass
class StoryStage:
    members: Table  # article id -> _entry(...)
    summaries: Table  # story id -> StorySummary as JSON-ready dict
    desks: frozenset[str]
    review_below: float
    limits: Limits = field(default_factory=Limits)
    encoder: str = ENCODER_NAME
    clock: Callable[[], float] = time.perf_counter
    name: str = "stories"
    _assigner: StoryAssigner | None = None
    _filed: list[tuple[float, int, str]] = field(default_factory=list)  # heap (time, seq, id)
    _seq: int = 0

    def forget(self) -> None:
        """Partitions moved: rebuild the assigner from the tables on the next record. Until
        then this worker may not own the partition (its tables may be a standby copy): the
        gauges say nothing and ``biggest`` is empty."""
        self._assigner = None
        STORY_STATE.clear()

    def assigner(self) -> StoryAssigner:
        if self._assigner is None:
            self._assigner = StoryAssigner(limits=self.limits)
            self._filed, self._seq = [], 0
            entries = sorted(self.members.items(), key=lambda kv: int(kv[1]["seq"]))
            for aid, entry in entries:
                member, answer = _from_entry(aid, entry)
                self._assigner.commit(member, answer)
                heapq.heappush(self._filed, (member.time, int(entry["seq"]), aid))
                self._seq = max(self._seq, int(entry["seq"]))
            self._expire(self._assigner)
        return self._assigner

    def __call__(self, key: bytes | None, value: bytes, origin: SourceRef) -> StageResult:
        request = StoryRequest.from_json(value)
        if request.encoder != self.encoder:
            raise EncoderMismatch(f"vector by {request.encoder!r}, this window: {self.encoder!r}")
        vector = decode_vector(request.vector)
        article = request.article
        started = self.clock()
        assigner = self.assigner()
        redelivered = article.article_id in assigner.state.members
        answer = assigner.assign(story_article(article, vector))
        if redelivered:
            outcome = "redelivered"
            summary = self._summary(answer.story_id)
        elif article.article_id not in assigner.state.members:
            # Older than the window (before the newest article seen, e.g. a backfill after
            # live pages): answered, never filed; its story is kept only if it is open.
            outcome = "late"
            summary = self._late(assigner, article, answer)
        else:
            outcome = self._file(assigner, answer)
            summary = self._update(assigner, article, answer)
            self._expire(assigner)
        STORY_ASSIGN_SECONDS.observe(self.clock() - started)
        STORIES_ASSIGNED.labels(outcome).inc()
        self._gauges(assigner)
        update = {"story_id": answer.story_id, "translation_of": answer.translation_of}
        emits = route(article.model_copy(update=update), self.desks, self.review_below)
        if summary is not None:
            emits.append(Emit.record(STORIES, summary.story_id, summary))
        return StageResult(outcome, emits)

    def _file(self, assigner: StoryAssigner, answer: Assignment) -> str:
        member = assigner.state.members[answer.article_id]
        self._seq += 1
        self.members[answer.article_id] = _entry(member, answer, self._seq)
        heapq.heappush(self._filed, (member.time, self._seq, answer.article_id))
        if answer.translation_of is not None:
            return "translation"
        return "new" if answer.new_story else "linked"

    def _late(
        self, assigner: StoryAssigner, article: ClassifiedArticle, answer: Assignment
    ) -> StorySummary:
        if answer.story_id in assigner.state.stories:
            return self._update(assigner, article, answer)
        return summarise(None, article, answer.story_id, outlet_of(article))

    def _summary(self, story_id: str) -> StorySummary | None:
        raw = self.summaries.get(story_id)
        return None if raw is None else StorySummary.model_validate(raw)

    def _update(
        self, assigner: StoryAssigner, article: ClassifiedArticle, answer: Assignment
    ) -> StorySummary:
        outlet = outlet_of(article)
        summary = summarise(self._summary(answer.story_id), article, answer.story_id, outlet)
        self.summaries[answer.story_id] = summary.model_dump(mode="json")
        if summary.revision > 1:
            STORIES_UPDATED.inc()
        return summary

    def _expire(self, assigner: StoryAssigner) -> None:
        """Delete from the tables what the assigner let go (the oldest first, as it does)."""
        members = assigner.state.members
        while self._filed:
            _, seq, aid = self._filed[0]
            entry = self.members.get(aid)
            if entry is not None and int(entry["seq"]) != seq:
                heapq.heappop(self._filed)  # filed again later (a revision after expiry)
                continue
            if aid in members:
                break
            heapq.heappop(self._filed)
            if entry is None:
                continue
            del self.members[aid]
            story = entry["story"]
            if story not in assigner.state.stories and story in self.summaries:
                closed = self._summary(story)
                del self.summaries[story]
                if closed is not None:
                    STORY_ARTICLES.observe(closed.article_count)

    def _gauges(self, assigner: StoryAssigner) -> None:
        STORY_STATE.labels("articles").set(len(assigner.state.members))
        STORY_STATE.labels("stories").set(len(assigner.state.stories))
        STORY_STATE.labels("keys").set(len(assigner.state.index))

    def biggest(self, hours: float, n: int = 10) -> list[StorySummary]:
        """The ``n`` stories with the most articles among those seen in the last ``hours``
        (before the newest article time), biggest first, then the earliest; empty until this
        worker has handled a record since partitions last moved."""
        assigner = self._assigner
        if assigner is None or not assigner.state.members:
            return []
        since = _when(assigner.state.watermark - hours * 3600.0)
        found = [StorySummary.model_validate(raw) for raw in self.summaries.values()]
        recent = [s for s in found if s.last_seen >= since]
        recent.sort(key=lambda s: (-s.article_count, s.first_seen, s.story_id))
        return recent[:n]
