"""The taxonomy file: every desk topic, valid IPTC codes, the hierarchy, operator extensions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streams.classify.classifier import Classifier
from streams.classify.taxonomy import load_taxonomy, parse_taxonomy
from streams.errors import ConfigError

DESKS = {
    "diplomacy",
    "politics",
    "war",
    "crime",
    "infrastructure",
    "economy",
    "emergencies",
    "humanitarian",
    "health",
    "culture",
    "sport",
    "technology",
    "society",
}


def test_shipped_taxonomy_has_every_desk_with_iptc_codes_and_terms() -> None:
    tax = load_taxonomy()
    assert set(tax.topic_names()) == DESKS
    for topic in tax.topics.values():
        assert topic.iptc
        assert all(re.fullmatch(r"medtop:\d{8}", c) for c in topic.iptc)
        assert {"uk", "ru", "en"} <= set(topic.terms), topic.name
    assert set(tax.children("society")) == {"crime", "emergencies", "humanitarian"}
    assert tax.topics["diplomacy"].parent == "politics"
    assert tax.iptc_codes(["war", "crime"]) == ["medtop:16000000", "medtop:02000000"]


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "body",
    [
        "version: 1\ntopics:\n  a: {iptc: [x]}\n",
        "version: 1\ntopics:\n  a: {iptc: ['medtop:1'], threshold: 2}\n",
        "version: 1\ntopics:\n  a: {iptc: ['medtop:1'], terms: [x]}\n",
        "version: 1\ntopics:\n  a: {iptc: ['medtop:1'], parent: b}\n",
        "version: 1\ntopics:\n  Bad Name: {iptc: ['medtop:1']}\n",
    ],
)
def test_bad_taxonomy_is_a_config_error(tmp_path: Path, body: str) -> None:
    with pytest.raises(ConfigError):
        parse_taxonomy(_write(tmp_path, body))


def test_operator_adds_a_topic_without_code_changes(tmp_path: Path, classifier: Classifier) -> None:
    shipped = Path(__file__).resolve().parents[3] / "streams/classify/taxonomy.yaml"
    extra = (
        "  weather:\n    iptc: ['medtop:17000000']\n"
        "    terms: {en: [weather, forecast, rainfall, temperature]}\n"
    )
    tax = parse_taxonomy(_write(tmp_path, shipped.read_text(encoding="utf-8") + extra))
    c = Classifier(tax, classifier.model)
    result = c.classify(
        "Weather forecast",
        "Heavy rainfall and a drop in temperature are "
        "expected; the weather service issued a forecast.",
        "en",
    )
    assert "weather" in result.topics
    assert "medtop:17000000" in result.iptc
    assert result.evidence["weather"]
