"""The detector on hand-written texts: reprints, write-ups, revisions, windows, bounds."""

from __future__ import annotations

import json

from streams.dedup.detector import Decision, Deduplicator
from streams.dedup.fingerprint import BANDS, Signature, fingerprint, signature
from streams.identity import content_hash

WIRE = (
    "The city council voted on Tuesday to close the old river bridge to heavy lorries from "
    "the first of March, after engineers found cracks in two of its supporting piers during a "
    "routine inspection last month. Light vehicles and buses will still be allowed to cross, "
    "but at no more than twenty miles per hour, and a temporary traffic light will be installed "
    "at the northern end. The council said repairs would cost about four million pounds and take "
    "at least eighteen months. Haulage firms warned that the detour through the industrial estate "
    "would add half an hour to many journeys and asked for the work to be done at night. The "
    "deputy mayor said the bridge was safe for smaller traffic and that residents would be "
    "consulted on the timetable before the contract is signed in the spring."
)
# Another outlet's account of the same vote: the same facts in its own words.
WRITE_UP = (
    "Lorries will be banned from the river bridge from March. Councillors agreed the restriction "
    "on Tuesday evening after an inspection in January revealed cracking in a pair of piers. "
    "Cars and buses can keep using the crossing with a 20mph limit, and traffic lights are to be "
    "put up on the north side. Fixing the structure is expected to take a year and a half and "
    "cost roughly four million pounds, according to the council. Road hauliers are unhappy: they "
    "say the diversion past the industrial estate adds thirty minutes and want night working. "
    "The deputy mayor insisted the crossing remains safe for lighter vehicles."
)
UNRELATED = (
    "The national orchestra opened its winter season with a programme of Sibelius and Dvorak, "
    "conducted by a guest from Helsinki who was making her debut with the ensemble. Critics "
    "praised the strings in the slow movement of the symphony and the soloist's encore, a short "
    "folk song arranged for violin alone. Tickets for the remaining concerts are on sale at the "
    "box office and online, with discounts for students and families on weekday evenings."
)


def reprint() -> str:
    """The wire text on another site: its own boilerplate, a changed word or two, a cut."""
    body = WIRE.replace("Tuesday", "Tuesday evening").replace("about four", "around four")
    body = body.replace(" and asked for the work to be done at night", "")
    return "By our reporter. " + body + " Subscribe to our channel for the latest local news."


def detector(window_s: float = 86400.0) -> Deduplicator:
    return Deduplicator({}, {}, {}, window_s=window_s)


def decide(d: Deduplicator, article_id: str, text: str, now: float) -> Decision:
    return d.decide(article_id, content_hash(text), signature(text), now)


def test_reprint_with_other_boilerplate_and_small_edits_is_a_near_duplicate() -> None:
    d = detector()
    assert decide(d, "a" * 32, WIRE, 0.0).kind == "new"
    got = decide(d, "b" * 32, reprint(), 60.0)
    assert (got.kind, got.reason, got.duplicate_of) == ("duplicate", "near_duplicate", "a" * 32)
    assert 0.7 <= got.similarity <= 1.0


def test_short_copy_inside_a_longer_page_is_a_near_duplicate() -> None:
    d = detector()
    decide(d, "a" * 32, WIRE + " " + UNRELATED, 0.0)
    got = decide(d, "b" * 32, WIRE, 60.0)
    assert (got.kind, got.reason) == ("duplicate", "near_duplicate")


def test_longer_page_after_a_short_copy_is_new_because_it_adds_text() -> None:
    d = detector()
    decide(d, "a" * 32, WIRE, 0.0)
    assert decide(d, "b" * 32, WIRE + " " + UNRELATED, 60.0).kind == "new"


def test_independent_write_up_of_the_same_event_is_new() -> None:
    d = detector()
    decide(d, "a" * 32, WIRE, 0.0)
    assert decide(d, "b" * 32, WRITE_UP, 60.0).kind == "new"


def test_unrelated_text_is_new() -> None:
    d = detector()
    decide(d, "a" * 32, WIRE, 0.0)
    assert decide(d, "b" * 32, UNRELATED, 60.0).kind == "new"


def test_same_text_elsewhere_is_same_content() -> None:
    d = detector()
    decide(d, "a" * 32, WIRE, 0.0)
    got = decide(d, "b" * 32, "  " + WIRE.upper(), 60.0)
    assert (got.kind, got.reason, got.duplicate_of) == ("duplicate", "same_content", "a" * 32)


def test_short_texts_differing_in_a_number_are_not_merged() -> None:
    d = detector()
    decide(d, "a" * 32, "See all photos for this article (18)", 0.0)
    assert decide(d, "b" * 32, "See all photos for this article (9)", 1.0).kind == "new"


