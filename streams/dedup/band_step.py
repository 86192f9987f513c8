"""Step 3 of dedup, keyed by ``language|band key``: the LSH band agent.

Every article that shares one band of its MinHash signature with another meets it here, in
one partition, whatever the volume of its language. The table ``dedup-band-earliest`` keeps
per band key the earliest ``keep`` articles of the window, in ``(fetch time, article id)``
order, each with its fingerprint. A probe is answered with the best copy among the stored
articles that come *before* it in that order (``matching.copy_score``, ties to the earliest),
or none, and the probe's article is filed under the key if it is among the earliest.

Why the order and not arrival: whichever worker sees which band first, and however often a
record is redelivered, an article can only be called a copy of an article fetched before it
(ties broken by id). Two copies can never name each other, and an original redelivered after a
longer text containing it was kept is not turned into its copy.

Arrival still matters once: a later-fetched article that reached the band first was answered
without this one. When this article takes the slot from such an article and is a copy of it,
the verdict names that one too (``later``); the gather step asks what became of it before
naming it (README.md, "Arrival order").

Why the fingerprint is stored: the verdict needs the candidate's full signature, and the
probe carries the new one, so the score is computed here and the verdict stays small. The
alternative, a band keeping only ``(t, id)`` and the gather step fetching the candidate's
signature from the candidate's own partition, costs a second round trip (README.md).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from streams.dedup.detector import EXPIRE_EVERY_S
from streams.dedup.fingerprint import Signature
from streams.dedup.matching import MIN_CONTAINMENT, MIN_COVERED, copy_score, stored_signature
from streams.dedup.state import BandSlot, PartitionView
from streams.errors import MalformedRecord
from streams.records import BandProbe, BandVerdict, SourceRef
from streams.stage import Emit, StageResult
from streams.topology import DEDUP_GATHER

# Articles kept per band key. One is the standard design (the earliest); more would let a copy
# reach its original through a band whose first holder is an unrelated article sharing a
# boilerplate shingle. Measured in README.md ("Sharded by band").
BAND_KEEP = 1

Match = tuple[float, float, str]  # (copy score, fetch time, article id)


def earlier(a: tuple[float, str], b: tuple[float, str]) -> bool:
    """The tie-break: earlier fetch time, then the smaller article id."""
    return a < b


def best(matches: list[Match]) -> Match | None:
    """The highest score; among equal scores, the earliest article (time, then id)."""
    return min(matches, key=lambda m: (-m[0], m[1], m[2]), default=None)


@dataclass
class DedupBandStage:
    table: MutableMapping[str, list[BandSlot]]
    window_s: float
    keep: int = BAND_KEEP
    min_containment: float = MIN_CONTAINMENT
    min_covered: float = MIN_COVERED
    name: str = "dedup_band"
    _last_expiry: dict[int, float] = field(default_factory=dict)

    def __call__(self, key: bytes | None, value: bytes, origin: SourceRef) -> StageResult:
        probe = BandProbe.from_json(value)
        sig = Signature.from_hex(probe.fingerprint)
        if key is None or sig is None:
            raise MalformedRecord("BandProbe: no key or no readable fingerprint")
        now = probe.fetched_at.timestamp()
        me = (now, probe.article_id)
        view = PartitionView(self.table, origin.partition)
        self._maybe_expire(view, origin.partition, now)
        band_key = key.decode()
        stored: list[BandSlot] = view.get(band_key) or []
        slots = [s for s in stored if now - s[0] <= self.window_s and (s[0], s[1]) != me]
        # Not its own earlier version (a revision of the same URL is filed, never matched).
        others = [s for s in slots if s[1] != probe.article_id]
        found = self.match(sig, [s for s in others if earlier((s[0], s[1]), me)])
        # Filed before this one although fetched after it: answered without it (with BAND_KEEP
        # 1 only when this article takes the slot from it). Scored with this text as the copy.
        later = self.match(sig, [s for s in others if earlier(me, (s[0], s[1]))])
        kept = sorted([*slots, [now, probe.article_id, probe.fingerprint]])[: self.keep]
        if kept != stored:
            # Re-assigned, never mutated, so the table writes a changelog record. A redelivered
            # probe finds itself in place and writes nothing.
            view[band_key] = kept
        if not probe.answer:
            return StageResult("filed")
        verdict = BandVerdict(
            article_id=probe.article_id,
            band=probe.band,
            **_named(found, "match_id", "match_fetched_at", "similarity"),
            **_named(later, "later_id", "later_fetched_at", "later_similarity"),
        )
        outcome = "match" if found is not None else "later" if later is not None else "none"
        return StageResult(outcome, [Emit.record(DEDUP_GATHER, probe.article_id, verdict)])

    def match(self, sig: Signature, slots: list[BandSlot]) -> Match | None:
        """The best of ``slots`` this text is a copy of (``best``), or None."""
        matches: list[Match] = []
        for t, other, fp in slots:
            old = stored_signature(fp)
            score = None if old is None else self._score(sig, old)
            if score is not None:
                matches.append((score, t, other))
        return best(matches)

    def _score(self, sig: Signature, old: Signature) -> float | None:
        return copy_score(
            sig, old, min_containment=self.min_containment, min_covered=self.min_covered
        )

    def _maybe_expire(self, view: PartitionView[list[BandSlot]], partition: int, now: float) -> int:
        """Drop keys whose slots are all older than the window, once per ``EXPIRE_EVERY_S`` of
        event time and only this partition's keys (``state.PartitionView``)."""
        last = self._last_expiry.get(partition)
        if last is not None and now - last < EXPIRE_EVERY_S:
            return 0
        self._last_expiry[partition] = now
        old = [k for k, v in view.items() if all(now - s[0] > self.window_s for s in v)]
        for k in old:
            del view[k]
        return len(old)


def _named(match: Match | None, id_field: str, at_field: str, score_field: str) -> dict[str, Any]:
    """A verdict's fields naming ``match`` (similarity, fetch time, id), or none."""
    if match is None:
        return {}
    return {id_field: match[2], at_field: _datetime(match[1]), score_field: round(match[0], 4)}


def _datetime(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)
