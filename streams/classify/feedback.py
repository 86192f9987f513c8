"""The editors' feedback loop: corrections go to news.corrections (keyed by article id, so
compaction keeps an article's latest verdict) and are pulled into a JSON-lines file that the
next ``classify-train --corrections FILE`` learns from. Publishing and pulling are Kafka work:
``streams/kafka/corrections.py``."""

from __future__ import annotations

from pathlib import Path

from streams.records import ClassifiedArticle, Correction


def correction_for(article_json: bytes, topics: list[str], editor: str, note: str) -> Correction:
    """A correction carrying the article's text, so training needs no article store."""
    art = ClassifiedArticle.from_json(article_json)
    return Correction(
        article_id=art.article_id,
        topics=topics,
        previous_topics=art.topics,
        editor=editor,
        note=note,
        classifier_version=art.classifier_version,
        title=art.title,
        text=art.text,
        language=art.language,
    )


def latest(records: list[Correction]) -> list[Correction]:
    """One correction per article: the most recent verdict wins."""
    best: dict[str, Correction] = {}
    for rec in records:
        if rec.article_id not in best or rec.corrected_at >= best[rec.article_id].corrected_at:
            best[rec.article_id] = rec
    return list(best.values())


def write_jsonl(out: Path, records: list[Correction]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b"".join(r.to_json() + b"\n" for r in records))