def test_revision_of_the_same_url_and_unchanged_refetch() -> None:
    d = detector()
    assert decide(d, "a" * 32, WIRE, 0.0).kind == "new"
    same = decide(d, "a" * 32, WIRE, 10.0)
    assert (same.kind, same.reason, same.duplicate_of) == ("duplicate", "same_url", "a" * 32)
    edited = decide(d, "a" * 32, reprint(), 20.0)
    assert (edited.kind, edited.revision) == ("revision", 1)
    assert decide(d, "a" * 32, WIRE, 30.0).revision == 2
    # The revision's text is remembered: a later copy of it points at this URL.
    assert decide(d, "c" * 32, reprint(), 40.0).duplicate_of == "a" * 32


def test_window_expiry_forgets_old_articles() -> None:
    d = detector(window_s=100.0)
    decide(d, "a" * 32, WIRE, 0.0)
    assert decide(d, "b" * 32, reprint(), 101.0).kind == "new"
    assert decide(d, "c" * 32, WIRE, 150.0).kind == "duplicate"  # b is fresh and alike
    dropped = d.expire(now=1000.0)
    assert dropped > 0
    assert not d.by_id
    assert not d.by_hash
    assert not d.by_band


def test_buckets_are_bounded_newest_first_and_values_are_json_lists() -> None:
    by_band: dict[str, list[tuple[str, int]]] = {}
    # Containment thresholds above 1 turn near-duplicate matching off, so every variant is kept
    # and the variants (one text plus a unique tail) pile up in the same buckets.
    d = Deduplicator(
        {}, {}, by_band, window_s=1e9, min_containment=1.1, min_covered=1.1, max_per_band=4
    )
    for i in range(10):
        decide(d, f"{i:032x}", f"{UNRELATED} item number {i} of the series", float(i))
    assert by_band
    assert all(len(v) <= 4 for v in by_band.values())
    full = [v for v in by_band.values() if len(v) == 4]
    newest = [f"{i:032x}" for i in range(6, 10)]
    assert any([e[0] for e in v] == newest for v in full)  # oldest dropped first
    assert all([e[1] for e in v] == sorted(e[1] for e in v) for v in by_band.values())  # type: ignore[type-var]
    json.dumps([by_band, d.by_id, d.by_hash])  # what a faust table must be able to store


def test_fingerprint_round_trip_and_foreign_formats() -> None:
    fp = fingerprint(WIRE)
    sig = Signature.from_hex(fp)
    assert sig is not None
    assert sig.to_hex() == fp
    assert len(sig.band_keys()) == BANDS
    assert Signature.from_hex("") is None
    assert Signature.from_hex("0123456789abcdef") is None  # an old 64-bit SimHash
    assert Signature.from_hex("m1" + "zz" * (len(fp) // 2 - 1)) is None
    assert signature("").size == 0
    assert signature("two words").size == 0


def test_stage_emits_duplicate_event_for_a_reprint() -> None:
    from streams.dedup.pipeline import DedupPipeline
    from tests.conftest import make_article

    stage = DedupPipeline(window_s=3600)  # the stream's two stages
    first = stage(make_article(WIRE, article_id="a" * 32))
    copy = stage(make_article(reprint(), article_id="b" * 32))
    assert (first.kind, copy.kind) == ("new", "duplicate")


def test_copy_wrapped_in_a_little_chrome_is_a_duplicate_but_a_grown_report_is_new() -> None:
    d = detector()
    decide(d, "a" * 32, WIRE, 0.0)
    chrome = "Home | World | Politics | Sport\n" + WIRE + "\nRelated stories\nContact us | Privacy"
    wrapped = decide(d, "b" * 32, chrome, 1.0)
    assert (wrapped.kind, wrapped.reason) == ("duplicate", "near_duplicate")
    # The same text followed by as much new reporting again adds a story's worth of text.
    grown = decide(d, "c" * 32, WIRE + " " + UNRELATED + " " + WRITE_UP, 2.0)
    assert grown.kind == "new"


def test_copy_of_a_revised_urls_first_version_still_points_at_that_url() -> None:
    d = detector()
    decide(d, "a" * 32, WIRE, 0.0)
    revised = WIRE.replace("The deputy mayor", "Update: the contract was signed. The deputy mayor")
    revised = revised[: len(revised) // 2] + " " + UNRELATED
    assert decide(d, "a" * 32, revised, 1.0).kind == "revision"
    late_copy = decide(d, "b" * 32, reprint(), 2.0)
    assert (late_copy.kind, late_copy.duplicate_of) == ("duplicate", "a" * 32)
    json.dumps(d.by_id)  # the kept first version is plain JSON too
