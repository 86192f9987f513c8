"""The band index kept in memory and derived from ``by_id`` (the worker's ``by_band=None``)
decides exactly as the stored index, also after a restart or a rebalance rebuilds it."""

from __future__ import annotations

from typing import Any

from streams.dedup.detector import Decision, Deduplicator
from streams.dedup.fingerprint import Signature, signature, size_and_band_keys
from streams.identity import content_hash
from tests.unit.dedup.test_dedup_detector import UNRELATED, WIRE, WRITE_UP, reprint


def stream() -> list[tuple[str, str, float]]:
    """(article id, text, time): originals, reprints, a write-up, revisions, a redelivery."""
    items: list[tuple[str, str]] = [
        ("a" * 32, WIRE),
        ("b" * 32, UNRELATED),
        ("c" * 32, reprint()),  # near-duplicate of a
        ("d" * 32, WRITE_UP),  # new
        ("b" * 32, UNRELATED + " Updated with the full programme."),  # revision of b
        ("e" * 32, UNRELATED),  # copy of b's first version
        ("a" * 32, WIRE + " The vote was unanimous."),  # revision of a
        ("f" * 32, WIRE),  # same text as a's first version
    ]
    items += [(f"{i:032x}", f"{UNRELATED} item number {i} of the series") for i in range(12)]
    items += [(f"{i + 100:032x}", f"{WIRE} Part {i}.") for i in range(6)]
    return [(aid, text, 60.0 * n) for n, (aid, text) in enumerate(items)]


def decide(d: Deduplicator, aid: str, text: str, now: float) -> Decision:
    return d.decide(aid, content_hash(text), signature(text), now)


def test_derived_index_decides_as_the_stored_one_across_a_restart() -> None:
    stored = Deduplicator({}, {}, {}, window_s=1e9, max_per_band=4)
    by_id: dict[str, Any] = {}
    by_hash: dict[str, Any] = {}
    derived = Deduplicator(by_id, by_hash, None, window_s=1e9, max_per_band=4)
    records = stream()
    reasons = []
    for n, (aid, text, now) in enumerate(records):
        if n == len(records) // 2:  # a restart: only by_id and by_hash survive
            derived = Deduplicator(by_id, by_hash, None, window_s=1e9, max_per_band=4)
        got = decide(stored, aid, text, now)
        assert decide(derived, aid, text, now) == got, aid
        reasons.append((n >= len(records) // 2, got.kind, got.reason))
    # Not vacuous: near-duplicates are found both before and after the rebuild.
    assert (False, "duplicate", "near_duplicate") in reasons
    assert (True, "duplicate", "near_duplicate") in reasons
    assert "revision" in {kind for _, kind, _ in reasons}


def test_derived_index_holds_the_newest_per_band_like_the_stored_one() -> None:
    stored = Deduplicator({}, {}, {}, window_s=1e9, min_containment=1.1, min_covered=1.1,
                          max_per_band=4)  # fmt: skip
    for i in range(10):
        text = f"{UNRELATED} item number {i} of the series"
        decide(stored, f"{i:032x}", text, float(i))
    rebuilt = Deduplicator(stored.by_id, stored.by_hash, None, window_s=1e9, max_per_band=4)
    assert rebuilt.band_index() == dict(stored.by_band)


def test_partitions_rebuild_from_their_own_keys_after_forget() -> None:
    by_id: dict[str, Any] = {}
    by_hash: dict[str, Any] = {}
    d = Deduplicator(by_id, by_hash, None, window_s=1e9)
    p0, p1 = d.for_partition(0), d.for_partition(1)
    p0.remember("a" * 32, content_hash(WIRE), signature(WIRE), 0, 0.0)
    assert decide(p0, "c" * 32, reprint(), 60.0).kind == "duplicate"
    assert decide(p1, "c" * 32, reprint(), 60.0).kind == "new"  # other partition's state
    assert all(k.startswith(("0|", "1|")) for k in by_id)
    d.forget_partitions()  # a rebalance: the index comes back from partition 0's by_id
    again = d.for_partition(0)
    assert again is not p0
    got = decide(again, "g" * 32, reprint(), 120.0)
    assert (got.kind, got.duplicate_of) == ("duplicate", "a" * 32)


def test_band_keys_read_from_the_hex_match_the_signature() -> None:
    for text in (WIRE, WRITE_UP, UNRELATED, reprint(), "one two", ""):
        fp = signature(text).to_hex()
        sig = Signature.from_hex(fp)
        assert sig is not None
        assert size_and_band_keys(fp) == (sig.size, sig.band_keys())
        assert size_and_band_keys(fp.upper().replace("M1", "m1")) == (sig.size, sig.band_keys())
    for broken in ("", "m1", "m1" + "zz" * 259, "s1" + "00" * 258):
        assert size_and_band_keys(broken) is None
