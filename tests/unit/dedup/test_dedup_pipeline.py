"""DedupPipeline gives what the two streamed steps give, including what one-step ``decide``
does not do (issue 10): languages apart, redeliveries, URLs of copies remembered."""

from __future__ import annotations

from streams.dedup.pipeline import DedupPipeline, text_article
from streams.identity import content_hash
from tests.unit.dedup.test_dedup_detector import UNRELATED, WIRE, reprint

A, B, C = "a" * 32, "b" * 32, "c" * 32


def test_new_revision_and_copies_in_stream_order() -> None:
    run = DedupPipeline(window_s=3600)
    assert run(text_article(WIRE, A, 0.0, language="en")).kind == "new"
    copy = run(text_article(reprint(), B, 1.0, language="en"))
    assert (copy.kind, copy.duplicate_of, copy.reason) == ("duplicate", A, "near_duplicate")
    assert 0.7 <= copy.similarity <= 1.0
    revised = run(text_article(WIRE + " " + UNRELATED, A, 2.0, language="en"))
    assert (revised.kind, revised.revision) == ("revision", 1)
    refetch = run(text_article(WIRE + " " + UNRELATED, A, 3.0, language="en"))
    assert (refetch.kind, refetch.duplicate_of, refetch.reason) == ("duplicate", A, "same_url")


def test_texts_of_different_languages_are_not_compared() -> None:
    # news.dedup.content is keyed by language: each language is matched on its own.
    run = DedupPipeline(window_s=3600)
    assert run(text_article(WIRE, A, 0.0, language="en")).kind == "new"
    assert run(text_article(WIRE, B, 1.0, language="de")).kind == "new"
    assert run(text_article(WIRE, C, 2.0, language="en")).duplicate_of == A


def test_a_redelivered_fetch_gets_its_first_decision_again() -> None:
    run = DedupPipeline(window_s=3600)
    first = text_article(WIRE, A, 0.0)
    assert [run(first).kind, run(first).kind] == ["new", "new"]  # not a copy of itself
    assert run(text_article(WIRE, A, 5.0)).reason == "same_url"  # a later fetch is a re-fetch


def test_the_url_of_a_copy_is_remembered_by_the_url_step() -> None:
    # The URL step remembers every URL it forwards, copies included: the copy's next fetch is
    # an unchanged re-fetch of that URL, as in the worker.
    run = DedupPipeline(window_s=3600)
    run(text_article(WIRE, A, 0.0))
    assert run(text_article(WIRE, B, 1.0)).duplicate_of == A
    again = run(text_article(WIRE, B, 2.0))
    assert (again.kind, again.duplicate_of, again.reason) == ("duplicate", B, "same_url")
    # Keys carry their partition's prefix, as in the worker's tables (state.PartitionView).
    assert set(run.url_by_id) == {f"0|{A}", f"0|{B}"}
    assert set(run.hash_by_hash) == {f"0|und|{content_hash(WIRE)}"}
