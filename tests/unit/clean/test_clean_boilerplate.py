from __future__ import annotations

from typing import Any

from streams.clean.boilerplate import MIN_PAGES, TemplateLines

PROMO = "Join our newsletter for the morning briefing"
HOUR = 3600.0


def page(i: int, *extra: str) -> str:
    return "\n".join([f"Story number {i} opens with its own words.", *extra, f"It ends {i}."])


def feed(rules: TemplateLines, source: str, texts: list[str], start: int = 0) -> list[str]:
    return [
        rules.learn_and_strip(source, f"id{start + i}", text, now=float(start + i))
        for i, text in enumerate(texts)
    ]


def test_line_on_every_page_is_stripped_once_it_has_recurred_enough() -> None:
    rules = TemplateLines({})
    out = feed(rules, "site", [page(i, PROMO) for i in range(MIN_PAGES + 2)])
    assert all(PROMO in text for text in out[: MIN_PAGES - 1])
    assert all(PROMO not in text for text in out[MIN_PAGES - 1 :])
    assert out[-1] == page(MIN_PAGES + 1).replace(f"{PROMO}\n", "")


def test_stock_phrase_on_a_few_pages_in_many_is_kept() -> None:
    rules = TemplateLines({})
    phrase = "Нагадаємо, що раніше про це повідомляли."
    texts = [page(i, phrase) if i % 10 == 0 else page(i) for i in range(100)]
    out = feed(rules, "site", texts)
    assert out[90] == texts[90]  # the 10th page with the phrase: 10 of 91 pages is no template


def test_template_line_added_later_is_learned_from_its_first_appearance() -> None:
    rules = TemplateLines({})
    feed(rules, "site", [page(i) for i in range(200)])
    out = feed(rules, "site", [page(i, PROMO) for i in range(200, 200 + MIN_PAGES)], start=200)
    assert PROMO not in out[-1]


def test_refetched_page_is_counted_once() -> None:
    rules = TemplateLines({})
    text = page(1, PROMO)
    for t in range(10):
        rules.learn_and_strip("site", "same-id", text, now=float(t))
    assert not rules.is_template("site", PROMO)


def test_sources_and_namespaces_are_separate() -> None:
    rules = TemplateLines({})
    feed(rules, "site-a", [page(i, PROMO) for i in range(10)])
    assert rules.is_template("site-a", PROMO)
    assert not rules.is_template("site-b", PROMO)
    assert not rules.is_template("site-a", PROMO, ns="1")


def test_page_that_is_all_template_is_left_alone() -> None:
    rules = TemplateLines({})
    feed(rules, "site", [f"{PROMO}\nFooter line" for _ in range(10)])
    assert rules.learn_and_strip("site", "x", f"{PROMO}\nFooter line", 11.0) == (
        f"{PROMO}\nFooter line"
    )


def test_expire_forgets_once_seen_lines_first_and_only_in_its_namespace() -> None:
    counts: dict[str, Any] = {}
    rules = TemplateLines(counts, window_s=48 * HOUR, probation_s=HOUR)
    feed(rules, "site", [page(i, PROMO) for i in range(10)])
    rules.learn_and_strip("other", "o1", page(99), 0.0, ns="1")
    before = len(counts)
    dropped = rules.expire(2 * HOUR)
    assert dropped > 0
    assert rules.is_template("site", PROMO)  # recurring lines live for the whole window
    assert any(k.startswith("1|") for k in counts)  # other partition's keys are not touched
    assert len(counts) == before - dropped
    rules.expire(100 * HOUR)
    assert not any(k.startswith("0|") for k in counts)


def test_maybe_expire_runs_at_most_once_per_interval() -> None:
    rules = TemplateLines({}, probation_s=1.0, expire_every_s=100.0)
    rules.learn_and_strip("site", "a", "only once", 0.0)
    assert rules.maybe_expire(0.0) == 0
    assert rules.maybe_expire(50.0) == 0  # too soon: the scan is O(entries)
    assert rules.maybe_expire(150.0) > 0
