"""The signature is computed once, by clean: the dedup steps read ``Article.fingerprint``,
pass that very string on and into their state, and compute one from the text only for a
record without one (cleaned before the MinHash format)."""

from __future__ import annotations

import pytest

from streams.dedup import stage
from streams.dedup.detector import Deduplicator
from streams.dedup.fingerprint import Signature, fingerprint, signature
from streams.dedup.pipeline import DedupPipeline
from streams.records import Article, SourceRef
from tests.conftest import make_article
from tests.unit.dedup.test_dedup_detector import WIRE, reprint

A, B = "a" * 32, "b" * 32


def forwarded_fingerprint(article: Article) -> str:
    """The fingerprint of what a fresh URL step forwards to the content step."""
    step = stage.DedupUrlStage(Deduplicator({}, {}, {}, window_s=3600))
    result = step(None, article.to_json(), SourceRef(topic="news.clean", partition=0, offset=0))
    return Article.from_json(result.emits[0].value).fingerprint


def test_steps_use_the_carried_fingerprint_and_never_the_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original, copy = make_article(WIRE, article_id=A), make_article(reprint(), article_id=B)

    def no_text_signature(text: str) -> Signature:
        raise AssertionError("the signature was computed from the text again")

    monkeypatch.setattr(stage, "signature", no_text_signature)
    run = DedupPipeline(window_s=3600)
    assert run(original).kind == "new"
    assert run(copy).duplicate_of == A
    assert forwarded_fingerprint(copy) == copy.fingerprint
    assert run.url_by_id[f"0|{A}"]["fp"] == original.fingerprint
    assert {s[2] for v in run.band_earliest.values() for s in v if s[1] == A} == {
        original.fingerprint
    }


def test_a_record_without_a_fingerprint_gets_one_from_its_text() -> None:
    old = make_article(WIRE, article_id=A, fingerprint="")
    simhash = make_article(reprint(), article_id=B, fingerprint="0123456789abcdef")
    assert forwarded_fingerprint(old) == fingerprint(WIRE)
    run = DedupPipeline(window_s=3600)
    assert run(old).kind == "new"
    assert {s[2] for v in run.band_earliest.values() for s in v if s[1] == A} == {fingerprint(WIRE)}
    assert run(simhash).duplicate_of == A


def test_a_parsed_signature_keeps_its_string_and_computes_band_keys_once() -> None:
    fp = fingerprint(WIRE)
    sig = Signature.from_hex(fp)
    assert sig is not None
    assert sig.to_hex() == fp
    assert sig.band_keys() is sig.band_keys()
    assert sig.band_keys() == signature(WIRE).band_keys()
    upper = Signature.from_hex(fp.upper().replace("M1", "m1"))
    assert upper is not None
    assert upper.to_hex() == fp  # written as encoding it again would write it
