"""The corrections loop: a Correction carries the article, the latest verdict wins, and the
trainer reads the pulled file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from streams.classify import data
from streams.classify.feedback import correction_for, latest, write_jsonl
from streams.classify.train import load_training
from streams.records import ClassifiedArticle, Correction
from streams.topology import CORRECTIONS, build_topology
from tests.conftest import make_article


def _classified() -> ClassifiedArticle:
    art = make_article("The court sentenced the mayor for bribery.")
    return ClassifiedArticle(
        **art.model_dump(exclude={"kind"}), topics=["politics"], classifier_version="v1"
    )


def test_correction_keeps_text_and_previous_topics() -> None:
    c = correction_for(_classified().to_json(), ["crime"], "editor-1", "a court case")
    assert c.topics == ["crime"]
    assert c.previous_topics == ["politics"]
    assert c.text.startswith("The court")
    assert c.classifier_version == "v1"
    assert Correction.from_json(c.to_json()) == c


def test_latest_verdict_per_article_wins() -> None:
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    old = Correction(article_id="ab" * 16, topics=["politics"], editor="a", corrected_at=t0)
    new = old.model_copy(update={"topics": ["crime"], "corrected_at": t0 + timedelta(hours=1)})
    other = old.model_copy(update={"article_id": "cd" * 16})
    kept = {c.article_id: c.topics for c in latest([new, old, other])}
    assert kept == {"ab" * 16: ["crime"], "cd" * 16: ["politics"]}


def test_corrections_topic_is_in_the_topology(settings) -> None:
    spec = build_topology(settings, ["crime"])[CORRECTIONS]
    assert spec.value == "Correction"
    assert spec.compact


def test_pulled_file_becomes_training_examples(tmp_path: Path) -> None:
    c = correction_for(_classified().to_json(), ["crime"], "ed", "")
    empty = c.model_copy(update={"text": ""})  # nothing to learn from: skipped
    path = tmp_path / "corrections.jsonl"
    write_jsonl(path, [c, empty])
    [ex] = list(data.load_corrections(path))
    # what the editor gave is a positive, what the classifier had given and the editor took
    # away is a negative, every other desk stays unknown
    assert ex.labels == {"crime": 1, "politics": 0}
    assert ex.source == "corrections"
    assert not ex.held_out


@pytest.mark.data
def test_trainer_includes_corrections(tmp_path: Path, shared_data: Path) -> None:
    path = tmp_path / "corrections.jsonl"
    write_jsonl(path, [correction_for(_classified().to_json(), ["crime"], "ed", "")])
    base = load_training(None)
    with_fix = load_training(path)
    assert len(with_fix) == len(base) + 1
    assert with_fix[-1].positives == ("crime",)
