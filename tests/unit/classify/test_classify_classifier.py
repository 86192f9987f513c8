"""The classifier's contract with the stage: scores for every topic, topics above threshold,
IPTC codes of those topics, evidence, version; unsupported languages say so."""

from __future__ import annotations

from streams.classify.classifier import Classifier


def test_result_fields_are_consistent(classifier: Classifier) -> None:
    r = classifier.classify(
        "Football: Dynamo win the championship",
        "The team beat Shakhtar 2-1 in the final match of the league; the coach praised "
        "the players after the tournament.",
        "en",
    )
    tax = classifier.taxonomy
    assert set(r.scores) == set(tax.topic_names())
    assert all(0.0 <= s <= 1.0 for s in r.scores.values())
    assert r.topics[0] == "sport"
    assert all(r.scores[t] >= tax.topics[t].threshold for t in r.topics)
    assert all(r.scores[t] < tax.topics[t].threshold for t in set(r.scores) - set(r.topics))
    assert r.iptc == tuple(tax.iptc_codes(list(r.topics)))
    assert any(e.startswith("term:") for e in r.evidence["sport"])
    assert any(e.startswith("model:") for e in r.evidence["sport"])
    assert r.classifier_version.startswith(f"taxonomy-{tax.version}+")


def test_russian_and_ukrainian_inflected_news(classifier: Classifier) -> None:
    ru = classifier.classify(
        "Полиция задержала подозреваемого в убийстве",
        "Следователи возбудили уголовное дело, задержанному грозит до 15 лет заключения.",
        "ru",
    )
    assert "crime" in ru.topics
    assert "society" in ru.scores
    uk = classifier.classify(
        "Обстріл енергосистеми",
        "Через ракетний обстріл частина міста залишилася без "
        "електропостачання, енергетики відновлюють лінії.",
        "uk",
    )
    assert uk.top == "war"
    uk = classifier.classify(
        "Поліція затримала підозрюваного у вбивстві",
        "Слідчі відкрили кримінальне провадження, затриманому загрожує до 15 років ув'язнення.",
        "uk",
    )
    assert uk.top == "crime"


def test_a_child_desk_is_listed_before_its_parent(classifier: Classifier) -> None:
    r = classifier.classify(
        "Ukraine and Poland sign a security treaty",
        "The foreign ministers met in Warsaw and signed a bilateral "
        "agreement; the ambassadors of both countries attended.",
        "en",
    )
    assert r.top == "diplomacy"
    if "politics" in r.topics:
        assert r.topics.index("diplomacy") < r.topics.index("politics")


def test_a_headline_without_text_still_has_a_top_desk(classifier: Classifier) -> None:
    r = classifier.classify("Землетрус магнітудою 6,1 сколихнув Туреччину", "", "uk")
    assert r.top == "emergencies"


def test_child_topic_lifts_its_parent(classifier: Classifier) -> None:
    r = classifier.classify(
        "Police arrest fraud suspect",
        "Police arrested a suspect in a fraud and corruption case; "
        "prosecutors say the court will hear it.",
        "en",
    )
    share = classifier.taxonomy.parent_share
    assert r.scores["society"] >= share * r.scores["crime"] - 1e-3


def test_unsupported_language_degrades_and_says_so(classifier: Classifier) -> None:
    r = classifier.classify("Fußball", "Die Mannschaft gewann das Spiel gegen Bayern.", "de")
    assert not r.language_supported
    assert "no term rules" in r.evidence["*"][0]
    assert set(r.scores) == set(classifier.taxonomy.topic_names())


def test_empty_text_is_classified_without_topics(classifier: Classifier) -> None:
    r = classifier.classify("", "", "en")
    assert r.topics == ()
    assert max(r.scores.values()) < 0.5


def test_language_is_detected_when_missing(classifier: Classifier) -> None:
    r = classifier.classify("", "Верховна Рада ухвалила закон про бюджет на наступний рік.")
    assert r.language == "uk"
