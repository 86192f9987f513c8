"""Step 4 of dedup, keyed by article id: gather an article's band verdicts and decide.

``news.dedup.gather`` carries these record types for one article id, all in its partition:
the ``PendingArticle`` (from the hash step), one ``BandVerdict`` per band (from the band
step, in any order), when the bands are late a ``GatherTimeout`` (from a worker's timer,
``due``), and the query and reply about a later-fetched match (below). Two tables hold what
arrived: ``dedup-gather-articles`` (the article and how many verdicts it waits for) and
``dedup-gather-bands`` (the bands answered and the best matches so far). Once every band has
answered, the article is emitted: a ``near_duplicate`` DuplicateEvent naming the best match
(highest copy score, then earliest ``(time, id)``: the same whichever band answered first), or
the article on ``news.unique``. A timeout decides with the verdicts that arrived; the missing
bands are counted (``newsstream_dedup_late_bands_total``).

A later-fetched match (README.md, "Arrival order"). An article without an earlier-fetched match
whose bands found a later-fetched article it is a copy of (one filed before it, so answered
without it) asks that article's partition what became of it (``OriginalQuery``) and waits. The
``OriginalReply`` comes once that article is decided: kept, or named another article, which is
asked in turn (at most ``MAX_HOPS``). The article names its match if the chain ends at a kept
article other than itself; otherwise it is kept. Decisions are final, so a chain that was
checked stays as it was: no two articles name each other, and no ring of names forms, whatever
order the bands saw them in.

Redelivery. The article's entry is replaced by a small marker of its decision only on an
event of the partition after the deciding record settled, i.e. its outputs were acked
(``settled``, ``_close``; agents read ahead of their acks). A crash before that leaves the
full entry in the changelog, and whatever part of the article's records comes again decides
the same.
After it, a redelivered ``PendingArticle`` gets the marker's decision again at once, and
redelivered verdicts or timeouts are ignored (outcome ``late``); the marker is kept for the
dedup window. A query about an article not decided yet is kept in its entry and answered with
its decision; a query after it is answered from the marker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.dedup.band_step import Match, best
from streams.dedup.detector import EXPIRE_EVERY_S, Decision
from streams.dedup.stage import duplicate_event, hash_key, unique
from streams.dedup.state import PartitionView
from streams.errors import MalformedRecord
from streams.metrics import DEDUP_LATE_BANDS
from streams.records import (
    Article,
    BandVerdict,
    GatherTimeout,
    OriginalQuery,
    OriginalReply,
    PendingArticle,
    SourceRef,
)
from streams.stage import Emit, StageResult
from streams.topology import DEDUP_GATHER, DEDUP_HASH

# A chain of copies is followed this far from the later-fetched match; longer, the asker is
# kept (a missed duplicate). Chains seen so far are one or two articles long.
MAX_HOPS = 8

GatherRecord = PendingArticle | BandVerdict | GatherTimeout | OriginalQuery | OriginalReply
KINDS: dict[str, type[GatherRecord]] = {
    "PendingArticle": PendingArticle,
    "BandVerdict": BandVerdict,
    "GatherTimeout": GatherTimeout,
    "OriginalQuery": OriginalQuery,
    "OriginalReply": OriginalReply,
}
# Entries (JSON dicts, see the module docstring):
# articles: {"a": Article JSON, "n": verdicts awaited, "w": wall time,
#            "q": [articles waiting for its decision] (when any),
#            "ask": [match id, score, match time, article asked, hops] (while asking)}
#           or, once decided, {"done": [duplicate_of or None, similarity], "w": wall time}
# bands:    {"got": [band numbers], "m": [score, time, id] or None, "w": wall time,
#            "l": [score, time, id] of the best later-fetched match (when any)}
Entry = dict[str, Any]


def parse(value: bytes) -> GatherRecord:
    try:
        kind = orjson.loads(value).get("kind")
    except (orjson.JSONDecodeError, AttributeError) as exc:
        raise MalformedRecord(f"gather record: not a JSON object: {exc}") from exc
    cls = KINDS.get(kind)
    if cls is None:
        raise MalformedRecord(f"gather record: unknown kind {kind!r}")
    return cls.from_json(value)


@dataclass
class DedupGatherStage:
    articles: MutableMapping[str, Entry]
    bands: MutableMapping[str, Entry]
    window_s: float
    timeout_s: float
    clock: Callable[[], float] = time.time
    name: str = "dedup_gather"
    # partition -> article id -> (offset of the deciding record, decision marker)
    _closing: dict[int, dict[str, tuple[int, Entry]]] = field(default_factory=dict)
    _settled: dict[int, int] = field(default_factory=dict)  # partition -> last settled offset
    _last_expiry: dict[int, float] = field(default_factory=dict)
    _asked: dict[str, float] = field(default_factory=dict)

    def __call__(self, key: bytes | None, value: bytes, origin: SourceRef) -> StageResult:
        record = parse(value)
        p = origin.partition
        articles, bands = PartitionView(self.articles, p), PartitionView(self.bands, p)
        self._close(p, articles, bands)
        self._maybe_expire(p, articles, bands)
        if isinstance(record, OriginalQuery):
            return self._query(p, articles, record)
        aid = record.article.article_id if isinstance(record, PendingArticle) else record.article_id
        entry: Entry | None = self._marker(p, aid) or articles.get(aid)
        if entry is not None and "done" in entry:
            if isinstance(record, PendingArticle):  # the decision again, its output may be lost
                return self._emit(origin, aid, record.article, entry["done"], again=True)
            return StageResult("late")
        if isinstance(record, PendingArticle):
            if entry is None:
                entry = {
                    "a": record.article.to_json().decode(),
                    "n": record.bands,
                    "w": self.clock(),
                }
                articles[aid] = entry
        elif isinstance(record, BandVerdict):
            self._add_verdict(bands, record)
        elif isinstance(record, OriginalReply):
            return self._reply(origin, articles, aid, entry, record)
        else:
            self._asked.pop(aid, None)
            if entry is None:  # verdicts of an article decided and forgotten, or never sent
                bands.pop(aid, None)
                return StageResult("orphan")
        return self._decide(origin, articles, aid, entry, bands, isinstance(record, GatherTimeout))

    def _decide(
        self,
        origin: SourceRef,
        articles: MutableMapping[str, Entry],
        aid: str,
        entry: Entry | None,
        bands: MutableMapping[str, Entry],
        timeout: bool,
    ) -> StageResult:
        """Decide once every band answered (or on a timeout), or ask about a later match."""
        if entry is None:
            return StageResult("waiting")
        got: Entry = bands.get(aid) or {"got": [], "m": None}
        missing = entry["n"] - len(got["got"])
        if missing > 0 and not timeout:
            return StageResult("waiting")
        if missing > 0:
            DEDUP_LATE_BANDS.inc(missing)
        match: Match | None = tuple(got["m"]) if got["m"] else None
        if match is None and got.get("l") and not timeout:
            return self._ask(articles, aid, entry, got["l"])
        done = [match[2], match[0]] if match else [None, 0.0]
        article = Article.from_json(entry["a"])
        result = self._emit(origin, aid, article, done, waiters=entry.get("q", []))
        return StageResult(
            f"{result.outcome}_late" if missing > 0 else result.outcome, result.emits
        )

    def _ask(
        self, articles: MutableMapping[str, Entry], aid: str, entry: Entry, later: list[Any]
    ) -> StageResult:
        """Ask what became of the later-fetched match (again, when the records that led here
        come again: the query may not have left)."""
        ask = entry.get("ask") or [later[2], later[0], later[1], later[2], 0]
        if "ask" not in entry:
            articles[aid] = entry | {"ask": ask}
        query = OriginalQuery(article_id=ask[3], asker=aid)
        return StageResult("asked", [Emit.record(DEDUP_GATHER, ask[3], query)])

    def _reply(
        self,
        origin: SourceRef,
        articles: MutableMapping[str, Entry],
        aid: str,
        entry: Entry | None,
        reply: OriginalReply,
    ) -> StageResult:
        """Name the later match if its chain ended at a kept article other than this one, ask
        the next article of the chain, or keep this one."""
        if entry is None or "ask" not in entry or entry["ask"][3] != reply.about:
            return StageResult("late")  # repeated, or about an article asked before
        match_id, score, when, _, hops = entry["ask"]
        nxt = reply.original
        if reply.decided and nxt is not None and nxt != aid and hops + 1 < MAX_HOPS:
            articles[aid] = entry | {"ask": [match_id, score, when, nxt, hops + 1]}
            query = OriginalQuery(article_id=nxt, asker=aid)
            return StageResult("asked", [Emit.record(DEDUP_GATHER, nxt, query)])
        done = [match_id, score] if reply.decided and nxt is None else [None, 0.0]
        article = Article.from_json(entry["a"])
        return self._emit(origin, aid, article, done, waiters=entry.get("q", []))

    def _query(
        self, p: int, articles: MutableMapping[str, Entry], query: OriginalQuery
    ) -> StageResult:
        """Answer what became of an article, or note the asker until it is decided. Not known
        here (a revision, forgotten, or its PendingArticle not in yet): the asker keeps itself."""
        target, asker = query.article_id, query.asker
        entry: Entry | None = self._marker(p, target) or articles.get(target)
        if entry is None:
            return StageResult("query_unknown", [_reply(asker, target, None, decided=False)])
        if "done" in entry:
            return StageResult("query_answered", [_reply(asker, target, entry["done"][0])])
        if asker not in entry.get("q", []):
            articles[target] = entry | {"q": [*entry.get("q", []), asker]}
        return StageResult("query_waiting")

    def _add_verdict(self, bands: MutableMapping[str, Entry], verdict: BandVerdict) -> None:
        got: Entry = bands.get(verdict.article_id) or {"got": [], "m": None, "w": self.clock()}
        if verdict.band in got["got"]:
            return  # a redelivered verdict
        candidates: list[Match] = [tuple(got["m"])] if got["m"] else []
        if verdict.match_id is not None and verdict.match_fetched_at is not None:
            when = verdict.match_fetched_at.timestamp()
            candidates.append((verdict.similarity, when, verdict.match_id))
        found = best(candidates)
        update: Entry = {"got": [*got["got"], verdict.band], "m": list(found) if found else None}
        if verdict.later_id is not None and verdict.later_fetched_at is not None:
            when = verdict.later_fetched_at.timestamp()
            later: list[Match] = [tuple(got["l"])] if got.get("l") else []
            update["l"] = best([*later, (verdict.later_similarity, when, verdict.later_id)])
        # Re-assigned, never mutated: the table writes a changelog record for the change.
        bands[verdict.article_id] = got | update

    def _emit(
        self,
        origin: SourceRef,
        aid: str,
        article: Article,
        done: list[Any],
        *,
        again: bool = False,
        waiters: Sequence[str] = (),
    ) -> StageResult:
        if not again:  # its marker is written once ``origin`` has settled (``_close``)
            marker = {"done": done, "w": self.clock()}
            self._closing.setdefault(origin.partition, {})[aid] = (origin.offset, marker)
        replies = [_reply(asker, aid, done[0]) for asker in waiters]
        if done[0] is None:
            return StageResult("new", [unique(article), *replies])
        d = Decision("duplicate", 0, done[0], "near_duplicate", done[1])
        event = duplicate_event(article, d)
        # Also to the hash step: exact copies of this text are to name its original, too.
        fate = Emit(DEDUP_HASH, hash_key(article).encode(), event.value)
        return StageResult("duplicate", [event, fate, *replies])

    def _close(
        self,
        partition: int,
        articles: MutableMapping[str, Entry],
        bands: MutableMapping[str, Entry],
    ) -> None:
        """Replace the entries of articles decided by this partition's earlier events by their
        decision markers, once the deciding record has settled (its outputs acked; agents read
        ahead of their acks). A table write needs an event of the partition, hence here."""
        closing = self._closing.get(partition)
        settled = self._settled.get(partition, -1)
        if not closing:
            return
        for aid, (offset, marker) in list(closing.items()):
            if offset <= settled:
                articles[aid] = marker
                bands.pop(aid, None)
                del closing[aid]

    def _marker(self, partition: int, aid: str) -> Entry | None:
        """The decision of an article decided here whose marker is not in the table yet."""
        closing = self._closing.get(partition, {}).get(aid)
        return closing[1] if closing else None

    def settled(self, origin: SourceRef) -> None:
        """The record at ``origin`` and every earlier one of its partition have their outputs
        acked (called by the stage shell)."""
        if origin.offset > self._settled.get(origin.partition, -1):
            self._settled[origin.partition] = origin.offset

    def _maybe_expire(
        self,
        partition: int,
        articles: MutableMapping[str, Entry],
        bands: MutableMapping[str, Entry],
    ) -> None:
        """Forget this partition's entries older than the window (by the wall clock: verdicts
        carry no fetch time), once per ``EXPIRE_EVERY_S``."""
        now = self.clock()
        last = self._last_expiry.get(partition)
        if last is not None and now - last < EXPIRE_EVERY_S:
            return
        self._last_expiry[partition] = now
        for table in (articles, bands):
            for k in [k for k, v in table.items() if now - v.get("w", now) > self.window_s]:
                del table[k]

    def forget_partitions(self) -> None:
        """Partitions moved (a rebalance): what this process meant to close or ask about
        belongs to whoever owns them now, who finds the full entries and decides them again."""
        self._closing.clear()
        self._settled.clear()
        self._asked.clear()

    def due(self) -> list[Emit]:
        """Timeouts to send for articles (and stray verdicts) waiting longer than
        ``timeout_s``, over every partition this process holds; call it from a timer. A record
        on the topic, not a decision here: it is handled in the article's partition, after
        every verdict already written there."""
        now = self.clock()
        waiting: dict[str, float] = {}
        closing = {f"{p}|{aid}" for p, ids in self._closing.items() for aid in ids}
        for table in (self.articles, self.bands):
            for key, entry in list(table.items()):
                if "done" in entry or key in closing:
                    continue
                if table is self.bands and key in self.articles:
                    continue  # its article entry stands for it
                waiting.setdefault(key.split("|", 1)[1], entry.get("w", now))
        emits = []
        for aid, since in waiting.items():
            if now - since > self.timeout_s and now - self._asked.get(aid, -1e18) > self.timeout_s:
                self._asked[aid] = now
                emits.append(Emit.record(DEDUP_GATHER, aid, GatherTimeout(article_id=aid)))
        return emits


def _reply(asker: str, about: str, original: str | None, *, decided: bool = True) -> Emit:
    reply = OriginalReply(article_id=asker, about=about, decided=decided, original=original)
    return Emit.record(DEDUP_GATHER, asker, reply)
