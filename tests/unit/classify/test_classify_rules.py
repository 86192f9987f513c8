"""Term rules: stems match inflected forms, whole-word terms, look-alike letters, the lead."""

from __future__ import annotations

from streams.classify.rules import TermRules
from streams.classify.taxonomy import Taxonomy, Topic
from streams.classify.text import fold


def _rules(**terms: tuple[str, ...]) -> TermRules:
    topic = Topic(name="war", iptc=("medtop:16000000",), terms=dict(terms))
    return TermRules(Taxonomy(version="t", topics={"war": topic}))


def test_a_stem_matches_every_inflected_form() -> None:
    rules = _rules(uk=("війсь",))
    for form in ("війська", "військ", "військами", "Військовий"):
        assert rules.score("", f"Тут {form} біля кордону.", "uk").scores["war"] > 0, form
    assert rules.score("", "Вийшов на вулицю.", "uk").scores["war"] == 0


def test_dollar_means_whole_word_and_phrases_allow_inflection() -> None:
    rules = _rules(uk=("нато$", "збройн сил"))
    assert rules.score("", "Натовп зібрався.", "uk").scores["war"] == 0
    found = rules.score("", "НАТО і Збройними Силами", "uk").evidence["war"]
    assert any("нато" in e for e in found)
    assert any("збройн сил" in e for e in found)


def test_latin_lookalikes_inside_cyrillic_words_are_folded() -> None:
    assert fold("Підписуйтеcь") == "підписуйтесь"  # the sample page's Latin c
    rules = _rules(ru=("войск",))
    assert rules.score("", "вoйска", "ru").scores["war"] > 0  # Latin o


def test_distinct_stems_count_more_than_repetition_and_lead_more_than_tail() -> None:
    rules = _rules(en=("troops", "missile", "shelling"))
    repeated = rules.score("", "troops " * 6, "en").scores["war"]
    distinct = rules.score("", "troops missile shelling", "en").scores["war"]
    assert distinct > repeated
    filler = "Nothing to see here. " * 80
    early = rules.score("", "troops missile. " + filler, "en").scores["war"]
    late = rules.score("", filler + "troops missile.", "en").scores["war"]
    assert early > late


def test_other_languages_get_no_rule_score() -> None:
    assert _rules(en=("troops",)).score("", "troops", "de").scores["war"] == 0
